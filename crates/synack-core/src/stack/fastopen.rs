//! The stack's side of TCP Fast Open (RFC 7413; the rules are in tcp/fastopen.rs):
//! the server keys and each listener's Fast Open switch and queue, the client's cookie
//! cache, `connect` with data, and the hooks that carry a connection's Fast Open news
//! (a cookie learned, a Fast Open connection leaving SYN-RECEIVED) to them.

use super::{ConnHandle, ListenerHandle, Stack};
use crate::error::ConnectError;
use crate::tcp::fastopen::{
    self, syn_data_room, CacheEntry, FastOpenConn, FastOpenKey, ListenerFastOpen, ServerKeys,
};
use crate::tcp::{wake, SocketOptions};
use crate::time::Instant;
use core::net::{IpAddr, SocketAddr};
use synack_wire::{FastOpenOption, TcpPacket};

impl Stack {
    /// The server keys a stack starts with: [`Config::fastopen_key`], else one derived
    /// from the stack secret.
    ///
    /// [`Config::fastopen_key`]: crate::Config::fastopen_key
    pub(super) fn initial_fastopen_keys(
        cfg_key: Option<FastOpenKey>,
        secret: &[u8; 16],
    ) -> ServerKeys {
        let primary = cfg_key.unwrap_or_else(|| {
            // A key of its own, so cookies reveal nothing of the ISN key.
            let a = fastopen::cookie_for(
                secret,
                IpAddr::from([0, 0, 0, 1]),
                IpAddr::from([0, 0, 0, 2]),
            );
            let b = fastopen::cookie_for(
                secret,
                IpAddr::from([0, 0, 0, 3]),
                IpAddr::from([0, 0, 0, 4]),
            );
            let mut k = [0u8; 16];
            k[..8].copy_from_slice(&a);
            k[8..].copy_from_slice(&b);
            k
        });
        ServerKeys {
            primary,
            backup: None,
        }
    }

    /// The Fast Open state a new listener starts with: on, with its backlog as the
    /// queue limit, when `tcp_fastopen` has both the server bit and
    /// [`fastopen::SERVER_WO_SOCKOPT`] (Linux `inet_listen`); otherwise off until
    /// [`set_listener_fastopen`](Stack::set_listener_fastopen).
    pub(super) fn listener_fastopen_at_listen(&self, backlog: usize) -> ListenerFastOpen {
        let want = fastopen::SERVER_ENABLE | fastopen::SERVER_WO_SOCKOPT;
        ListenerFastOpen {
            max_qlen: if self.cfg.fastopen & want == want {
                backlog
            } else {
                0
            },
            ..ListenerFastOpen::default()
        }
    }

    /// Set Linux's `net.ipv4.tcp_fastopen` bits for the whole stack (see
    /// [`Config::fastopen`](crate::Config::fastopen)).
    pub fn set_fastopen(&mut self, flags: u32) {
        self.cfg.fastopen = flags;
    }

    /// Replace the stack's Fast Open server key (Linux `net.ipv4.tcp_fastopen_key`).
    /// Cookies made with `backup` stay valid; pass the old primary there to rotate the
    /// key without failing the cookies clients hold (RFC 7413 §4.1.2: a server should
    /// change its key now and then, which expires old cookies).
    pub fn set_fastopen_key(&mut self, primary: FastOpenKey, backup: Option<FastOpenKey>) {
        self.tfo_keys = ServerKeys { primary, backup };
    }

    /// Rotate the stack's Fast Open key: `new` becomes the primary and the current
    /// primary the backup, so cookies made with the key before the current one expire.
    pub fn rotate_fastopen_key(&mut self, new: FastOpenKey) {
        self.tfo_keys = ServerKeys {
            primary: new,
            backup: Some(self.tfo_keys.primary),
        };
    }

    /// Enable Fast Open on a listener (Linux `TCP_FASTOPEN`): at most `qlen` Fast Open
    /// connections in SYN-RECEIVED at once; 0 turns it off. Only with the server bit
    /// of [`Config::fastopen`](crate::Config::fastopen).
    pub fn set_listener_fastopen(&mut self, listener: ListenerHandle, qlen: usize) {
        if let Some(Some(l)) = self.listeners.get_mut(listener.0 as usize) {
            l.tfo.max_qlen = qlen;
        }
    }

    /// Give a listener its own Fast Open key (Linux `TCP_FASTOPEN_KEY`).
    pub fn set_listener_fastopen_key(&mut self, listener: ListenerHandle, key: FastOpenKey) {
        if let Some(Some(l)) = self.listeners.get_mut(listener.0 as usize) {
            l.tfo.keys = Some(ServerKeys {
                primary: key,
                backup: None,
            });
        }
    }

    /// What the client cache holds for `server` (RFC 7413 §4.1.3).
    pub fn fastopen_cache(&self, server: IpAddr) -> CacheEntry {
        self.tfo_cache.get(server)
    }

    /// Forget every cached cookie (Linux `ip tcp_metrics flush`).
    pub fn clear_fastopen_cache(&mut self) {
        self.tfo_cache.clear();
    }

    /// Whether a Fast Open connect to `server` would carry data in its SYN: the
    /// client is enabled and holds a cookie for it, or sends data without one
    /// ([`fastopen::CLIENT_NO_COOKIE`]). Linux defers the SYN of a
    /// `TCP_FASTOPEN_CONNECT` socket to its first write exactly then.
    pub fn fastopen_would_send_data(&self, server: IpAddr) -> bool {
        let f = self.cfg.fastopen;
        f & fastopen::CLIENT_ENABLE != 0
            && (f & fastopen::CLIENT_NO_COOKIE != 0 || self.tfo_cache.get(server).cookie.is_some())
    }

    /// True when all the data of the connection's SYN was acknowledged by the SYN-ACK
    /// (client), or its SYN's data was accepted (server): Linux's `TCPI_OPT_SYN_DATA`.
    pub fn fastopen_syn_data_acked(&self, h: ConnHandle) -> bool {
        let Some(idx) = self.check(h) else {
            return false;
        };
        self.slots[idx as usize]
            .conn
            .as_ref()
            .and_then(|c| c.tfo())
            .is_some_and(|t| t.syn_data_acked)
    }

    /// True while `h` is a passive Fast Open connection in SYN-RECEIVED: accepted
    /// before its handshake completed, it may already send (Linux lets such a socket
    /// write at once).
    pub fn is_passive_fastopen(&self, h: ConnHandle) -> bool {
        let Some(idx) = self.check(h) else {
            return false;
        };
        self.slots[idx as usize]
            .conn
            .as_ref()
            .is_some_and(|c| c.state == crate::state::State::SynReceived && c.fastopen_passive())
    }

    /// Open a connection with TCP Fast Open (RFC 7413 §4.2.1; Linux `sendto` with
    /// `MSG_FASTOPEN`, or the first write of a `TCP_FASTOPEN_CONNECT` socket). With a
    /// cached cookie the SYN carries the first bytes of `data` (at most one segment of
    /// the server's MSS less 40 bytes) and the cookie; without one it carries a cookie
    /// request and no data. `queue_rest`: take the rest of `data` into the send buffer
    /// too, to go once the handshake completes (a blocking `sendto`); otherwise only
    /// what the SYN carries is taken. Returns the handle and the bytes taken. When the
    /// client side is disabled ([`fastopen::CLIENT_ENABLE`]) this is a plain `connect`
    /// that takes no data unless `queue_rest`.
    pub fn connect_fastopen(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        local: Option<SocketAddr>,
        data: &[u8],
        queue_rest: bool,
    ) -> Result<(ConnHandle, usize), ConnectError> {
        self.connect_fastopen_with(now, remote, local, None, data, queue_rest)
    }

    /// [`connect_fastopen`](Stack::connect_fastopen) with the connection's options
    /// given up front (socket options set before the connect): `TCP_MAXSEG` bounds
    /// the data the SYN carries, as in Linux.
    pub fn connect_fastopen_with(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        local: Option<SocketAddr>,
        opts: Option<SocketOptions>,
        data: &[u8],
        queue_rest: bool,
    ) -> Result<(ConnHandle, usize), ConnectError> {
        let h = self.connect_deferred(now, remote, local, opts)?;
        let idx = h.idx;
        let flags = self.cfg.fastopen;
        let entry = self.tfo_cache.get(remote.ip());
        let mut syn_data = 0;
        if flags & fastopen::CLIENT_ENABLE != 0 {
            let mut t = FastOpenConn {
                active: true,
                ..FastOpenConn::default()
            };
            let no_cookie = flags & fastopen::CLIENT_NO_COOKIE != 0;
            let c = self.slots[idx as usize]
                .conn
                .as_mut()
                .expect("new connection");
            if entry.cookie.is_some() || no_cookie {
                let room = syn_data_room(entry.mss, c.mss, c.opts.max_segment);
                syn_data = room.min(data.len());
                t.option = if no_cookie { None } else { entry.cookie };
            } else {
                // RFC 7413 §4.1.3: ask for a cookie; after a request went unanswered,
                // ask with the other option format (Linux `try_exp`).
                t.option = Some(FastOpenOption::request(entry.try_exp == 1));
            }
            t.syn_data = syn_data as u32;
            *c.tfo_or_insert() = t;
        }
        let want = if queue_rest { data.len() } else { syn_data };
        let mut taken = 0;
        if want > 0 {
            let c = self.slots[idx as usize]
                .conn
                .as_mut()
                .expect("new connection");
            taken = c.write(&data[..want]);
            if let Some(t) = c.tfo_mut() {
                t.syn_data = t.syn_data.min(taken as u32);
            }
        }
        self.with_conn(idx, now, |c, env| c.active_open(env));
        Ok((h, taken))
    }

    /// A SYN reached listener `l` and made connection `idx` (RFC 7413 §4.2.2, Linux
    /// `tcp_try_fastopen`): with a good cookie its data is taken and the connection
    /// queued for `accept` now; a cookie request or a bad cookie gets a cookie in the
    /// SYN-ACK.
    pub(super) fn fastopen_passive_syn(
        &mut self,
        now: Instant,
        idx: u32,
        l: u32,
        p: &TcpPacket<'_>,
    ) {
        let Some(lst) = self.listeners[l as usize].as_ref() else {
            return;
        };
        let d = fastopen::server_decide(
            self.cfg.fastopen,
            &lst.tfo,
            &self.tfo_keys,
            &p.tcp,
            !p.payload.is_empty(),
            p.ip.src,
            p.ip.dst,
        );
        if !d.accept && d.synack_option.is_none() {
            return;
        }
        if d.accept {
            if let Some(lst) = self.listeners[l as usize].as_mut() {
                lst.tfo.qlen += 1;
            }
        }
        let payload = p.payload;
        self.with_conn(idx, now, |c, env| {
            c.tfo_or_insert().option = d.synack_option;
            if d.accept {
                c.fastopen_accept(env, l, payload);
            }
        });
    }

    /// A connection raised [`wake::FASTOPEN`]: hand a client's SYN-ACK lessons to the
    /// cache, or take a passive Fast Open connection off its listener's queue.
    pub(super) fn fastopen_after_call(&mut self, idx: u32) {
        let Some(c) = self.slots[idx as usize].conn.as_mut() else {
            return;
        };
        c.wake &= !wake::FASTOPEN;
        let server = c.remote.ip();
        let in_syn_received = c.state == crate::state::State::SynReceived;
        let Some(t) = c.tfo_mut() else {
            return;
        };
        if let Some(learned) = t.learned.take() {
            self.tfo_cache.learn(server, &learned);
        }
        if !in_syn_received {
            if let Some(l) = t.passive.take() {
                if let Some(Some(lst)) = self.listeners.get_mut(l as usize) {
                    lst.tfo.qlen = lst.tfo.qlen.saturating_sub(1);
                }
            }
        }
    }
}
