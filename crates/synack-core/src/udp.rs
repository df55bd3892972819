//! UDP (RFC 768) and ICMP echo state of the engine: the UDP sockets (bound,
//! connected, and the any-destination intercept), their bounded receive queues, the
//! outgoing queue, the intercept's per-flow state with its idle timeouts, and the
//! token bucket that limits ICMP error messages (RFC 1812 §4.3.2.8, RFC 4443 §2.4 (f)).
//!
//! This module holds the data and the rules that need no packet; the stack's side
//! (parsing, demultiplexing, emitting, the public calls) is in `stack/udp.rs`.

use crate::hash::{HashMap, TupleHashBuilder};
use crate::time::{Duration, Instant};
use alloc::collections::{BinaryHeap, VecDeque};
use alloc::vec::Vec;
use core::cmp::Reverse;
use core::fmt;
use core::net::{IpAddr, SocketAddr};

/// Names one UDP socket. Stale handles (of a socket that was closed) are detected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UdpHandle {
    pub(crate) idx: u32,
    pub(crate) gen: u32,
}

impl UdpHandle {
    /// A small integer unique among open UDP sockets.
    pub fn index(self) -> usize {
        self.idx as usize
    }
}

/// Why a UDP call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UdpError {
    /// The handle names no open socket.
    InvalidHandle,
    /// Another socket is bound to that address and port.
    AddrInUse,
    /// The address is not one of the stack's, is of the wrong family, or is
    /// unspecified where a real one is needed (a destination, a reply's source).
    BadAddress,
    /// Every ephemeral port is taken.
    NoPorts,
    /// The datagram would not fit the link MTU in one IP packet; nothing was sent
    /// (datagrams are never cut, and synack does not fragment). `max` is the largest
    /// payload that fits.
    TooLarge {
        /// Largest payload that fits one packet to that destination.
        max: usize,
    },
    /// Nothing to read, or the socket's send queue is full (wait for
    /// [`UdpEvent::Readable`] / [`UdpEvent::Writable`]).
    WouldBlock,
    /// `send` / `recv` without a peer: the socket is not connected.
    NotConnected,
    /// A call only an intercepting socket may make (sending as another address).
    NotIntercept,
    /// The connected peer answered with ICMP port unreachable (or another hard
    /// unreachable error): reported once, by the next receive or send, as a kernel
    /// socket reports ECONNREFUSED.
    Refused,
}

impl fmt::Display for UdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UdpError::InvalidHandle => write!(f, "no such UDP socket"),
            UdpError::AddrInUse => write!(f, "address in use"),
            UdpError::BadAddress => write!(f, "address not available"),
            UdpError::NoPorts => write!(f, "no free ephemeral port"),
            UdpError::TooLarge { max } => {
                write!(f, "datagram too large for the MTU (at most {max} bytes)")
            }
            UdpError::WouldBlock => write!(f, "operation would block"),
            UdpError::NotConnected => write!(f, "UDP socket not connected"),
            UdpError::NotIntercept => write!(f, "not an intercepting UDP socket"),
            UdpError::Refused => write!(f, "connection refused (ICMP unreachable)"),
        }
    }
}

impl core::error::Error for UdpError {}

/// Something a UDP socket's owner should know. Drain with
/// [`Stack::poll_udp_event`](crate::Stack::poll_udp_event).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UdpEvent {
    /// A datagram arrived on an empty receive queue.
    Readable(UdpHandle),
    /// The send queue, which was full, has room again.
    Writable(UdpHandle),
    /// An intercepted flow was idle past its timeout and was forgotten: the
    /// application may release what it holds for it (an upstream socket).
    FlowExpired {
        /// The intercepting socket.
        handle: UdpHandle,
        /// The sender of the flow's datagrams.
        client: SocketAddr,
        /// The original destination they were sent to.
        target: SocketAddr,
    },
}

/// UDP and ICMP counters (part of [`StackStats`](crate::StackStats)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UdpStats {
    /// UDP datagrams received with a valid header and checksum.
    pub datagrams_in: u64,
    /// UDP datagrams written by `poll_transmit`.
    pub datagrams_out: u64,
    /// UDP datagrams delivered to a socket's receive queue.
    pub delivered: u64,
    /// UDP datagrams dropped because they did not parse (lengths).
    pub malformed: u64,
    /// UDP datagrams dropped for a bad checksum, a zero checksum over IPv6 included.
    pub bad_checksum: u64,
    /// Of those, IPv6 datagrams with a zero checksum (RFC 8200 §8.1).
    pub zero_checksum_v6: u64,
    /// Datagrams dropped because the receiving socket's queue was full.
    pub queue_full: u64,
    /// Datagrams to one of our addresses on a port no socket holds.
    pub no_socket: u64,
    /// Datagrams for another address with no intercept (or of a kind we ignore).
    pub not_for_us: u64,
    /// Sends refused because the datagram would not fit the MTU.
    pub too_large: u64,
    /// ICMP port-unreachable messages sent.
    pub port_unreachable_sent: u64,
    /// ICMP errors not sent because the rate limit was exhausted.
    pub icmp_rate_limited: u64,
    /// ICMP errors not sent because the datagram was to a broadcast or multicast
    /// address or from an address that may not receive them (RFC 1122 §3.2.2, RFC
    /// 4443 §2.4 (e)).
    pub icmp_suppressed: u64,
    /// ICMP echo requests received (for any address).
    pub echo_requests: u64,
    /// ICMP echo replies sent.
    pub echo_replies: u64,
    /// ICMP or ICMPv6 messages dropped: bad checksum or truncated.
    pub icmp_malformed: u64,
    /// Packets not sent because the ICMP output queue was full.
    pub icmp_queue_full: u64,
    /// ICMP errors about one of our UDP sockets' datagrams that were applied (a
    /// refusal reported to a connected socket, a smaller path MTU noted).
    pub icmp_errors_applied: u64,
    /// ICMP errors quoting a UDP datagram that matched no socket (or a source that
    /// is not ours), ignored.
    pub icmp_errors_ignored: u64,
    /// Intercepted flows created.
    pub flows_created: u64,
    /// Intercepted flows forgotten after their idle timeout.
    pub flows_expired: u64,
    /// Datagrams dropped because the flow table was full
    /// ([`Config::udp_max_flows`](crate::Config::udp_max_flows)).
    pub flows_table_full: u64,
}

/// A received datagram waiting in a socket's queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    /// The payload.
    pub payload: Vec<u8>,
    /// Who sent it.
    pub src: SocketAddr,
    /// Where it was sent: one of our addresses, or for an intercepting socket the
    /// original destination.
    pub dst: SocketAddr,
}

/// Bookkeeping bytes charged for each queued datagram on top of its payload, so that
/// a queue of empty datagrams is bounded too.
pub(crate) const DATAGRAM_OVERHEAD: usize = 64;

/// Most ICMP messages (echo replies, errors) waiting to be sent.
pub(crate) const ICMP_QUEUE: usize = 256;

/// The charge of a datagram of `len` payload bytes against a socket's buffers.
pub(crate) fn charge(len: usize) -> usize {
    len + DATAGRAM_OVERHEAD
}

/// One UDP socket.
#[derive(Debug)]
pub(crate) struct Socket {
    /// The bound address (the IP may be unspecified: every address of the family).
    pub(crate) local: SocketAddr,
    /// The source address chosen by `connect` for an unspecified bind.
    pub(crate) conn_src: Option<IpAddr>,
    /// The connected peer: only its datagrams are taken, and `send` goes to it.
    pub(crate) peer: Option<SocketAddr>,
    /// The any-destination intercept.
    pub(crate) intercept: bool,
    pub(crate) rx: VecDeque<Datagram>,
    /// Charge of the datagrams in `rx`.
    pub(crate) rx_bytes: usize,
    /// Charge of this socket's datagrams in the outgoing queue.
    pub(crate) tx_bytes: usize,
    /// A send found the queue full: tell the owner when it drains.
    pub(crate) want_writable: bool,
    /// An ICMP error for the connected peer, reported once by the next call.
    pub(crate) error: Option<UdpError>,
}

/// A slot of the socket slab.
#[derive(Debug, Default)]
pub(crate) struct Slot {
    pub(crate) gen: u32,
    pub(crate) sock: Option<Socket>,
}

/// A datagram waiting for `poll_transmit`.
#[derive(Debug)]
pub(crate) struct Outgoing {
    pub(crate) src: SocketAddr,
    pub(crate) dst: SocketAddr,
    pub(crate) payload: Vec<u8>,
    /// The socket charged for it.
    pub(crate) owner: UdpHandle,
}

/// An intercepted flow: datagrams from `client` to `target`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Flow {
    /// Last datagram either way.
    pub(crate) last: Instant,
    /// The application has sent as `target` to `client` (the flow is a stream, like
    /// conntrack's ASSURED: the longer timeout applies).
    pub(crate) replied: bool,
}

/// Flow key: client and target (original destination), packed: 38 bytes where a pair
/// of `SocketAddr`s takes 64, which matters for a table of tens of thousands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct FlowKey {
    client_ip: IpAddr,
    target_ip: IpAddr,
    client_port: u16,
    target_port: u16,
}

impl FlowKey {
    /// The key of the flow from `client` to `target`.
    pub(crate) fn new(client: SocketAddr, target: SocketAddr) -> FlowKey {
        FlowKey {
            client_ip: client.ip(),
            target_ip: target.ip(),
            client_port: client.port(),
            target_port: target.port(),
        }
    }

    /// The client.
    pub(crate) fn client(&self) -> SocketAddr {
        SocketAddr::new(self.client_ip, self.client_port)
    }

    /// The original destination.
    pub(crate) fn target(&self) -> SocketAddr {
        SocketAddr::new(self.target_ip, self.target_port)
    }
}

/// A token bucket in millionths of a token (RFC 4443 §2.4 (f)).
#[derive(Debug, Clone, Copy)]
pub(crate) struct TokenBucket {
    micro: u64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket of `burst` tokens.
    pub(crate) fn new(burst: u32) -> TokenBucket {
        TokenBucket {
            micro: u64::from(burst) * 1_000_000,
            last: Instant::ZERO,
        }
    }

    /// Take one token at `now` with `rate` tokens per second up to `burst`; false when
    /// the bucket is empty. A rate of 0 means no limit.
    pub(crate) fn take(&mut self, now: Instant, rate: u32, burst: u32) -> bool {
        if rate == 0 {
            return true;
        }
        let cap = u64::from(burst.max(1)) * 1_000_000;
        let dt =
            u64::try_from(now.saturating_duration_since(self.last).as_micros()).unwrap_or(u64::MAX);
        self.last = self.last.max(now);
        // `rate` tokens per second is `rate` millionths of a token per microsecond.
        self.micro = self
            .micro
            .saturating_add(dt.saturating_mul(u64::from(rate)))
            .min(cap);
        if self.micro >= 1_000_000 {
            self.micro -= 1_000_000;
            true
        } else {
            false
        }
    }
}

/// All UDP and ICMP echo state of one stack.
#[derive(Debug)]
pub(crate) struct UdpState {
    pub(crate) slots: Vec<Slot>,
    pub(crate) free: Vec<u32>,
    /// Bound sockets by (address, port); an unspecified address of a family binds
    /// every address of it.
    pub(crate) binds: HashMap<(IpAddr, u16), u32>,
    /// The intercepting socket, if any.
    pub(crate) intercept: Option<u32>,
    pub(crate) flows: HashMap<FlowKey, Flow>,
    /// One entry per flow, a lower bound of its deadline (the flow may have been
    /// refreshed since; it is re-queued when the entry comes up).
    pub(crate) flow_deadlines: BinaryHeap<Reverse<(Instant, FlowKey)>>,
    pub(crate) out: VecDeque<Outgoing>,
    /// Whole ICMP packets (echo replies, errors) waiting to be sent.
    pub(crate) icmp_out: VecDeque<Vec<u8>>,
    pub(crate) icmp_bucket: TokenBucket,
    pub(crate) events: VecDeque<UdpEvent>,
    pub(crate) stats: UdpStats,
    /// Path MTUs learnt from ICMP "fragmentation needed" / "packet too big" about our
    /// datagrams (RFC 1191, RFC 8201), by destination, each with its expiry.
    pub(crate) pmtu: HashMap<IpAddr, (usize, Instant)>,
    /// The latest `now` the stack was given with a packet or timeout (for the
    /// expiry of `pmtu` entries in calls that take no `now`).
    pub(crate) clock: Instant,
}

impl UdpState {
    /// Empty state; the ICMP bucket starts full with `burst` tokens; the tables hash
    /// with `key` (from the stack's secret).
    pub(crate) fn new(burst: u32, key: u64) -> UdpState {
        UdpState {
            slots: Vec::new(),
            free: Vec::new(),
            binds: HashMap::with_hasher(TupleHashBuilder::new(key ^ 2)),
            intercept: None,
            flows: HashMap::with_hasher(TupleHashBuilder::new(key ^ 3)),
            flow_deadlines: BinaryHeap::new(),
            out: VecDeque::new(),
            icmp_out: VecDeque::new(),
            icmp_bucket: TokenBucket::new(burst),
            events: VecDeque::new(),
            stats: UdpStats::default(),
            pmtu: HashMap::with_hasher(TupleHashBuilder::new(key ^ 4)),
            clock: Instant::ZERO,
        }
    }

    /// True when `poll_transmit` has UDP or ICMP output.
    #[inline]
    pub(crate) fn has_output(&self) -> bool {
        !self.out.is_empty() || !self.icmp_out.is_empty()
    }

    /// The earliest flow deadline (a lower bound; see `flow_deadlines`).
    #[inline]
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.flow_deadlines.peek().map(|Reverse((t, _))| *t)
    }

    /// The slot index of a live handle.
    pub(crate) fn check(&self, h: UdpHandle) -> Option<u32> {
        let s = self.slots.get(h.idx as usize)?;
        (s.gen == h.gen && s.sock.is_some()).then_some(h.idx)
    }

    /// The socket of a live handle.
    pub(crate) fn sock_mut(&mut self, h: UdpHandle) -> Result<&mut Socket, UdpError> {
        let idx = self.check(h).ok_or(UdpError::InvalidHandle)?;
        self.slots[idx as usize]
            .sock
            .as_mut()
            .ok_or(UdpError::InvalidHandle)
    }

    /// The socket of a live handle, read-only.
    pub(crate) fn sock(&self, h: UdpHandle) -> Result<&Socket, UdpError> {
        let idx = self.check(h).ok_or(UdpError::InvalidHandle)?;
        self.slots[idx as usize]
            .sock
            .as_ref()
            .ok_or(UdpError::InvalidHandle)
    }

    /// The handle of slot `idx`.
    pub(crate) fn handle_of(&self, idx: u32) -> UdpHandle {
        UdpHandle {
            idx,
            gen: self.slots[idx as usize].gen,
        }
    }

    /// Put a new socket in the slab.
    pub(crate) fn insert(&mut self, sock: Socket) -> UdpHandle {
        let idx = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(Slot::default());
                (self.slots.len() - 1) as u32
            }
        };
        self.slots[idx as usize].sock = Some(sock);
        self.handle_of(idx)
    }

    /// Remove a socket: its binding, its queue and (for the intercept) every flow.
    /// Datagrams it queued for sending still go out.
    pub(crate) fn remove(&mut self, h: UdpHandle) {
        let Some(idx) = self.check(h) else { return };
        let slot = &mut self.slots[idx as usize];
        let Some(sock) = slot.sock.take() else { return };
        slot.gen = slot.gen.wrapping_add(1);
        self.free.push(idx);
        if sock.intercept {
            self.intercept = None;
            self.flows = HashMap::with_hasher(*self.flows.hasher());
            self.flow_deadlines = BinaryHeap::new();
        } else if self.binds.get(&(sock.local.ip(), sock.local.port())) == Some(&idx) {
            self.binds.remove(&(sock.local.ip(), sock.local.port()));
        }
    }

    /// True when `port` is bound on `ip`, or (for an unspecified `ip`) on any address
    /// of its family among `addrs`, or on the family's unspecified address.
    pub(crate) fn port_taken(&self, ip: IpAddr, port: u16, addrs: &[IpAddr]) -> bool {
        let any = unspecified_like(ip);
        if self.binds.contains_key(&(ip, port)) || self.binds.contains_key(&(any, port)) {
            return true;
        }
        ip.is_unspecified()
            && addrs
                .iter()
                .filter(|a| a.is_ipv4() == ip.is_ipv4())
                .any(|a| self.binds.contains_key(&(*a, port)))
    }

    /// Queue `d` on socket `idx` if its receive queue has room (`limit` bytes of
    /// charge); false when it was dropped. Signals `Readable` on an empty queue.
    pub(crate) fn deliver(&mut self, idx: u32, d: Datagram, limit: usize) -> bool {
        let h = self.handle_of(idx);
        let Some(sock) = self.slots[idx as usize].sock.as_mut() else {
            return false;
        };
        let c = charge(d.payload.len());
        if sock.rx_bytes + c > limit {
            self.stats.queue_full += 1;
            return false;
        }
        if sock.rx.is_empty() {
            self.events.push_back(UdpEvent::Readable(h));
        }
        sock.rx_bytes += c;
        sock.rx.push_back(d);
        self.stats.delivered += 1;
        true
    }

    /// Take the next datagram of a socket (or the error an ICMP message left).
    pub(crate) fn take(&mut self, h: UdpHandle) -> Result<Datagram, UdpError> {
        let sock = self.sock_mut(h)?;
        if let Some(e) = sock.error.take() {
            return Err(e);
        }
        let d = sock.rx.pop_front().ok_or(UdpError::WouldBlock)?;
        sock.rx_bytes -= charge(d.payload.len());
        Ok(d)
    }

    /// Note a datagram of the intercepted flow (client, target) at `now`, creating
    /// the flow if it is new. False when it is new and the table already holds `max`
    /// flows (the datagram is then dropped).
    pub(crate) fn touch_flow(
        &mut self,
        key: FlowKey,
        now: Instant,
        timeout: Duration,
        max: usize,
    ) -> bool {
        if let Some(f) = self.flows.get_mut(&key) {
            f.last = now;
            return true;
        }
        if self.flows.len() >= max {
            self.stats.flows_table_full += 1;
            return false;
        }
        self.flows.insert(
            key,
            Flow {
                last: now,
                replied: false,
            },
        );
        self.flow_deadlines.push(Reverse((now + timeout, key)));
        self.stats.flows_created += 1;
        true
    }

    /// Forget the flows idle past their timeout at `now` (`timeout` before the
    /// application replied, `stream` after), telling the intercept's owner of each.
    /// Memory is given back as the table empties.
    pub(crate) fn expire_flows(&mut self, now: Instant, timeout: Duration, stream: Duration) {
        let mut expired = false;
        while let Some(Reverse((t, key))) = self.flow_deadlines.peek().copied() {
            if t > now {
                break;
            }
            self.flow_deadlines.pop();
            let Some(f) = self.flows.get(&key).copied() else {
                continue;
            };
            let due = f.last + if f.replied { stream } else { timeout };
            if due > now {
                // Refreshed since this entry was queued: wait for the real deadline.
                self.flow_deadlines.push(Reverse((due, key)));
                continue;
            }
            self.flows.remove(&key);
            expired = true;
            self.stats.flows_expired += 1;
            if let Some(idx) = self.intercept {
                let handle = self.handle_of(idx);
                self.events.push_back(UdpEvent::FlowExpired {
                    handle,
                    client: key.client(),
                    target: key.target(),
                });
            }
        }
        if expired {
            // A scan of many ports must not pin the table's peak size.
            if self.flows.is_empty() {
                // Every remaining heap entry names a forgotten flow.
                self.flows = HashMap::with_hasher(*self.flows.hasher());
                self.flow_deadlines = BinaryHeap::new();
                return;
            }
            if self.flows.capacity() > 64 && self.flows.len() * 4 < self.flows.capacity() {
                self.flows.shrink_to(self.flows.len() * 2);
            }
            if self.flow_deadlines.capacity() > 64
                && self.flow_deadlines.len() * 4 < self.flow_deadlines.capacity()
            {
                self.flow_deadlines.shrink_to(self.flow_deadlines.len() * 2);
            }
        }
    }

    /// Bytes the flow table and its deadline heap hold allocated (approximate: the
    /// tables' capacities times their entry sizes).
    pub(crate) fn flow_memory(&self) -> usize {
        self.flows.capacity() * (core::mem::size_of::<(FlowKey, Flow)>() + 1)
            + self.flow_deadlines.capacity() * core::mem::size_of::<Reverse<(Instant, FlowKey)>>()
    }
}

/// The unspecified address of `ip`'s family.
pub(crate) fn unspecified_like(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => IpAddr::V4(core::net::Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(core::net::Ipv6Addr::UNSPECIFIED),
    }
}

/// True for an address that is not one end of a unicast exchange, so datagrams from
/// or to it start no flow and get no ICMP error: unspecified, IPv4 "this network"
/// 0.0.0.0/8 (RFC 1122 §3.2.1.3 (a), (b)), the limited broadcast, multicast (RFC 1122
/// §3.2.2, RFC 1812 §4.3.2.7, RFC 4443 §2.4 (e)); an IPv4-mapped IPv6 address is
/// judged as its IPv4 address.
pub(crate) fn no_icmp_errors(ip: IpAddr) -> bool {
    let v4 = |a: core::net::Ipv4Addr| a.octets()[0] == 0 || a.is_broadcast() || a.is_multicast();
    match ip {
        IpAddr::V4(a) => v4(a),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(m) => v4(m),
            None => a.is_unspecified() || a.is_multicast(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_bucket_bursts_then_refills_at_the_rate() {
        let mut b = TokenBucket::new(3);
        let t0 = Instant::from_millis(0);
        assert!((0..3).all(|_| b.take(t0, 10, 3)));
        assert!(!b.take(t0, 10, 3), "the burst is spent");
        // 10 per second: one token every 100 ms.
        assert!(!b.take(t0 + Duration::from_millis(99), 10, 3));
        assert!(b.take(t0 + Duration::from_millis(100), 10, 3));
        assert!(!b.take(t0 + Duration::from_millis(100), 10, 3));
        // A long pause refills only up to the burst.
        let later = t0 + Duration::from_secs(60);
        assert_eq!((0..10).filter(|_| b.take(later, 10, 3)).count(), 3);
        // Rate 0 is unlimited.
        assert!((0..1000).all(|_| b.take(later, 0, 3)));
    }

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn flows_expire_after_their_timeout_and_refresh_postpones_it() {
        let mut u = UdpState::new(10, 0);
        let h = u.insert(Socket {
            local: sa("0.0.0.0:0"),
            conn_src: None,
            peer: None,
            intercept: true,
            rx: VecDeque::new(),
            rx_bytes: 0,
            tx_bytes: 0,
            want_writable: false,
            error: None,
        });
        u.intercept = Some(h.idx);
        let (to, stream) = (Duration::from_secs(30), Duration::from_secs(120));
        let t0 = Instant::from_millis(0);
        let a = FlowKey::new(sa("10.0.0.1:1000"), sa("1.1.1.1:53"));
        let b = FlowKey::new(sa("10.0.0.1:1001"), sa("1.1.1.1:53"));
        assert!(u.touch_flow(a, t0, to, 10));
        assert!(u.touch_flow(b, t0, to, 10));
        assert_eq!(u.next_deadline(), Some(t0 + to));
        // `a` is refreshed at 20 s and replied to: the stream timeout applies.
        assert!(u.touch_flow(a, t0 + Duration::from_secs(20), to, 10));
        u.flows.get_mut(&a).unwrap().replied = true;
        u.expire_flows(t0 + to, to, stream);
        assert!(!u.flows.contains_key(&b) && u.flows.contains_key(&a));
        assert_eq!(
            u.events.pop_front(),
            Some(UdpEvent::FlowExpired {
                handle: h,
                client: b.client(),
                target: b.target()
            })
        );
        assert_eq!(u.next_deadline(), Some(t0 + Duration::from_secs(140)));
        u.expire_flows(t0 + Duration::from_secs(139), to, stream);
        assert!(u.flows.contains_key(&a));
        u.expire_flows(t0 + Duration::from_secs(140), to, stream);
        assert!(u.flows.is_empty());
        assert_eq!(u.stats.flows_expired, 2);
        assert_eq!(u.next_deadline(), None);
    }

    #[test]
    fn flow_table_is_bounded() {
        let mut u = UdpState::new(10, 0);
        let t0 = Instant::from_millis(0);
        let to = Duration::from_secs(30);
        for p in 0..5u16 {
            let key = FlowKey::new(SocketAddr::from(([10, 0, 0, 1], p)), sa("1.1.1.1:53"));
            assert_eq!(u.touch_flow(key, t0, to, 3), p < 3);
        }
        assert_eq!(u.flows.len(), 3);
        assert_eq!(u.stats.flows_table_full, 2);
    }
}
