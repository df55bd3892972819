//! TCP Fast Open (RFC 7413): the cookie (server side), the client's cookie cache, and
//! what one connection remembers of Fast Open during its handshake.
//!
//! Server (RFC 7413 §4.1.2, §4.2.2): a cookie is SipHash-2-4 of the client's and the
//! server's IP addresses under a 16-byte key, 8 bytes, exactly as Linux computes it
//! (`__tcp_fastopen_cookie_gen_cipher`), so a Linux client's cached cookie and the
//! cookies of scripts written against Linux match. A primary and an optional backup
//! key: a cookie made with the backup key is still accepted (and the SYN-ACK hands out
//! a fresh one), so rotating the key expires old cookies after one period. A SYN whose
//! cookie checks out (or any SYN with data, when cookies are not required) creates a
//! connection whose SYN data is delivered at once and acknowledged by the SYN-ACK;
//! a cookie request, or an invalid cookie, gets a SYN-ACK with a valid cookie and the
//! data is not acknowledged (the client sends it again after the handshake).
//!
//! Client (RFC 7413 §4.1.3, §4.2.1): a cache of cookies and MSS per server address.
//! With a cookie the SYN carries data (as much as fits one segment of the cached MSS
//! less 40 bytes of option room, as Linux does); without one it carries a cookie
//! request. A SYN-ACK that acknowledges only part of the data makes the rest go again
//! at once, retransmitted SYNs carry neither data nor the option (§4.1.3: SYN-data
//! may be dropped by middleboxes), and a request answered without a cookie makes the
//! next request use the experimental option (and back again), as Linux does.
//!
//! The switches are Linux's `net.ipv4.tcp_fastopen` bits ([`Config::fastopen`]).
//!
//! [`Config::fastopen`]: crate::Config::fastopen

use super::{wake, Connection, Env};
use crate::hash::{HashMap, TupleHashBuilder};
use crate::seq::Seq;
use crate::state::State;
use alloc::vec::Vec;
use core::hash::Hasher;
use core::net::IpAddr;
use siphasher::sip::SipHasher24;
use synack_wire::{FastOpenOption, TcpRepr};

/// `tcp_fastopen` bit: the client side may use Fast Open (Linux `TFO_CLIENT_ENABLE`).
pub const CLIENT_ENABLE: u32 = 0x1;
/// `tcp_fastopen` bit: the server side may accept Fast Open (`TFO_SERVER_ENABLE`).
pub const SERVER_ENABLE: u32 = 0x2;
/// `tcp_fastopen` bit: the client sends data in the SYN without a cookie
/// (`TFO_CLIENT_NO_COOKIE`).
pub const CLIENT_NO_COOKIE: u32 = 0x4;
/// `tcp_fastopen` bit: the server accepts SYN data without a cookie
/// (`TFO_SERVER_COOKIE_NOT_REQD`).
pub const SERVER_COOKIE_NOT_REQD: u32 = 0x200;
/// `tcp_fastopen` bit: every listener accepts Fast Open without the `TCP_FASTOPEN`
/// socket option, with its backlog as the queue limit (`TFO_SERVER_WO_SOCKOPT1`).
pub const SERVER_WO_SOCKOPT: u32 = 0x400;

/// Length of the cookies this stack makes (Linux `TCP_FASTOPEN_COOKIE_SIZE`).
pub const COOKIE_LEN: usize = 8;

/// Option room Linux keeps free in a SYN carrying data (`MAX_TCP_OPTION_SPACE`): the
/// SYN's payload is one MSS less this.
const SYN_OPTION_ROOM: u16 = 40;

/// Cached servers kept at most (the oldest entry goes first).
const CACHE_MAX: usize = 4096;

/// A server key: 16 bytes, the SipHash key of the cookie.
pub type FastOpenKey = [u8; 16];

/// The cookie (RFC 7413 §4.1.2) for a client at `client` talking to `server`: SipHash-2-4
/// of the two addresses (4 or 16 bytes each, client first) under `key`, as 8 bytes in
/// little-endian order (Linux `__tcp_fastopen_cookie_gen_cipher`).
pub fn cookie_for(key: &FastOpenKey, client: IpAddr, server: IpAddr) -> [u8; COOKIE_LEN] {
    let mut h = SipHasher24::new_with_key(key);
    match (client, server) {
        (IpAddr::V4(c), IpAddr::V4(s)) => {
            h.write(&c.octets());
            h.write(&s.octets());
        }
        _ => {
            h.write(&v6_octets(client));
            h.write(&v6_octets(server));
        }
    }
    h.finish().to_le_bytes()
}

fn v6_octets(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// A key given as Linux's `net.ipv4.tcp_fastopen_key` writes it: four 32-bit hex words
/// `a0bf63f7-ed803d81-cd641d30-cebc4a90`, each stored little-endian (so the socket
/// option `TCP_FASTOPEN_KEY` takes the same key as bytes `f7 63 bf a0 ...`). A second
/// key may follow after a comma (the backup). `None` if it does not parse.
pub fn parse_key(text: &str) -> Option<(FastOpenKey, Option<FastOpenKey>)> {
    let one = |t: &str| -> Option<FastOpenKey> {
        let words: Vec<&str> = t.trim().split('-').collect();
        if words.len() != 4 {
            return None;
        }
        let mut key = [0u8; 16];
        for (i, w) in words.iter().enumerate() {
            let v = u32::from_str_radix(w, 16).ok()?;
            key[i * 4..i * 4 + 4].copy_from_slice(&v.to_le_bytes());
        }
        Some(key)
    };
    let mut parts = text.split(',');
    let primary = one(parts.next()?)?;
    let backup = match parts.next() {
        Some(b) => Some(one(b)?),
        None => None,
    };
    Some((primary, backup))
}

/// A server's keys: cookies made with either are valid; new ones use the primary.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct ServerKeys {
    pub(crate) primary: FastOpenKey,
    pub(crate) backup: Option<FastOpenKey>,
}

impl core::fmt::Debug for ServerKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Secrets (RFC 7413 §4.1.2): kept out of logs.
        f.debug_struct("ServerKeys").finish_non_exhaustive()
    }
}

/// What a server makes of the cookie in a SYN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CookieCheck {
    /// Made with the primary key.
    Valid,
    /// Made with the backup key: valid, and the SYN-ACK carries a fresh one.
    ValidOld,
    /// Not ours (wrong length, other key, other addresses).
    Invalid,
}

impl ServerKeys {
    /// The cookie a client at `client` gets from `server`.
    pub(crate) fn cookie(&self, client: IpAddr, server: IpAddr) -> [u8; COOKIE_LEN] {
        cookie_for(&self.primary, client, server)
    }

    /// RFC 7413 §4.1.2: check a cookie against the addresses of the SYN.
    pub(crate) fn check(&self, cookie: &[u8], client: IpAddr, server: IpAddr) -> CookieCheck {
        if cookie.len() != COOKIE_LEN {
            return CookieCheck::Invalid;
        }
        if cookie == cookie_for(&self.primary, client, server) {
            return CookieCheck::Valid;
        }
        match self.backup {
            Some(k) if cookie == cookie_for(&k, client, server) => CookieCheck::ValidOld,
            _ => CookieCheck::Invalid,
        }
    }
}

/// A listener's Fast Open state (Linux `fastopenq`).
#[derive(Debug, Clone, Default)]
pub(crate) struct ListenerFastOpen {
    /// Most Fast Open connections in SYN-RECEIVED at once (0: Fast Open off).
    pub(crate) max_qlen: usize,
    /// Fast Open connections now in SYN-RECEIVED.
    pub(crate) qlen: usize,
    /// Keys of this listener (`TCP_FASTOPEN_KEY`); the stack's otherwise.
    pub(crate) keys: Option<ServerKeys>,
}

/// What the stack decided for a SYN that reached a listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ServerDecision {
    /// Take the SYN's data: the connection is created at once (RFC 7413 §4.2.2).
    pub(crate) accept: bool,
    /// The Fast Open option of the SYN-ACK (a fresh cookie), if any.
    pub(crate) synack_option: Option<FastOpenOption>,
}

/// Linux `tcp_try_fastopen`: what to do with a SYN to a listener whose state is `l`,
/// given the stack's `flags` and `keys`.
pub(crate) fn server_decide(
    flags: u32,
    l: &ListenerFastOpen,
    keys: &ServerKeys,
    syn: &TcpRepr,
    syn_data: bool,
    client: IpAddr,
    server: IpAddr,
) -> ServerDecision {
    let none = ServerDecision {
        accept: false,
        synack_option: None,
    };
    let fo = syn.options.fast_open;
    if flags & SERVER_ENABLE == 0 || !(syn_data || fo.is_some()) || l.max_qlen == 0 {
        return none;
    }
    if l.qlen >= l.max_qlen {
        // RFC 7413 §5.1: a bounded number of pending Fast Open connections; beyond
        // it the SYN is an ordinary one.
        return none;
    }
    let keys = l.keys.as_ref().unwrap_or(keys);
    if flags & SERVER_COOKIE_NOT_REQD != 0 {
        return ServerDecision {
            accept: true,
            synack_option: None,
        };
    }
    let Some(fo) = fo else {
        return none;
    };
    let fresh = FastOpenOption::with_cookie(&keys.cookie(client, server), fo.exp);
    if fo.is_request() {
        return ServerDecision {
            accept: false,
            synack_option: fresh,
        };
    }
    match keys.check(fo.cookie(), client, server) {
        CookieCheck::Valid => ServerDecision {
            accept: true,
            synack_option: None,
        },
        CookieCheck::ValidOld => ServerDecision {
            accept: true,
            synack_option: fresh,
        },
        CookieCheck::Invalid => ServerDecision {
            accept: false,
            synack_option: fresh,
        },
    }
}

/// What a client knows of one server (Linux keeps it in `tcp_metrics`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheEntry {
    /// The server's cookie.
    pub cookie: Option<FastOpenOption>,
    /// The MSS of its last SYN-ACK (0: unknown).
    pub mss: u16,
    /// Ask for a cookie with the experimental option next (1), or with kind 34 again
    /// after that failed too (2); 0: not tried.
    pub try_exp: u8,
    /// SYNs with data that seem to have been dropped, in a row.
    pub syn_loss: u32,
}

/// The client's cookie cache (RFC 7413 §4.1.3), per server address.
#[derive(Debug, Clone)]
pub(crate) struct ClientCache {
    entries: HashMap<IpAddr, CacheEntry>,
    order: alloc::collections::VecDeque<IpAddr>,
}

impl ClientCache {
    /// An empty cache whose table hashes with `key`.
    pub(crate) fn new(key: u64) -> ClientCache {
        ClientCache {
            entries: HashMap::with_hasher(TupleHashBuilder::new(key)),
            order: Default::default(),
        }
    }

    pub(crate) fn get(&self, server: IpAddr) -> CacheEntry {
        self.entries.get(&server).copied().unwrap_or_default()
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.order.clear();
    }

    /// Linux `tcp_fastopen_cache_set`.
    pub(crate) fn learn(&mut self, server: IpAddr, l: &Learned) {
        if !self.entries.contains_key(&server) {
            if self.entries.len() >= CACHE_MAX {
                if let Some(old) = self.order.pop_front() {
                    self.entries.remove(&old);
                }
            }
            self.order.push_back(server);
        }
        let e = self.entries.entry(server).or_default();
        if l.mss != 0 {
            e.mss = l.mss;
        }
        match l.cookie {
            Some(c) if !c.is_request() => e.cookie = Some(c),
            _ => {
                let exp_cookie = e.cookie.is_some_and(|c| c.exp);
                if l.try_exp > e.try_exp && e.cookie.is_none() && !exp_cookie {
                    e.try_exp = l.try_exp;
                }
            }
        }
        if l.syn_lost {
            e.syn_loss += 1;
        } else {
            e.syn_loss = 0;
        }
    }
}

/// What a client learned from a SYN-ACK, for the stack's cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Learned {
    pub(crate) mss: u16,
    pub(crate) cookie: Option<FastOpenOption>,
    pub(crate) syn_lost: bool,
    pub(crate) try_exp: u8,
}

/// Fast Open state of one connection during its handshake (boxed: most connections
/// never have any).
#[derive(Debug, Clone, Default)]
pub(crate) struct FastOpenConn {
    /// Passive: created from a SYN whose data was accepted; counted in the listener's
    /// Fast Open queue until it leaves SYN-RECEIVED.
    pub(crate) passive: Option<u32>,
    /// The option our SYN or SYN-ACK carries (client: cookie or request; server: a
    /// fresh cookie). Never on a retransmission.
    pub(crate) option: Option<FastOpenOption>,
    /// Active: the SYN asked for Fast Open (Linux `syn_fastopen`).
    pub(crate) active: bool,
    /// Active: bytes of data the first SYN carries.
    pub(crate) syn_data: u32,
    /// Active: what the SYN-ACK taught, not yet handed to the stack's cache.
    pub(crate) learned: Option<Learned>,
    /// All the SYN's data was acknowledged by the SYN-ACK (Linux `TCPI_OPT_SYN_DATA`),
    /// or, passive, the SYN's data was accepted.
    pub(crate) syn_data_acked: bool,
    /// Acknowledge arriving data with a delay (see `fastopen_pingpong`).
    pub(crate) pingpong: bool,
    /// Passive: the peer knows only the SYN-ACK's unscaled window (see
    /// `fastopen_quiet_window`).
    pub(crate) synack_window_only: bool,
}

/// How much data a client SYN may carry: one segment of the MSS the server gave last
/// time (else ours), within `TCP_MAXSEG`, less 40 bytes of option room (Linux
/// `tcp_send_syn_data`).
pub(crate) fn syn_data_room(cached_mss: u16, our_mss: u16, user_mss: Option<u16>) -> usize {
    let mut mss = our_mss;
    if cached_mss != 0 {
        mss = mss.min(cached_mss);
    }
    if let Some(u) = user_mss {
        mss = mss.min(u);
    }
    usize::from(mss.saturating_sub(SYN_OPTION_ROOM))
}

impl Connection {
    /// The Fast Open option and payload length of the SYN or SYN-ACK about to go out
    /// (RFC 7413 §4.2.1: a retransmitted SYN carries neither, as in Linux).
    pub(crate) fn fastopen_syn(&self, retransmission: bool) -> (Option<FastOpenOption>, u32) {
        match self.tfo() {
            Some(t) if !retransmission => match (self.state, t.active) {
                (State::SynSent, true) => (t.option, t.syn_data),
                (State::SynReceived, false) => (t.option, 0),
                // A simultaneous open answers with a plain SYN-ACK (Linux).
                _ => (None, 0),
            },
            _ => (None, 0),
        }
    }

    /// Delayed ACKs instead of quick ones (Linux's interactive "pingpong" mode): set
    /// when a Fast Open client's SYN-ACK finds more data queued than the SYN took, so
    /// that data leaves at once and the peer's answer is acknowledged with a delay,
    /// as Linux does (`tcp_rcv_synsent_state_process` with a write pending); the
    /// delayed-ACK timer ends it.
    #[inline]
    pub(crate) fn fastopen_pingpong(&self) -> bool {
        self.tfo().is_some_and(|t| t.pingpong)
    }

    /// The delayed-ACK timer fired: leave the pingpong mode (Linux
    /// `tcp_delack_timer_handler`).
    pub(crate) fn fastopen_delack_fired(&mut self) {
        if let Some(t) = self.tfo_mut() {
            t.pingpong = false;
        }
    }

    /// A passive open whose SYN data is accepted (RFC 7413 §4.2.2): the data is
    /// readable at once, the SYN-ACK acknowledges it, and the connection goes to the
    /// accept queue now, before the handshake completes.
    pub(crate) fn fastopen_accept(&mut self, env: &mut Env<'_>, listener: u32, data: &[u8]) {
        let n = self.recv.write_at(0, data);
        if n > 0 {
            self.rcv_nxt += n as u32;
            self.stats.bytes_received += n as u64;
            self.wake |= wake::READABLE;
            self.autotune_on_data(env);
        }
        self.wake |= wake::ESTABLISHED_PASSIVE;
        let t = self.tfo_or_insert();
        t.passive = Some(listener);
        t.syn_data_acked = true;
        t.synack_window_only = true;
    }

    /// True while a Fast Open server has sent nothing after its SYN-ACK: reading the
    /// SYN's data then does not call for a window update. Linux grows the window it
    /// offers from the SYN-ACK's step by step (`rcv_ssthresh`), so the new window is
    /// never twice the advertised one yet and `tcp_cleanup_rbuf` sends nothing; the
    /// next segment carries the window.
    #[inline]
    pub(crate) fn fastopen_quiet_window(&self) -> bool {
        self.tfo().is_some_and(|t| t.synack_window_only)
    }

    /// A segment after the SYN-ACK carried our window.
    #[inline]
    pub(crate) fn fastopen_window_sent(&mut self) {
        if let Some(t) = self.tfo_mut() {
            t.synack_window_only = false;
        }
    }

    /// True for a passive Fast Open connection still in SYN-RECEIVED: it may send
    /// data (Linux lets a Fast Open server write before the handshake completes).
    #[inline]
    pub(crate) fn fastopen_passive(&self) -> bool {
        self.tfo().is_some_and(|t| t.passive.is_some())
    }

    /// A SYN-ACK arrived in SYN-SENT and acknowledged `seg_ack` (RFC 7413 §4.2.1,
    /// Linux `tcp_rcv_fastopen_synack`): drop the acknowledged SYN data from the send
    /// buffer, note what to cache, and resend at once what the server did not take.
    /// Returns true when data is waiting to go, which then carries the handshake's ACK.
    pub(crate) fn fastopen_synack(&mut self, seg: &TcpRepr, seg_ack: Seq) -> bool {
        if seg_ack > self.buf_seq {
            let n = (seg_ack.since(self.buf_seq) as usize).min(self.send.len());
            self.send.consume(n);
            self.buf_seq += n as u32;
            self.stats.bytes_acked += n as u64;
        }
        let retransmitted = self.stats.segs_retransmitted > 0;
        let iss = self.iss;
        let more_queued = self.send.len() > self.snd_nxt.since(self.buf_seq) as usize;
        let Some(t) = self.tfo_mut() else {
            return false;
        };
        if !t.active {
            return false;
        }
        // A cookie our SYN did not ask for (it carried no Fast Open option: the
        // cookie-less mode) is not cached (Linux `tcp_rcv_fastopen_synack` ignores an
        // unsolicited cookie); RFC 7413 §4.1.2 has the server send one only on request.
        let cookie = seg
            .options
            .fast_open
            .filter(|c| !c.is_request() && t.option.is_some());
        let data_unacked = t.syn_data > 0 && seg_ack < iss + 1 + t.syn_data;
        let mut learned = Learned {
            mss: seg.options.mss.unwrap_or(0),
            cookie,
            ..Learned::default()
        };
        if retransmitted {
            // The SYN timed out and the SYN-ACK neither has a cookie nor takes the
            // data: the SYN with data (or its answer) was probably dropped.
            learned.syn_lost = cookie.is_none() && data_unacked;
        } else if cookie.is_none() && t.syn_data == 0 {
            // A request got no cookie: try the other option format next time.
            learned.try_exp = if t.option.is_some_and(|o| o.exp) {
                2
            } else {
                1
            };
        }
        t.learned = Some(learned);
        t.syn_data_acked = t.syn_data > 0 && !data_unacked;
        if !data_unacked && more_queued {
            // The application's write is still going on (Linux: a write pending on
            // the socket): its data carries the ACK and the peer's answer is
            // acknowledged with a delay.
            t.pingpong = true;
        }
        self.wake |= wake::FASTOPEN;
        if data_unacked {
            // Go back to SND.UNA: the rest of the SYN's data goes again now.
            self.snd_nxt = seg_ack;
        }
        let off = self.snd_nxt.since(self.buf_seq) as usize;
        self.send.len() > off
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;
    use core::net::Ipv4Addr;

    fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(a, b, c, d))
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// The cookies upstream packetdrill's scripts expect from Linux for its keys and
    /// addresses (fastopen/server/simple1.pkt, run_all.py's TFO_COOKIE).
    #[test]
    fn cookie_matches_linux() {
        let (k, _) = parse_key("a0bf63f7-ed803d81-cd641d30-cebc4a90").expect("key");
        let c = cookie_for(&k, v4(10, 248, 0, 2), v4(192, 168, 0, 2));
        assert_eq!(hex(&c), "00abaaabe8e954c2");
        let (k, _) = parse_key("a1a1a1a1-b2b2b2b2-c3c3c3c3-d4d4d4d4").expect("key");
        let c = cookie_for(&k, v4(192, 0, 2, 1), v4(192, 168, 0, 1));
        assert_eq!(hex(&c), "3021b9d889017eeb");
    }

    fn keys(primary: u8, backup: Option<u8>) -> ServerKeys {
        ServerKeys {
            primary: [primary; 16],
            backup: backup.map(|b| [b; 16]),
        }
    }

    fn syn_with(fo: Option<FastOpenOption>) -> TcpRepr {
        let mut syn = TcpRepr::default();
        syn.options.fast_open = fo;
        syn
    }

    fn on(qlen: usize) -> ListenerFastOpen {
        ListenerFastOpen {
            max_qlen: qlen,
            ..ListenerFastOpen::default()
        }
    }

    const SRV: u32 = SERVER_ENABLE;

    #[test]
    fn server_hands_out_and_checks_cookies() {
        let k = keys(1, None);
        let (c, s) = (v4(192, 0, 2, 1), v4(192, 168, 0, 1));
        let good = k.cookie(c, s);
        // RFC 7413 §4.1.2: a request gets a cookie, in the format it was asked in.
        for exp in [false, true] {
            let d = server_decide(
                SRV,
                &on(4),
                &k,
                &syn_with(Some(FastOpenOption::request(exp))),
                false,
                c,
                s,
            );
            assert!(!d.accept);
            let o = d.synack_option.expect("cookie");
            assert_eq!((o.cookie(), o.exp), (&good[..], exp));
        }
        // A valid cookie with data: accepted, nothing more in the SYN-ACK.
        let valid = FastOpenOption::with_cookie(&good, false);
        let d = server_decide(SRV, &on(4), &k, &syn_with(valid), true, c, s);
        assert_eq!((d.accept, d.synack_option), (true, None));
        // The same cookie from another client is not valid there: data ignored, a
        // fresh cookie offered.
        let other = v4(192, 0, 2, 9);
        let d = server_decide(SRV, &on(4), &k, &syn_with(valid), true, other, s);
        assert!(!d.accept);
        assert_eq!(
            d.synack_option.map(|o| o.cookie().to_vec()),
            Some(k.cookie(other, s).to_vec())
        );
        // A cookie of the wrong length is invalid.
        let short = FastOpenOption::with_cookie(&good[..4], false);
        assert!(!server_decide(SRV, &on(4), &k, &syn_with(short), true, c, s).accept);
    }

    #[test]
    fn rotated_keys_expire_cookies() {
        let (c, s) = (v4(10, 0, 0, 1), v4(10, 0, 0, 2));
        let old = keys(1, None).cookie(c, s);
        // One rotation: the old cookie is still accepted, and a fresh one handed out.
        let once = keys(2, Some(1));
        assert_eq!(once.check(&old, c, s), CookieCheck::ValidOld);
        let d = server_decide(
            SRV,
            &on(4),
            &once,
            &syn_with(FastOpenOption::with_cookie(&old, true)),
            true,
            c,
            s,
        );
        assert!(d.accept);
        let fresh = d.synack_option.expect("fresh cookie");
        assert_eq!(fresh.cookie(), &once.cookie(c, s)[..]);
        assert!(fresh.exp, "answered in the format the client used");
        // Two rotations: the old cookie has expired.
        let twice = keys(3, Some(2));
        assert_eq!(twice.check(&old, c, s), CookieCheck::Invalid);
        assert!(
            !server_decide(
                SRV,
                &on(4),
                &twice,
                &syn_with(FastOpenOption::with_cookie(&old, false)),
                true,
                c,
                s
            )
            .accept
        );
    }

    #[test]
    fn server_switches_and_queue_limit() {
        let k = keys(1, None);
        let (c, s) = (v4(10, 0, 0, 1), v4(10, 0, 0, 2));
        let valid = FastOpenOption::with_cookie(&k.cookie(c, s), false);
        let none = ServerDecision {
            accept: false,
            synack_option: None,
        };
        // Server bit off, listener off, or its queue full: an ordinary SYN.
        assert_eq!(
            server_decide(CLIENT_ENABLE, &on(4), &k, &syn_with(valid), true, c, s),
            none
        );
        assert_eq!(
            server_decide(SRV, &on(0), &k, &syn_with(valid), true, c, s),
            none
        );
        let full = ListenerFastOpen {
            max_qlen: 2,
            qlen: 2,
            keys: None,
        };
        assert_eq!(
            server_decide(SRV, &full, &k, &syn_with(valid), true, c, s),
            none
        );
        // Data without any option: ignored, unless cookies are not required.
        assert_eq!(
            server_decide(SRV, &on(4), &k, &syn_with(None), true, c, s),
            none
        );
        let d = server_decide(
            SRV | SERVER_COOKIE_NOT_REQD,
            &on(4),
            &k,
            &syn_with(None),
            true,
            c,
            s,
        );
        assert_eq!((d.accept, d.synack_option), (true, None));
        // A listener's own key wins over the stack's.
        let own = ListenerFastOpen {
            keys: Some(keys(7, None)),
            ..on(4)
        };
        assert!(!server_decide(SRV, &own, &k, &syn_with(valid), true, c, s).accept);
    }

    #[test]
    fn client_cache_fallbacks() {
        let mut cache = ClientCache::new(0);
        let srv = v4(10, 0, 0, 2);
        // A request answered without a cookie: try the experimental option next,
        // then back to kind 34 (Linux try_exp 1, 2).
        cache.learn(
            srv,
            &Learned {
                try_exp: 1,
                ..Learned::default()
            },
        );
        assert_eq!(cache.get(srv).try_exp, 1);
        cache.learn(
            srv,
            &Learned {
                try_exp: 2,
                mss: 940,
                ..Learned::default()
            },
        );
        assert_eq!((cache.get(srv).try_exp, cache.get(srv).mss), (2, 940));
        // A cookie is kept with the MSS; no later SYN-ACK without one erases it.
        let c = FastOpenOption::with_cookie(&[1, 2, 3, 4], false);
        cache.learn(
            srv,
            &Learned {
                cookie: c,
                ..Learned::default()
            },
        );
        cache.learn(
            srv,
            &Learned {
                mss: 0,
                ..Learned::default()
            },
        );
        assert_eq!(cache.get(srv).cookie, c);
        assert_eq!(cache.get(srv).mss, 940);
        // Lost SYNs with data are counted until one gets through.
        cache.learn(
            srv,
            &Learned {
                syn_lost: true,
                ..Learned::default()
            },
        );
        cache.learn(
            srv,
            &Learned {
                syn_lost: true,
                ..Learned::default()
            },
        );
        assert_eq!(cache.get(srv).syn_loss, 2);
        cache.learn(srv, &Learned::default());
        assert_eq!(cache.get(srv).syn_loss, 0);
        cache.clear();
        assert_eq!(cache.get(srv), CacheEntry::default());
    }

    #[test]
    fn syn_data_room_is_one_segment_less_option_room() {
        assert_eq!(syn_data_room(0, 1460, None), 1420);
        assert_eq!(syn_data_room(940, 1460, None), 900);
        assert_eq!(syn_data_room(1460, 1460, Some(1040)), 1000);
        assert_eq!(syn_data_room(0, 30, None), 0);
    }

    #[test]
    fn key_parsing() {
        let (k, b) = parse_key("a0bf63f7-ed803d81-cd641d30-cebc4a90").expect("key");
        assert_eq!(hex(&k[..4]), "f763bfa0");
        assert!(b.is_none());
        assert!(parse_key("a0bf63f7-ed803d81-cd641d30").is_none());
        assert!(parse_key("zz-1-2-3").is_none());
        let (_, b) = parse_key("1-2-3-4,5-6-7-8").expect("two keys");
        assert_eq!(b.map(|k| k[0]), Some(5));
    }
}
