//! The listener's side of SYN cookies (RFC 4987 §3.6; the encoding is in
//! tcp/syncookie.rs): whether a SYN gets a half-open connection, a cookie or nothing,
//! the cookie SYN-ACK, and the ACK that returns a cookie and becomes a connection in
//! the accept queue. Behaves as Linux's `tcp_conn_request` and `cookie_v4_check` do.

use super::*;
use crate::tcp::syncookie::{self, SynCookies};

/// What a listener does with a SYN.
pub(super) enum Admission {
    /// Keep a half-open connection (the ordinary path).
    Queue,
    /// Answer with a cookie and keep nothing.
    Cookie,
    /// Drop it (counted); the peer retransmits.
    Drop,
}

/// How long after its last cookie a listener still takes cookie ACKs (Linux
/// `TCP_SYNCOOKIE_VALID`: the lifetime of the last cookie it sent).
const COOKIE_VALID: Duration =
    Duration::from_secs(syncookie::MAX_AGE as u64 * syncookie::PERIOD_SECS);

impl Stack {
    /// What listener `l` does with a SYN (Linux `tcp_conn_request`). The SYN queue is
    /// full when `syn_backlog` half-open connections wait or half-open and unaccepted
    /// ones fill the backlog; then, or always with [`SynCookies::Always`], a cookie
    /// is sent if cookies are on. A full accept queue drops the SYN either way: a
    /// cookie could only make a connection that has nowhere to go.
    pub(super) fn admit_syn(&mut self, l: u32) -> Admission {
        let lst = self.listeners[l as usize].as_ref().expect("listener");
        let pending = lst.syn_received + lst.accept_queue.len();
        let syn_full = lst.syn_received >= self.cfg.syn_backlog || pending >= lst.backlog;
        let accept_full = lst.accept_queue.len() >= lst.backlog;
        let cookie = match self.cfg.syncookies {
            SynCookies::Off => false,
            SynCookies::WhenFull => syn_full,
            SynCookies::Always => true,
        };
        if accept_full || (syn_full && !cookie) {
            self.stats.listen_overflows += 1;
            Admission::Drop
        } else if cookie {
            Admission::Cookie
        } else {
            Admission::Queue
        }
    }

    /// The socket options of listener `l`'s connections.
    fn listener_options(&self, l: u32) -> SocketOptions {
        let mut opts = SocketOptions::from_config(&self.cfg);
        opts.max_segment = self.listeners[l as usize]
            .as_ref()
            .and_then(|x| x.max_segment);
        opts
    }

    /// Answer a SYN to listener `l` with a cookie SYN-ACK (RFC 4987 §3.6), keeping
    /// nothing but the time, which opens the listener to cookie ACKs for the cookie's
    /// lifetime (Linux `tcp_synq_overflow`). Data and Fast Open options in the SYN are
    /// ignored (the peer sends the data again), as in Linux.
    pub(super) fn send_syn_cookie(
        &mut self,
        now: Instant,
        l: u32,
        local: SocketAddr,
        remote: SocketAddr,
        syn: &TcpRepr,
    ) {
        let opts = self.listener_options(l);
        let ipv6 = local.is_ipv6();
        // Linux: the peer's MSS (RFC 9293 §3.7.1 default without the option), clamped
        // by TCP_MAXSEG, rounded down to the table.
        let peer_mss = syn.options.mss.unwrap_or(syncookie::mss_table(ipv6)[0]);
        let peer_mss = peer_mss.min(opts.max_segment.unwrap_or(u16::MAX));
        let idx = syncookie::mss_index(ipv6, peer_mss);
        let cookie = self
            .cookies
            .encode(local, remote, syn.seq, syncookie::cookie_time(now), idx);
        let mut env = Env {
            cfg: &self.cfg,
            now,
            trace: None,
            challenge_budget: &mut self.challenge_budget,
            mem: self.mem.view(),
            egress_blocked: self.egress_blocked,
        };
        let repr = Connection::cookie_synack(&mut env, opts, local, remote, syn, cookie);
        if let Some(lst) = self.listeners[l as usize].as_mut() {
            lst.cookie_at = Some(now);
        }
        self.stats.syncookies_sent += 1;
        // Sent with the RSTs, from the same bounded queue.
        if self.rsts.len() < 1024 {
            self.rsts.push_back((local, remote, repr));
        }
    }

    /// An ACK reached listener `l`: if it returns a valid cookie (Linux
    /// `cookie_v4_check`), make the connection it stands for and give it the ACK, which
    /// makes it ESTABLISHED and queues it for `accept`. Returns false when the ACK is
    /// no cookie (the caller resets it, RFC 9293 §3.10.7.2); true when it was taken,
    /// or dropped because the accept queue or the stack is full (no RST: the peer
    /// retransmits, as Linux has it).
    pub(super) fn handle_cookie_ack(
        &mut self,
        now: Instant,
        l: u32,
        local: SocketAddr,
        remote: SocketAddr,
        p: &TcpPacket<'_>,
    ) -> bool {
        let seg = &p.tcp;
        if self.cfg.syncookies == SynCookies::Off || seg.flags.syn() || seg.flags.rst() {
            return false;
        }
        let Some(lst) = self.listeners[l as usize].as_ref() else {
            return false;
        };
        // Linux `tcp_synq_no_recent_overflow`: no cookie sent lately, no cookie ACK.
        if lst
            .cookie_at
            .is_none_or(|t| now.saturating_duration_since(t) > COOKIE_VALID)
        {
            return false;
        }
        let table = syncookie::mss_table(local.is_ipv6());
        let cookie = seg.ack.wrapping_sub(1);
        let checked = self.cookies.check(
            cookie,
            local,
            remote,
            seg.seq.wrapping_sub(1),
            syncookie::cookie_time(now),
        );
        let Some(mss) = checked.and_then(|i| table.get(i as usize).copied()) else {
            self.stats.syncookies_rejected += 1;
            return false;
        };
        // Linux `cookie_timestamp_decode`: options switched off since are refused.
        if let Some((_, tsecr)) = seg.options.timestamp {
            let o = syncookie::decode_ts(tsecr);
            if !self.cfg.timestamps
                || (o.sack && !self.cfg.sack)
                || (o.wscale.is_some() && !self.cfg.window_scaling)
            {
                self.stats.syncookies_rejected += 1;
                return false;
            }
        }
        if lst.accept_queue.len() >= lst.backlog {
            self.stats.listen_overflows += 1;
            return true;
        }
        if self.connection_count() >= self.cfg.max_connections {
            self.stats.connection_limit_drops += 1;
            return true;
        }
        let opts = self.listener_options(l);
        let mut conn = {
            let mut env = Env {
                cfg: &self.cfg,
                now,
                trace: self.trace.as_mut(),
                challenge_budget: &mut self.challenge_budget,
                mem: self.mem.view(),
                egress_blocked: self.egress_blocked,
            };
            Connection::from_cookie(&mut env, opts, local, remote, seg, mss)
        };
        conn.listener = Some(l);
        let idx = self.insert(conn, false);
        if let Some(lst) = self.listeners[l as usize].as_mut() {
            lst.syn_received += 1;
        }
        self.stats.syncookies_accepted += 1;
        let outcome = self.with_conn(idx, now, |c, env| {
            let o = c.handle_segment(env, seg, p.payload);
            // The ACK always completes the handshake (it acknowledges exactly ISS + 1
            // at RCV.NXT); should it not, a half-open connection with no SYN-ACK to
            // retransmit would have no deadline: drop it.
            if c.state == State::SynReceived {
                c.set_state(State::Closed, env);
            }
            o
        });
        if let Some(Outcome::Reset { seq }) = outcome {
            self.queue_rst(local, remote, seq, None);
        }
        true
    }
}
