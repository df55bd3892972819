//! The [`Stack`]: many connections and listeners behind one sans-IO interface. It
//! parses packets, demultiplexes them in O(1) by 4-tuple, runs listeners (backlog,
//! accept queue), answers segments that match nothing with RST (RFC 9293 §3.10.7.1),
//! routes ICMP errors to the connection they quote (RFC 5927), keeps one deadline per
//! connection in a timer heap, and turns connection output into IP packets. A
//! connection the application closed is reduced to a compact record once it reaches
//! TIME-WAIT (tcp/timewait.rs): its TCB and buffers are freed, its slot stays reserved
//! so old handles still report it, and its 2*MSL deadline waits in a FIFO.

use crate::cc::Algorithm;
use crate::challenge::ChallengeDraw;
use crate::config::Config;
use crate::error::{ConnError, ConnectError, ListenError, RecvError, SendError};
use crate::hash::{Demux, HashMap, TupleHashBuilder};
use crate::isn::IsnGenerator;
use crate::memory::BufferMemory;
use crate::ports::PortAllocator;
use crate::state::State;
use crate::tcp::input::Outcome;
use crate::tcp::timewait::{TimeWaitTable, TwAction};
use crate::tcp::{wake, ConnInfo, Connection, Env, SocketOptions};
use crate::time::{Duration, Instant};
use crate::timer::TimerQueue;
use crate::trace::{Direction, SegmentTrace, TraceEvent, TraceKind};
use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::net::{IpAddr, SocketAddr};
use synack_wire::{
    emit_tcp_packet, emit_tcp_packet_summed, parse_packet, parse_packet_deferred, IpRepr, Packet,
    TcpFlags, TcpOptions, TcpPacket, TcpRepr, PROTO_TCP,
};

mod api;
mod buffers;
mod cork;
mod decide;
mod discard;
mod egress;
mod fastopen;
mod icmp;
mod input;
mod invariants;
mod limits;
mod listen;
mod notsent;
mod output;
mod raw;
mod syncookie;
mod time_wait;
mod udp;
mod udp_decide;

pub use decide::{DecideError, SynDecision, SynRequest};
pub use udp_decide::{UdpDecisionStats, UdpFlowDecision, UdpFlowRequest, UDP_HELD_FLOWS};

/// Names one connection. Stale handles (of a connection that was freed) are detected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnHandle {
    idx: u32,
    gen: u32,
}

impl ConnHandle {
    /// A small integer unique among live connections (the slot index).
    pub fn index(self) -> usize {
        self.idx as usize
    }
}

/// Names one listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListenerHandle(u32);

impl ListenerHandle {
    /// A small integer unique among live listeners.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Something the application should know about. Drain with [`Stack::poll_event`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A listener has a connection ready to [`Stack::accept`].
    Incoming(ListenerHandle),
    /// An active open completed: the connection is ESTABLISHED.
    Connected(ConnHandle),
    /// New data (or the peer's FIN) can be read.
    Readable(ConnHandle),
    /// Room opened in the send buffer after a write found it full: at least a third
    /// of it (free space at least half of what is queued, as Linux's
    /// `sk_stream_write_space`), so the application refills it in large writes.
    Writable(ConnHandle),
    /// The connection reached CLOSED; `error` says why if it was not a clean close.
    Closed(ConnHandle, Option<ConnError>),
}

/// One packet written by [`Stack::poll_transmit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit {
    /// Length of the IP packet at the start of the buffer.
    pub len: usize,
    /// Set when the packet is a TCP super-segment (only with [`Config::tso_max`]): its
    /// payload is larger than one segment of the connection, and a device with TCP
    /// segmentation offload must cut it into segments carrying this many payload
    /// bytes each (the connection's MSS less the options of this segment; the last
    /// segment may be shorter). `None` for a packet that goes out as it is.
    pub segment_size: Option<u16>,
}

/// Stack-wide counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StackStats {
    /// IP packets handed to `handle_packet`.
    pub packets_in: u64,
    /// Packets written by `poll_transmit`.
    pub packets_out: u64,
    /// Packets dropped because they did not parse (bad lengths, options, ...).
    pub malformed: u64,
    /// Packets dropped for a bad checksum.
    pub bad_checksum: u64,
    /// Packets for addresses that are not ours, or of other protocols.
    pub not_for_us: u64,
    /// TCP segments that matched no connection or listener.
    pub no_connection: u64,
    /// RSTs sent for segments that matched nothing or were unacceptable.
    pub rsts_sent: u64,
    /// SYNs dropped because a listener's SYN or accept queue was full.
    pub listen_overflows: u64,
    /// ICMP errors applied to a connection.
    pub icmp_applied: u64,
    /// ICMP errors ignored (no such connection, or the quoted sequence number was not
    /// in flight: RFC 5927 §4.1).
    pub icmp_ignored: u64,
    /// Packets that did not fit the caller's buffer.
    pub emit_errors: u64,
    /// Packets handed in that were larger than [`Config::mtu`]: GRO/TSO
    /// super-segments from an offloading device.
    pub super_packets_in: u64,
    /// TCP super-segments written by `poll_transmit` (those with a
    /// [`Transmit::segment_size`]).
    pub super_packets_out: u64,
    /// Length of the largest packet handed in.
    pub largest_packet_in: u64,
    /// Length of the largest packet written.
    pub largest_packet_out: u64,
    /// UDP and ICMP echo counters (issue 15).
    pub udp: crate::udp::UdpStats,
    /// SYNs dropped because the stack held [`Config::max_connections`].
    pub connection_limit_drops: u64,
    /// Connections reset at close because [`Config::max_orphans`] orphans were
    /// already finishing (Linux `TCPAbortOnMemory`).
    pub orphans_reset: u64,
    /// Segments that matched no connection and came from or went to a broadcast,
    /// multicast or unspecified address or port 0: dropped unanswered, whether a
    /// listener or the intercept would have taken them (RFC 1122 §4.2.3.10).
    pub bad_address: u64,
    /// SYN-ACKs sent with a SYN cookie instead of a queued half-open connection
    /// (RFC 4987 §3.6; Linux `SyncookiesSent`).
    pub syncookies_sent: u64,
    /// ACKs that returned a valid SYN cookie and became a connection (Linux
    /// `SyncookiesRecv`).
    pub syncookies_accepted: u64,
    /// ACKs to a listener that had sent cookies lately whose cookie was invalid,
    /// expired or named options switched off since: answered with RST (Linux
    /// `SyncookiesFailed`).
    pub syncookies_rejected: u64,
}

#[derive(Debug)]
struct Slot {
    gen: u32,
    conn: Option<Box<Connection>>,
    /// The application holds a handle to it.
    app_owned: bool,
    /// Present in the demux table.
    in_table: bool,
    /// Present in the transmit queue.
    queued: bool,
    /// Listed in `mem_waiters`.
    mem_wait: bool,
    /// The connection was compacted into this TIME-WAIT record (`conn` is `None`):
    /// the slot stays reserved so the handle keeps naming it until the record ends.
    tw: Option<u32>,
}

#[derive(Debug)]
struct Listener {
    local: SocketAddr,
    backlog: usize,
    syn_received: usize,
    accept_queue: VecDeque<ConnHandle>,
    /// TCP Fast Open switch, queue and key (stack/fastopen.rs).
    tfo: crate::tcp::fastopen::ListenerFastOpen,
    /// MSS clamp for its connections (TCP_MAXSEG on the listening socket).
    max_segment: Option<u16>,
    /// When it last sent a SYN cookie: it takes cookie ACKs for a cookie's lifetime
    /// after (stack/syncookie.rs).
    cookie_at: Option<Instant>,
}

/// Demux table values with this bit set name a TIME-WAIT record, not a slot.
const TW_TAG: u32 = 1 << 31;

/// The earlier of two optional deadlines (`None` when neither is set).
#[inline]
fn earlier(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// Freed connection boxes kept for reuse, so churn does not hit the allocator.
const SPARE_BOXES: usize = 16;

/// An ACK a TIME-WAIT record owes: ends, header, and (ISS, IRS, window shift, RTO in
/// µs) for the trace.
type TwAck = (SocketAddr, SocketAddr, TcpRepr, (u32, u32, u8, u32));

/// The TCP engine for many connections.
///
/// # Driving order
///
/// The engine does no I/O and reads no clock. A driver (the simulator, the tokio
/// runtime, the script runner) repeats:
///
/// 1. feed input: [`handle_packet`](Stack::handle_packet) for each arriving IP packet,
///    [`handle_timeout`](Stack::handle_timeout) when the deadline from
///    [`poll_timeout`](Stack::poll_timeout) has passed, and application calls
///    (`connect`, `send`, `recv`, `close`, ...);
/// 2. drain output: call [`poll_transmit`](Stack::poll_transmit) until it returns
///    `None`, sending each packet; drain [`poll_event`](Stack::poll_event);
/// 3. sleep until the next packet or [`poll_timeout`](Stack::poll_timeout).
///
/// `now` must never go backwards between calls. All time is [`Instant`], which the
/// driver maps from its own clock (virtual or real).
#[derive(Debug)]
pub struct Stack {
    cfg: Config,
    addrs: Vec<IpAddr>,
    /// Subnet-directed broadcast addresses the driver declared (stack/discard.rs).
    broadcasts: Vec<IpAddr>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Live connections by 4-tuple (slot index).
    table: Demux<u32>,
    /// Compact TIME-WAIT records by 4-tuple (record index with `TW_TAG`). Kept apart
    /// from `table` so that 100,000 records do not make every live connection's
    /// lookup a cache miss in a table of megabytes.
    tw_table: Demux<u32>,
    listeners: Vec<Option<Listener>>,
    listen_map: HashMap<(Option<IpAddr>, u16), u32, TupleHashBuilder>,
    any_listener: Option<u32>,
    timers: TimerQueue,
    /// Orphaned connections in TIME-WAIT, reduced to what RFC 9293 §3.10.7.4 needs.
    tw: TimeWaitTable,
    tw_acks: VecDeque<TwAck>,
    /// Freed connection boxes, reused by the next connections (the boxes themselves
    /// are the point: a new connection is written into one without allocating).
    #[allow(clippy::vec_box)]
    spare: Vec<Box<Connection>>,
    dirty: VecDeque<u32>,
    rsts: VecDeque<(SocketAddr, SocketAddr, TcpRepr)>,
    events: VecDeque<Event>,
    trace: Option<VecDeque<TraceEvent>>,
    isn: IsnGenerator,
    ports: PortAllocator,
    challenge_budget: u32,
    /// The device refuses every packet (stack/egress.rs).
    egress_blocked: bool,
    /// Draws of the stack-wide challenge-ACK budget (challenge.rs).
    challenge_draw: ChallengeDraw,
    budget_epoch: Instant,
    rst_budget: u32,
    live: usize,
    stats: StackStats,
    /// Buffer bytes of all connections against the budget (memory.rs).
    mem: BufferMemory,
    /// Connections whose application write found no buffer memory (woken with
    /// `Writable` when memory is freed).
    mem_waiters: Vec<ConnHandle>,
    /// UDP sockets, intercepted flows, ICMP output (udp.rs, stack/udp.rs).
    udp: crate::udp::UdpState,
    /// Live connections the application has let go of (stack/limits.rs).
    orphans: usize,
    /// TCP Fast Open server keys (RFC 7413 §4.1.2).
    tfo_keys: crate::tcp::fastopen::ServerKeys,
    /// TCP Fast Open client cookie cache (RFC 7413 §4.1.3).
    tfo_cache: crate::tcp::fastopen::ClientCache,
    /// SYN cookie keys (RFC 4987 §3.6; tcp/syncookie.rs).
    cookies: crate::tcp::syncookie::CookieKeys,
    /// SYNs held for the application's decision (stack/decide.rs); `None`: off.
    decide: Option<Box<decide::SynDecisions>>,
    /// UDP flows held for the application's decision (stack/udp_decide.rs); `None`: off.
    udp_decide: Option<Box<udp_decide::UdpDecisions>>,
    /// Unhandled packets kept for the application (stack/raw.rs).
    raw: raw::RawTap,
    /// The IP ECN codepoint of the packet being handled (RFC 3168 §5; tcp/ecn.rs).
    rx_ecn: u8,
}

impl Stack {
    /// A stack with `cfg`, keyed by `secret` (for ISNs, ephemeral ports and the demux
    /// hash: pass 16 random bytes; tests pass fixed ones for repeatable runs).
    pub fn new(cfg: Config, secret: [u8; 16]) -> Stack {
        let mut port_key = secret;
        port_key.reverse();
        let hash_key = u64::from_le_bytes(secret[..8].try_into().unwrap_or([0; 8]))
            ^ u64::from_le_bytes(secret[8..].try_into().unwrap_or([0; 8])).rotate_left(17);
        let ports = PortAllocator::new(cfg.ephemeral_ports.clone(), port_key);
        let mem = BufferMemory::new(cfg.memory_pressure, cfg.memory_limit);
        let tfo_keys = Stack::initial_fastopen_keys(cfg.fastopen_key, &secret);
        let mut challenge_draw = ChallengeDraw::new(secret);
        let challenge_budget = challenge_draw.next_budget(cfg.challenge_ack_limit);
        Stack {
            udp: crate::udp::UdpState::new(cfg.icmp_error_burst, hash_key),
            challenge_budget,
            egress_blocked: false,
            challenge_draw,
            rst_budget: cfg.rst_limit,
            cfg,
            addrs: Vec::new(),
            broadcasts: Vec::new(),
            slots: Vec::new(),
            free: Vec::new(),
            table: Demux::new(hash_key),
            tw_table: Demux::new(hash_key),
            rx_ecn: 0,
            listeners: Vec::new(),
            listen_map: HashMap::with_hasher(TupleHashBuilder::new(hash_key ^ 1)),
            any_listener: None,
            timers: TimerQueue::new(),
            tw: TimeWaitTable::default(),
            tw_acks: VecDeque::new(),
            spare: Vec::new(),
            dirty: VecDeque::new(),
            rsts: VecDeque::new(),
            events: VecDeque::new(),
            trace: None,
            isn: IsnGenerator::new(secret),
            ports,
            budget_epoch: Instant::ZERO,
            live: 0,
            stats: StackStats::default(),
            mem,
            mem_waiters: Vec::new(),
            orphans: 0,
            tfo_keys,
            decide: None,
            udp_decide: None,
            raw: raw::RawTap::default(),
            tfo_cache: crate::tcp::fastopen::ClientCache::new(hash_key ^ 5),
            cookies: crate::tcp::syncookie::CookieKeys::new(secret),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Change the configuration of a running stack (like a `sysctl`). Settings read
    /// when a connection is made or a segment is chosen (the options offered,
    /// retries, timeouts, Fast Open) apply from then on; the MTU, the buffer and
    /// memory sizes, the ephemeral port range and `fastopen_key` (see
    /// [`set_fastopen_key`](Stack::set_fastopen_key)) are fixed when the stack is made.
    pub fn update_config(&mut self, f: impl FnOnce(&mut Config)) {
        f(&mut self.cfg);
    }

    /// Assign an address to the stack. Packets to other addresses are ignored (unless
    /// an intercepting listener exists).
    pub fn add_address(&mut self, addr: IpAddr) {
        if !self.addrs.contains(&addr) {
            self.addrs.push(addr);
        }
    }

    /// The stack's addresses.
    pub fn addresses(&self) -> &[IpAddr] {
        &self.addrs
    }

    /// Switch tracing on or off. When on, every segment and state change is recorded
    /// for [`poll_trace`](Stack::poll_trace).
    pub fn set_trace(&mut self, on: bool) {
        if on {
            self.trace.get_or_insert_with(VecDeque::new);
        } else {
            self.trace = None;
        }
    }

    /// The next trace event.
    pub fn poll_trace(&mut self) -> Option<TraceEvent> {
        self.trace.as_mut()?.pop_front()
    }

    /// Counters.
    pub fn stats(&self) -> StackStats {
        StackStats {
            udp: self.udp.stats,
            ..self.stats
        }
    }

    /// Number of connections the stack holds (any state except freed), TIME-WAIT
    /// ones included.
    pub fn connection_count(&self) -> usize {
        self.live + self.tw.len()
    }

    /// The largest packet `poll_transmit` may write: size its buffer at least this.
    pub fn max_packet_size(&self) -> usize {
        (60 + 60 + self.cfg.mtu.max(self.cfg.tso_max + 120)).min(65535 + 60)
    }

    // ---------------------------------------------------------------- driving

    /// Run the timers that are due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.refill_budgets(now);
        while let Some(idx) = self.timers.pop_expired(now) {
            if self.slots.get(idx).is_some_and(|s| s.conn.is_some()) {
                self.with_conn(idx as u32, now, |c, env| c.handle_timeout(env));
            }
        }
        // RFC 9293 §3.10.8: when the time-wait timeout expires, delete the TCB.
        while let Some(ti) = self.tw.pop_expired(now) {
            self.retire_time_wait(now, ti);
        }
        self.handle_timeout_udp(now);
        self.handle_timeout_decisions(now);
        self.handle_timeout_udp_decisions(now);
    }

    /// The next time [`handle_timeout`](Stack::handle_timeout) has work to do.
    #[inline]
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        let tcp = earlier(self.timers.next_deadline(), self.tw.next_deadline());
        if self.udp.flow_deadlines.is_empty() && self.decide.is_none() && self.udp_decide.is_none()
        {
            // TCP only (the common case, asked after every call): nothing else to ask.
            return tcp;
        }
        self.poll_timeout_other(tcp)
    }

    /// [`poll_timeout`](Stack::poll_timeout) with UDP flows or decisions pending:
    /// the earliest of `tcp` and their deadlines.
    #[inline(never)]
    fn poll_timeout_other(&self, tcp: Option<Instant>) -> Option<Instant> {
        let t = earlier(tcp, self.udp.next_deadline());
        let t = earlier(t, self.decisions_deadline());
        earlier(t, self.udp_decisions_deadline())
    }

    /// The next application event.
    #[inline]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn refill_budgets(&mut self, now: Instant) {
        if now.saturating_duration_since(self.budget_epoch) >= Duration::from_secs(1) {
            self.budget_epoch = now;
            // RFC 5961 §7, randomised as Linux does (challenge.rs: CVE-2016-5696).
            self.challenge_budget = self
                .challenge_draw
                .next_budget(self.cfg.challenge_ack_limit);
            self.rst_budget = self.cfg.rst_limit;
        }
    }

    fn is_local(&self, ip: IpAddr) -> bool {
        self.addrs.contains(&ip)
    }

    fn insert(&mut self, conn: Connection, app_owned: bool) -> u32 {
        let tuple = (conn.local, conn.remote);
        let idx = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(Slot {
                    gen: 0,
                    conn: None,
                    app_owned: false,
                    in_table: false,
                    queued: false,
                    mem_wait: false,
                    tw: None,
                });
                (self.slots.len() - 1) as u32
            }
        };
        let boxed = match self.spare.pop() {
            Some(mut b) => {
                let rack = b.take_rack_for_reuse();
                *b = conn;
                b.rack_spare = rack;
                b
            }
            None => Box::new(conn),
        };
        let slot = &mut self.slots[idx as usize];
        slot.conn = Some(boxed);
        slot.app_owned = app_owned;
        slot.in_table = true;
        self.table.insert(tuple, idx);
        self.live += 1;
        idx
    }

    /// The TIME-WAIT record (tagged with `TW_TAG`) for a 4-tuple, if any.
    #[inline]
    fn time_wait_lookup(
        &self,
        local_ip: IpAddr,
        local_port: u16,
        remote_ip: IpAddr,
        remote_port: u16,
    ) -> Option<u32> {
        if self.tw_table.is_empty() {
            return None;
        }
        self.tw_table
            .lookup(local_ip, local_port, remote_ip, remote_port)
    }

    fn handle_of(&self, idx: u32) -> ConnHandle {
        ConnHandle {
            idx,
            gen: self.slots[idx as usize].gen,
        }
    }

    fn check(&self, h: ConnHandle) -> Option<u32> {
        let s = self.slots.get(h.idx as usize)?;
        (s.gen == h.gen && s.conn.is_some()).then_some(h.idx)
    }

    fn mark_dirty(&mut self, idx: u32) {
        let slot = &mut self.slots[idx as usize];
        if !slot.queued && slot.conn.is_some() {
            slot.queued = true;
            self.dirty.push_back(idx);
        }
    }

    /// Run `f` on a connection with an [`Env`], then settle the consequences.
    fn with_conn<R>(
        &mut self,
        idx: u32,
        now: Instant,
        f: impl FnOnce(&mut Connection, &mut Env<'_>) -> R,
    ) -> Option<R> {
        let conn = self.slots.get_mut(idx as usize)?.conn.as_mut()?;
        let mut env = Env {
            cfg: &self.cfg,
            now,
            trace: self.trace.as_mut(),
            challenge_budget: &mut self.challenge_budget,
            mem: self.mem.view(),
            egress_blocked: self.egress_blocked,
        };
        let r = f(conn, &mut env);
        if conn.wants_poll() {
            self.mark_dirty(idx);
        }
        self.after_call(idx);
        Some(r)
    }

    /// After any call into a connection: events, accept queue, timers, freeing.
    fn after_call(&mut self, idx: u32) {
        self.recharge(idx);
        let Some(conn) = self.slots[idx as usize].conn.as_deref() else {
            return;
        };
        if conn.wake == 0 && conn.state != State::Closed {
            // Nothing to announce or free (the common case): only the deadline.
            self.settle(idx);
            return;
        }
        self.after_call_wake(idx);
    }

    /// [`after_call`](Stack::after_call) for a connection that raised wake-ups or
    /// closed.
    fn after_call_wake(&mut self, idx: u32) {
        if self.slots[idx as usize]
            .conn
            .as_ref()
            .is_some_and(|c| c.wake & wake::FASTOPEN != 0)
        {
            self.fastopen_after_call(idx);
        }
        let h = self.handle_of(idx);
        let slot = &mut self.slots[idx as usize];
        let Some(conn) = slot.conn.as_mut() else {
            return;
        };
        let w = core::mem::take(&mut conn.wake);
        let state = conn.state;
        if w & wake::ESTABLISHED_PASSIVE != 0 {
            if let Some(l) = conn.listener {
                if let Some(lst) = self.listeners[l as usize].as_mut() {
                    lst.syn_received = lst.syn_received.saturating_sub(1);
                    lst.accept_queue.push_back(h);
                    self.events.push_back(Event::Incoming(ListenerHandle(l)));
                }
            }
        }
        if slot.app_owned {
            if w & wake::CONNECTED != 0 {
                self.events.push_back(Event::Connected(h));
            }
            if w & wake::READABLE != 0 {
                self.events.push_back(Event::Readable(h));
            }
            if w & wake::WRITABLE != 0 && state != State::Closed {
                self.events.push_back(Event::Writable(h));
            }
        }
        if state == State::Closed {
            if conn.pend.rst_pending {
                conn.pend.rst_pending = false;
                let (local, remote) = (conn.local, conn.remote);
                let (seq, ack) = (conn.snd_max.0, conn.rcv_nxt.0);
                self.queue_rst(local, remote, seq, Some(ack));
            }
            let slot = &mut self.slots[idx as usize];
            let conn = slot.conn.as_ref().expect("conn");
            let tuple = (conn.local, conn.remote);
            let error = conn.error;
            let listener = conn.listener;
            let in_accept_queue = listener.is_some_and(|l| {
                self.listeners[l as usize]
                    .as_ref()
                    .is_some_and(|lst| lst.accept_queue.contains(&h))
            });
            if slot.in_table {
                slot.in_table = false;
                self.table.remove(&tuple);
            }
            self.timers.cancel(idx as usize);
            if slot.app_owned {
                if w & wake::CLOSED != 0 {
                    self.events.push_back(Event::Closed(h, error));
                }
            } else if !in_accept_queue {
                if let Some(l) = listener {
                    if let Some(lst) = self.listeners[l as usize].as_mut() {
                        lst.syn_received = lst.syn_received.saturating_sub(1);
                    }
                }
                self.free_slot(idx);
            }
            return;
        }
        self.settle(idx);
    }

    /// After `poll_segment` found nothing to send: it changed no state and raised no
    /// event, so only the deadline (and TIME-WAIT compaction) can need an update.
    fn after_idle_poll(&mut self, idx: u32) {
        let Some(conn) = self.slots[idx as usize].conn.as_ref() else {
            return;
        };
        if conn.wake != 0 || conn.state == State::Closed {
            self.after_call(idx);
        } else {
            self.settle(idx);
        }
    }

    /// The end of every call into a live connection: compact an orphan that reached
    /// TIME-WAIT, else bring its deadline in the timer queue up to date.
    fn settle(&mut self, idx: u32) {
        let slot = &self.slots[idx as usize];
        let Some(conn) = slot.conn.as_ref() else {
            return;
        };
        if !slot.app_owned && !slot.queued && conn.listener.is_none() && conn.can_compact() {
            self.compact_time_wait(idx);
            return;
        }
        match conn.next_deadline() {
            Some(t) => {
                if self.timers.deadline(idx as usize) != Some(t) {
                    self.timers.schedule(idx as usize, t);
                }
            }
            None => self.timers.cancel(idx as usize),
        }
    }

    fn free_slot(&mut self, idx: u32) {
        let slot = &mut self.slots[idx as usize];
        if let Some(b) = slot.conn.take() {
            self.mem.recharge(b.mem_charged as usize, 0);
            self.live -= 1;
            self.orphans -= usize::from(b.orphan);
            if self.spare.len() < SPARE_BOXES {
                self.spare.push(b);
            }
        }
        slot.gen = slot.gen.wrapping_add(1);
        slot.app_owned = false;
        slot.queued = false;
        slot.mem_wait = false;
        self.free.push(idx);
    }
}
