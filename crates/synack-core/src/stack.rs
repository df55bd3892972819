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
use crate::hash::{Demux, TupleHashBuilder};
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
use core::net::{IpAddr, SocketAddr};
use std::collections::{HashMap, VecDeque};
use synack_wire::{
    emit_tcp_packet, emit_tcp_packet_summed, parse_packet, parse_packet_deferred, IpRepr, Packet,
    TcpFlags, TcpOptions, TcpPacket, TcpRepr, PROTO_TCP,
};

mod buffers;
mod discard;
mod fastopen;
mod icmp;
mod invariants;
mod limits;
mod time_wait;
mod udp;

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
    /// Room opened in the send buffer.
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
}

/// Demux table values with this bit set name a TIME-WAIT record, not a slot.
const TW_TAG: u32 = 1 << 31;

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
            udp: crate::udp::UdpState::new(cfg.icmp_error_burst),
            challenge_budget,
            challenge_draw,
            rst_budget: cfg.rst_limit,
            cfg,
            addrs: Vec::new(),
            broadcasts: Vec::new(),
            slots: Vec::new(),
            free: Vec::new(),
            table: Demux::new(hash_key),
            tw_table: Demux::new(hash_key),
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
            tfo_cache: Default::default(),
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

    // ---------------------------------------------------------------- listeners

    /// Listen on `local` (an unspecified IP listens on every address of that family).
    /// `backlog` bounds the connections waiting for `accept` together with those still
    /// in SYN-RECEIVED (0 picks the configured default); half-open ones are further
    /// bounded by `Config::syn_backlog`. SYNs beyond that are dropped and counted.
    pub fn listen(
        &mut self,
        local: SocketAddr,
        backlog: usize,
    ) -> Result<ListenerHandle, ListenError> {
        let ip = (!local.ip().is_unspecified()).then_some(local.ip());
        if let Some(ip) = ip {
            if !self.addrs.contains(&ip) {
                return Err(ListenError::BadAddress);
            }
        }
        if self.listen_map.contains_key(&(ip, local.port())) {
            return Err(ListenError::AddrInUse);
        }
        let idx = self.new_listener(local, backlog);
        self.listen_map.insert((ip, local.port()), idx);
        Ok(ListenerHandle(idx))
    }

    /// Accept connections to *any* address and port that reach the stack (for VPN /
    /// tun2socks use). [`Stack::local_addr`] of an accepted connection is the original
    /// destination. Specific listeners take precedence.
    pub fn listen_any(&mut self, backlog: usize) -> Result<ListenerHandle, ListenError> {
        if self.any_listener.is_some() {
            return Err(ListenError::AddrInUse);
        }
        let idx = self.new_listener("0.0.0.0:0".parse().expect("literal"), backlog);
        self.any_listener = Some(idx);
        Ok(ListenerHandle(idx))
    }

    fn new_listener(&mut self, local: SocketAddr, backlog: usize) -> u32 {
        let backlog = if backlog == 0 {
            self.cfg.backlog
        } else {
            backlog
        };
        let l = Listener {
            local,
            backlog,
            syn_received: 0,
            accept_queue: VecDeque::new(),
            tfo: self.listener_fastopen_at_listen(backlog),
            max_segment: None,
        };
        if let Some(i) = self.listeners.iter().position(Option::is_none) {
            self.listeners[i] = Some(l);
            i as u32
        } else {
            self.listeners.push(Some(l));
            (self.listeners.len() - 1) as u32
        }
    }

    /// Take an established connection from a listener's accept queue.
    pub fn accept(&mut self, listener: ListenerHandle) -> Option<ConnHandle> {
        let l = self.listeners.get_mut(listener.0 as usize)?.as_mut()?;
        let h = l.accept_queue.pop_front()?;
        let slot = &mut self.slots[h.idx as usize];
        slot.app_owned = true;
        if let Some(c) = slot.conn.as_mut() {
            c.listener = None;
            let state = c.state;
            if state == State::Closed {
                let err = c.error;
                self.events.push_back(Event::Closed(h, err));
            } else if !c.recv.is_empty() || c.fin_received {
                self.events.push_back(Event::Readable(h));
            }
        }
        Some(h)
    }

    /// Clamp the MSS of a listener's connections, the one its SYN-ACKs offer
    /// included (Linux: `TCP_MAXSEG` on the listening socket).
    pub fn set_listener_max_segment(&mut self, listener: ListenerHandle, mss: Option<u16>) {
        if let Some(Some(l)) = self.listeners.get_mut(listener.0 as usize) {
            l.max_segment = mss;
        }
    }

    /// The local address a listener listens on.
    pub fn listener_addr(&self, listener: ListenerHandle) -> Option<SocketAddr> {
        Some(self.listeners.get(listener.0 as usize)?.as_ref()?.local)
    }

    /// Stop listening. Connections not yet accepted are reset.
    pub fn close_listener(&mut self, now: Instant, listener: ListenerHandle) {
        let Some(l) = self
            .listeners
            .get_mut(listener.0 as usize)
            .and_then(Option::take)
        else {
            return;
        };
        self.listen_map.retain(|_, v| *v != listener.0);
        if self.any_listener == Some(listener.0) {
            self.any_listener = None;
        }
        for h in l.accept_queue {
            self.slots[h.idx as usize].app_owned = true;
            self.abort(now, h);
        }
        // Half-open connections still pointing at it.
        let pending: Vec<u32> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| {
                s.conn
                    .as_ref()
                    .is_some_and(|c| c.listener == Some(listener.0))
            })
            .map(|(i, _)| i as u32)
            .collect();
        for idx in pending {
            let h = ConnHandle {
                idx,
                gen: self.slots[idx as usize].gen,
            };
            self.slots[idx as usize].app_owned = true;
            self.abort(now, h);
        }
    }

    // ---------------------------------------------------------------- connections

    /// Open a connection to `remote` (RFC 9293 §3.10.1). `local` picks the local address
    /// and/or port; `None` (or an unspecified IP / port 0) lets the stack choose an
    /// address of the right family and an ephemeral port (RFC 6056).
    pub fn connect(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        local: Option<SocketAddr>,
    ) -> Result<ConnHandle, ConnectError> {
        let h = self.connect_deferred(now, remote, local, None)?;
        self.with_conn(h.idx, now, |c, env| c.active_open(env));
        Ok(h)
    }

    /// [`connect`](Stack::connect) up to the SYN: the connection exists (CLOSED), its
    /// ends and ISS are chosen, and `active_open` has not run. `opts`: the options to
    /// start with (else the configuration's).
    fn connect_deferred(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        local: Option<SocketAddr>,
        opts: Option<SocketOptions>,
    ) -> Result<ConnHandle, ConnectError> {
        // RFC 1122 §4.2.3.10: an OPEN to a broadcast or multicast address is an error.
        if !self.is_acceptable_end(remote) {
            return Err(ConnectError::BadAddress);
        }
        if self.connection_count() >= self.cfg.max_connections {
            return Err(ConnectError::TooManyConnections);
        }
        let want_ip = local.map(|l| l.ip()).filter(|ip| !ip.is_unspecified());
        let local_ip = match want_ip {
            Some(ip) => ip,
            None => *self
                .addrs
                .iter()
                .find(|a| a.is_ipv4() == remote.is_ipv4())
                .ok_or(ConnectError::BadAddress)?,
        };
        if local_ip.is_ipv4() != remote.is_ipv4() {
            return Err(ConnectError::BadAddress);
        }
        let port = match local.map(|l| l.port()).filter(|p| *p != 0) {
            Some(p) => {
                let tuple = (SocketAddr::new(local_ip, p), remote);
                if self.table.contains_key(&tuple) || self.tw_table.contains_key(&tuple) {
                    return Err(ConnectError::AddrInUse);
                }
                p
            }
            None => {
                let (table, tw_table) = (&self.table, &self.tw_table);
                let listen_map = &self.listen_map;
                self.ports
                    .allocate(local_ip, remote, |p| {
                        table
                            .lookup(local_ip, p, remote.ip(), remote.port())
                            .is_some()
                            || tw_table
                                .lookup(local_ip, p, remote.ip(), remote.port())
                                .is_some()
                            || listen_map.contains_key(&(None, p))
                            || listen_map.contains_key(&(Some(local_ip), p))
                    })
                    .ok_or(ConnectError::NoPorts)?
            }
        };
        let local = SocketAddr::new(local_ip, port);
        let iss = self.isn.isn(now, local, remote);
        let opts = opts.unwrap_or_else(|| SocketOptions::from_config(&self.cfg));
        let conn = Connection::new(&self.cfg, opts, local, remote, iss, now);
        let idx = self.insert(conn, true);
        Ok(self.handle_of(idx))
    }

    /// Queue data for sending (RFC 9293 §3.10.2). Returns how many bytes were taken.
    pub fn send(&mut self, h: ConnHandle, data: &[u8]) -> Result<usize, SendError> {
        let idx = self.check(h).ok_or(SendError::InvalidHandle)?;
        let c = self.slots[idx as usize]
            .conn
            .as_mut()
            .ok_or(SendError::InvalidHandle)?;
        if c.state == State::Closed {
            return Err(match c.error {
                Some(e) => SendError::Closed(e),
                None => SendError::Shutdown,
            });
        }
        if c.fin_queued || !c.state.can_send() {
            return Err(SendError::Shutdown);
        }
        if data.is_empty() {
            return Ok(0);
        }
        let n = self.write_within_budget(idx, h, data);
        if n == 0 {
            return Err(SendError::WouldBlock);
        }
        self.mark_dirty(idx);
        Ok(n)
    }

    /// Mark the end of what has been written to `h` so far as the end of a record
    /// (Linux `MSG_EOR`): no segment will carry bytes of this record and the next,
    /// and the record's last segment carries PSH.
    pub fn end_record(&mut self, h: ConnHandle) {
        if let Some(idx) = self.check(h) {
            if let Some(c) = self.slots[idx as usize].conn.as_mut() {
                c.end_record();
            }
        }
    }

    /// Read received data (RFC 9293 §3.10.3). `Ok(0)` means the peer closed its side
    /// and everything was read (end of stream).
    pub fn recv(&mut self, h: ConnHandle, buf: &mut [u8]) -> Result<usize, RecvError> {
        let idx = self.check(h).ok_or(RecvError::InvalidHandle)?;
        let c = self.slots[idx as usize]
            .conn
            .as_mut()
            .ok_or(RecvError::InvalidHandle)?;
        let n = c.read(buf);
        if n > 0 {
            if c.pend.ack_now {
                self.mark_dirty(idx);
            }
            self.recharge(idx);
            return Ok(n);
        }
        if buf.is_empty() {
            return Ok(0);
        }
        if c.fin_received {
            return Ok(0);
        }
        match c.state {
            State::Closed => match c.error {
                Some(e) => Err(RecvError::Closed(e)),
                None => Ok(0),
            },
            State::SynSent | State::SynReceived => Err(RecvError::WouldBlock),
            _ => Err(RecvError::WouldBlock),
        }
    }

    /// Read received data in place, without copying it out: `f` is shown the
    /// readable bytes as one or two slices (two when they wrap around the receive
    /// ring; stream order is the first then the second) and returns how many of them
    /// it consumed (clamped to what it was shown). Returns that count, like
    /// [`recv`](Stack::recv) returns the bytes copied: `Ok(0)` is end of stream, and
    /// `f` is not called when nothing is readable.
    pub fn recv_with(
        &mut self,
        h: ConnHandle,
        f: impl FnOnce(&[u8], &[u8]) -> usize,
    ) -> Result<usize, RecvError> {
        let idx = self.check(h).ok_or(RecvError::InvalidHandle)?;
        let c = self.slots[idx as usize]
            .conn
            .as_mut()
            .ok_or(RecvError::InvalidHandle)?;
        if !c.recv.is_empty() {
            let n = c.read_with(f);
            if c.pend.ack_now {
                self.mark_dirty(idx);
            }
            self.recharge(idx);
            return Ok(n);
        }
        // Nothing readable: the same answers as `recv` with a non-empty buffer.
        self.recv(h, &mut [0u8; 1])
    }

    /// Close the sending side: FIN follows the queued data (a half-close; RFC 9293
    /// §3.10.4). Reading continues until the peer closes too.
    pub fn shutdown(&mut self, now: Instant, h: ConnHandle) -> Result<(), SendError> {
        let idx = self.check(h).ok_or(SendError::InvalidHandle)?;
        self.with_conn(idx, now, |c, env| {
            if c.fin_queued {
                return;
            }
            match c.state {
                State::SynSent => c.set_state(State::Closed, env),
                State::SynReceived => c.fin_queued = true,
                State::Established => {
                    c.fin_queued = true;
                    c.set_state(State::FinWait1, env);
                }
                State::CloseWait => {
                    c.fin_queued = true;
                    c.set_state(State::LastAck, env);
                }
                _ => {}
            }
        });
        Ok(())
    }

    /// Close the connection and give up the handle (RFC 9293 §3.10.4). Queued data is
    /// still delivered and the FIN handshake completes in the background. If received
    /// data was left unread, the connection is reset instead (RFC 2525 §2.17).
    pub fn close(&mut self, now: Instant, h: ConnHandle) {
        let Some(idx) = self.check(h) else { return };
        let unread = self.slots[idx as usize]
            .conn
            .as_ref()
            .is_some_and(|c| !c.recv.is_empty() && c.state != State::Closed);
        if unread {
            self.abort(now, h);
            return;
        }
        let _ = self.shutdown(now, h);
        if self.orphan_cap_reached(idx) {
            // Linux tcp_close with tcp_check_oom: too many orphans, reset this one.
            self.stats.orphans_reset += 1;
            self.abort(now, h);
            return;
        }
        self.slots[idx as usize].app_owned = false;
        self.set_orphan(idx);
        if let Some(c) = self.slots[idx as usize].conn.as_mut() {
            if c.state == State::FinWait2 {
                c.linger_at = Some(now + c.opts.fin_wait2_timeout);
            }
        }
        self.after_call(idx);
    }

    /// Abort: send RST if the peer knows of the connection, free it at once
    /// (RFC 9293 §3.10.5; SO_LINGER with 0 timeout).
    pub fn abort(&mut self, now: Instant, h: ConnHandle) {
        let Some(idx) = self.check(h) else { return };
        self.slots[idx as usize].app_owned = false;
        self.set_orphan(idx);
        let mut ts = None;
        self.with_conn(idx, now, |c, env| {
            if matches!(
                c.state,
                State::SynReceived
                    | State::Established
                    | State::FinWait1
                    | State::FinWait2
                    | State::CloseWait
            ) {
                c.pend.rst_pending = true;
                if c.ts_ok {
                    ts = Some((c.remote.port(), c.ts_now(env.now), c.ts_recent));
                }
            }
            c.fail(ConnError::Aborted, env);
        });
        // RFC 7323 §3.2: once negotiated, TSopt "SHOULD be sent in an <RST>" too
        // (Linux does); the RST was just queued for the closed connection.
        if let (Some((port, val, ecr)), Some((_, _, repr))) = (ts, self.rsts.back_mut()) {
            if repr.flags.contains(TcpFlags::RST) && repr.dst_port == port {
                repr.options.timestamp = Some((val, ecr));
            }
        }
    }

    /// A snapshot of the connection.
    ///
    /// A connection closed by the application and now in TIME-WAIT keeps only a
    /// compact record: its snapshot has the state, ends, ISNs, RTO and window, and
    /// zero counters.
    pub fn info(&self, h: ConnHandle) -> Option<ConnInfo> {
        let Some(idx) = self.check(h) else {
            return self.time_wait_of(h).map(|r| r.info());
        };
        Some(self.slots[idx as usize].conn.as_ref()?.info())
    }

    /// The connection's state (`TimeWait` still for a closed handle whose connection
    /// waits out 2*MSL).
    pub fn state(&self, h: ConnHandle) -> Option<State> {
        let Some(idx) = self.check(h) else {
            return self.time_wait_of(h).map(|_| State::TimeWait);
        };
        Some(self.slots[idx as usize].conn.as_ref()?.state)
    }

    /// Our address of the connection (the original destination for intercepted ones).
    pub fn local_addr(&self, h: ConnHandle) -> Option<SocketAddr> {
        let Some(idx) = self.check(h) else {
            return self.time_wait_of(h).map(|r| r.local);
        };
        Some(self.slots[idx as usize].conn.as_ref()?.local)
    }

    /// The peer's address.
    pub fn peer_addr(&self, h: ConnHandle) -> Option<SocketAddr> {
        let Some(idx) = self.check(h) else {
            return self.time_wait_of(h).map(|r| r.remote);
        };
        Some(self.slots[idx as usize].conn.as_ref()?.remote)
    }

    /// Bytes that can be read now.
    pub fn recv_queue(&self, h: ConnHandle) -> usize {
        self.check(h)
            .and_then(|i| self.slots[i as usize].conn.as_ref())
            .map_or(0, |c| c.recv.len())
    }

    /// Room in the send buffer.
    pub fn send_capacity(&self, h: ConnHandle) -> usize {
        self.check(h)
            .and_then(|i| self.slots[i as usize].conn.as_ref())
            .map_or(0, |c| c.send.free())
    }

    /// True when the peer's FIN has been received and all data before it was read.
    pub fn is_read_closed(&self, h: ConnHandle) -> bool {
        self.check(h)
            .and_then(|i| self.slots[i as usize].conn.as_ref())
            .is_none_or(|c| (c.fin_received || c.state == State::Closed) && c.recv.is_empty())
    }

    /// The connection's socket options.
    pub fn options(&self, h: ConnHandle) -> Option<SocketOptions> {
        let idx = self.check(h)?;
        Some(self.slots[idx as usize].conn.as_ref()?.opts.clone())
    }

    /// Change socket options (TCP_NODELAY, keep-alive, user timeout, ...).
    pub fn set_options(&mut self, now: Instant, h: ConnHandle, f: impl FnOnce(&mut SocketOptions)) {
        let Some(idx) = self.check(h) else { return };
        self.with_conn(idx, now, |c, env| {
            let congestion = c.opts.congestion.clone();
            f(&mut c.opts);
            if c.opts.congestion != congestion {
                let chosen = core::mem::replace(&mut c.opts.congestion, congestion);
                c.set_congestion(chosen);
            }
            if let Some(m) = c.opts.max_segment {
                c.mss = c.mss.min(m.max(64));
            }
            c.keepalive_at = None;
            c.arm_keepalive(env);
        });
    }

    /// Disable or enable Nagle's algorithm.
    pub fn set_nodelay(&mut self, now: Instant, h: ConnHandle, nodelay: bool) {
        self.set_options(now, h, |o| o.nodelay = nodelay);
    }

    /// Choose the connection's congestion controller (Linux `TCP_CONGESTION`). Before
    /// the handshake completes it replaces the stack's default; later the new
    /// controller starts from the current cwnd with ssthresh at its initial value.
    pub fn set_congestion(&mut self, now: Instant, h: ConnHandle, algorithm: Algorithm) {
        self.set_options(now, h, |o| o.congestion = algorithm);
    }

    /// Resize the buffers of a connection (SO_SNDBUF / SO_RCVBUF). A buffer sized this
    /// way no longer autotunes.
    pub fn set_buffer_sizes(&mut self, h: ConnHandle, send: Option<usize>, recv: Option<usize>) {
        let Some(idx) = self.check(h) else { return };
        if let Some(c) = self.slots[idx as usize].conn.as_mut() {
            // A size the application chose is kept: autotuning stops for that
            // buffer (as Linux locks it); memory pressure may still shrink it.
            if let Some(s) = send {
                c.send.set_capacity(s);
                c.tune.send_locked = true;
            }
            if let Some(r) = recv {
                c.recv.set_capacity(r);
                c.tune.recv_locked = true;
            }
        }
        self.recharge(idx);
    }

    // ---------------------------------------------------------------- driving

    /// Process one arriving IP packet (IPv4 or IPv6; a TSO/GRO super-segment of up to
    /// 64 KiB is one packet). Malformed packets are counted and dropped.
    pub fn handle_packet(&mut self, now: Instant, bytes: &[u8]) {
        self.handle_packet_inner(now, bytes, self.cfg.verify_checksums);
    }

    /// [`handle_packet`](Stack::handle_packet) without verifying the TCP/ICMP
    /// checksum of this one packet, whatever [`Config::verify_checksums`] says.
    ///
    /// Only for offloading devices whose kernel vouches for the data: a Linux TUN
    /// device with `IFF_VNET_HDR` hands over packets marked `NEEDS_CSUM` (locally
    /// generated, carrying only the pseudo-header sum, like a GSO super-segment) or
    /// `DATA_VALID` (already verified by the kernel). Lengths and headers are still
    /// checked.
    pub fn handle_packet_unchecked(&mut self, now: Instant, bytes: &[u8]) {
        self.handle_packet_inner(now, bytes, false);
    }

    fn handle_packet_inner(&mut self, now: Instant, bytes: &[u8], verify: bool) {
        self.stats.packets_in += 1;
        if bytes.len() > self.cfg.mtu {
            self.stats.super_packets_in += 1;
        }
        self.stats.largest_packet_in = self.stats.largest_packet_in.max(bytes.len() as u64);
        self.refill_budgets(now);
        // Each parse is matched where it is made (no common temporary the parsed
        // headers would be copied through) and the segment is handled by reference.
        // Matched by reference: moving the parsed headers out would copy them in wide
        // pieces just after they were written in narrow ones, which stalls the CPU
        // (a store-to-load forwarding failure on every packet).
        if verify {
            match &parse_packet_deferred(bytes) {
                Ok((Packet::Tcp(p), header_sum)) => self.handle_tcp_packet(now, p, *header_sum),
                Ok((other, _)) => self.handle_other(now, other, bytes, verify),
                Err(e) => self.count_parse_error(e),
            }
        } else {
            match &parse_packet(bytes, false) {
                Ok(Packet::Tcp(p)) => self.handle_tcp_packet(now, p, None),
                Ok(other) => self.handle_other(now, other, bytes, verify),
                Err(e) => self.count_parse_error(e),
            }
        }
    }

    /// A parsed TCP segment; `header_sum` is `Some` when its checksum is still to be
    /// finished (see [`tcp_checksum`](Stack::tcp_checksum)).
    #[inline]
    fn handle_tcp_packet(&mut self, now: Instant, p: &TcpPacket<'_>, header_sum: Option<u32>) {
        // One demux lookup serves the checksum's fast path and the segment.
        let found = self
            .table
            .lookup(p.ip.dst, p.tcp.dst_port, p.ip.src, p.tcp.src_port)
            .or_else(|| self.time_wait_lookup(p.ip.dst, p.tcp.dst_port, p.ip.src, p.tcp.src_port));
        let conn = found.filter(|&i| i & TW_TAG == 0);
        let staged = match header_sum.map(|h| self.tcp_checksum(p, h, conn)) {
            Some(Err(())) => {
                self.stats.bad_checksum += 1;
                // Staging may have allocated the receive ring before the sum failed:
                // charge it to the budget (found by fuzzing: an uncharged ring let a
                // later write pass the memory limit).
                if let Some(idx) = conn {
                    self.recharge(idx);
                }
                return;
            }
            Some(Ok(staged)) => staged,
            None => false,
        };
        self.handle_tcp(now, p, found);
        if staged {
            if let Some(c) = conn.and_then(|idx| self.slots[idx as usize].conn.as_mut()) {
                // Committed by the text step, or the segment was not used.
                c.recv.unstage();
            }
        }
    }

    /// A packet that is not TCP.
    #[cold]
    fn handle_other(&mut self, now: Instant, p: &Packet<'_>, bytes: &[u8], verify: bool) {
        match p {
            Packet::Icmp { icmp, .. } => self.handle_icmp(now, icmp),
            // UDP, ICMP echo (stack/udp.rs), anything else.
            Packet::Other { ip } => self.handle_ip_other(now, ip, bytes, verify),
            _ => self.stats.not_for_us += 1,
        }
    }

    /// Count a packet that did not parse.
    #[cold]
    fn count_parse_error(&mut self, e: &synack_wire::Error) {
        match e {
            synack_wire::Error::BadChecksum { .. } => self.stats.bad_checksum += 1,
            _ => self.stats.malformed += 1,
        }
    }

    /// Finish the TCP checksum check (RFC 9293 §3.1) of a segment parsed with its
    /// payload unsummed. An in-order payload for the connection in slot `conn` is summed
    /// while it is copied into the receive buffer (staged, committed later by the text
    /// step), so its bytes are read once; anything else is summed here. `Ok(true)`: the
    /// connection's receive buffer holds the staged copy. On `Err` (bad checksum) the
    /// staged copy is already forgotten, so a bad segment leaves no trace.
    fn tcp_checksum(
        &mut self,
        p: &TcpPacket<'_>,
        header_sum: u32,
        conn: Option<u32>,
    ) -> Result<bool, ()> {
        let mut c = conn
            .filter(|_| !p.payload.is_empty())
            .and_then(|idx| self.slots[idx as usize].conn.as_mut());
        let room = self.mem.room();
        let staged_sum = c
            .as_mut()
            .and_then(|c| c.stage_payload(&p.tcp, p.payload, room));
        let payload_sum = match staged_sum {
            Some(s) => s,
            None if p.payload.is_empty() => 0,
            None => synack_wire::checksum::sum(p.payload),
        };
        let sum = synack_wire::checksum::combine(header_sum, payload_sum);
        if synack_wire::checksum::finish(sum) == 0 {
            return Ok(staged_sum.is_some());
        }
        if let Some(c) = c {
            c.recv.unstage();
        }
        Err(())
    }

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
    }

    /// The next time [`handle_timeout`](Stack::handle_timeout) has work to do.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        let tcp = match (self.timers.next_deadline(), self.tw.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, None) => a,
            (None, b) => b,
        };
        match (tcp, self.udp.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, None) => a,
            (None, b) => b,
        }
    }

    /// The next application event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Write the next outgoing IP packet into `buf` (at least
    /// [`max_packet_size`](Stack::max_packet_size) bytes). Call until `None`.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        if self.udp.has_output() {
            if let Some(t) = self.poll_transmit_udp(buf) {
                return Some(t);
            }
        }
        if self.dirty.is_empty() && self.rsts.is_empty() && self.tw_acks.is_empty() {
            // The common last call of a drain: nothing is queued.
            return None;
        }
        while let Some((local, remote, repr)) = self.rsts.pop_front() {
            self.trace_segment(now, local, remote, &repr, 0, Direction::Sent, None);
            if let Some(len) = self.emit(buf, local, remote, &repr, 0) {
                self.stats.rsts_sent += 1;
                return Some(Transmit {
                    len,
                    segment_size: None,
                });
            }
        }
        while let Some((local, remote, repr, (iss, irs, shift, rto))) = self.tw_acks.pop_front() {
            if let Some(trace) = self.trace.as_mut() {
                push_segment_trace(
                    trace,
                    now,
                    local,
                    remote,
                    &repr,
                    0,
                    Direction::Sent,
                    Some((iss, Some(irs), shift)),
                );
                if let Some(TraceEvent {
                    kind: TraceKind::Segment(seg),
                    ..
                }) = trace.back_mut()
                {
                    // As the full connection reports its ACKs: with the current RTO.
                    seg.rto_micros = u64::from(rto);
                }
            }
            if let Some(len) = self.emit(buf, local, remote, &repr, 0) {
                return Some(Transmit {
                    len,
                    segment_size: None,
                });
            }
        }
        while let Some(idx) = self.dirty.pop_front() {
            let slot = &mut self.slots[idx as usize];
            slot.queued = false;
            let Some(conn) = slot.conn.as_mut() else {
                continue;
            };
            let mut env = Env {
                cfg: &self.cfg,
                now,
                trace: self.trace.as_mut(),
                challenge_budget: &mut self.challenge_budget,
                mem: self.mem.view(),
            };
            // Used by reference, for the reason given in `handle_packet_inner`.
            let out = conn.poll_segment(&mut env);
            match &out {
                Some(out) => {
                    let (local, remote) = (conn.local, conn.remote);
                    let tcp_hlen = out.repr.header_len();
                    let ip = IpRepr {
                        src: local.ip(),
                        dst: remote.ip(),
                        protocol: PROTO_TCP,
                        ttl: conn.opts.ttl,
                        payload_len: tcp_hlen + out.payload_len,
                    };
                    let start = ip.header_len() + tcp_hlen;
                    let mut ok = start + out.payload_len <= buf.len();
                    let mut payload_sum = 0;
                    if ok && out.payload_len > 0 {
                        // The payload is summed while it is copied (one pass).
                        let (n, s) = conn.send.read_at_summed(
                            out.payload_off,
                            &mut buf[start..start + out.payload_len],
                        );
                        ok = n == out.payload_len;
                        payload_sum = s;
                    }
                    let len = if ok {
                        emit_tcp_packet_summed(
                            buf,
                            &ip,
                            &out.repr,
                            out.payload_len,
                            Some(payload_sum),
                        )
                        .ok()
                    } else {
                        None
                    };
                    // A TSO super-segment (Config::tso_max): each segment the device
                    // cuts carries the MSS less this segment's options (RFC 9293
                    // §3.7.1: the MSS counts data only).
                    let opts_len = tcp_hlen.saturating_sub(20);
                    let seg = usize::from(conn.mss).saturating_sub(opts_len).max(1);
                    let tso = self.cfg.tso_max > seg;
                    let segment_size =
                        (tso && out.payload_len > seg).then(|| seg.min(65535) as u16);
                    // More may follow from this connection: keep it queued (round robin).
                    if conn.wants_poll() {
                        self.mark_dirty(idx);
                    }
                    self.after_call(idx);
                    match len {
                        Some(len) => {
                            self.stats.packets_out += 1;
                            self.stats.largest_packet_out =
                                self.stats.largest_packet_out.max(len as u64);
                            if segment_size.is_some() {
                                self.stats.super_packets_out += 1;
                            }
                            return Some(Transmit { len, segment_size });
                        }
                        None => {
                            self.stats.emit_errors += 1;
                            continue;
                        }
                    }
                }
                None => self.after_idle_poll(idx),
            }
        }
        None
    }

    // ---------------------------------------------------------------- internals

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

    /// A TCP segment whose 4-tuple's demux table entry is `found`.
    fn handle_tcp(&mut self, now: Instant, p: &TcpPacket<'_>, found: Option<u32>) {
        // The ends are built only where needed: the common path (a segment for a live
        // connection, tracing off) never does.
        let local = || SocketAddr::new(p.ip.dst, p.tcp.dst_port);
        let remote = || SocketAddr::new(p.ip.src, p.tcp.src_port);
        if let Some(idx) = found {
            if idx & TW_TAG != 0 {
                self.handle_time_wait(now, idx & !TW_TAG, local(), remote(), p);
                return;
            }
            if self.trace.is_some() {
                let (iss, irs, shift) = {
                    let c = self.slots[idx as usize].conn.as_ref().expect("table entry");
                    (c.iss.0, c.state_has_irs().then_some(c.irs.0), c.snd_wscale)
                };
                let (local, remote) = (local(), remote());
                self.trace_segment(
                    now,
                    local,
                    remote,
                    &p.tcp,
                    p.payload.len(),
                    Direction::Received,
                    Some((iss, irs.or((p.tcp.flags.syn()).then_some(p.tcp.seq)), shift)),
                );
            }
            let outcome =
                self.with_conn(idx, now, |c, env| c.handle_segment(env, &p.tcp, p.payload));
            match outcome {
                Some(Outcome::Reset { seq }) => self.queue_rst(local(), remote(), seq, None),
                Some(Outcome::Reopen) => {
                    // RFC 6191: retire the TIME-WAIT connection, then treat the SYN as new.
                    self.with_conn(idx, now, |c, env| c.set_state(State::Closed, env));
                    self.handle_unmatched(now, local(), remote(), p);
                }
                _ => {}
            }
            return;
        }
        if !self.is_local(p.ip.dst) && self.any_listener.is_none() {
            self.stats.not_for_us += 1;
            return;
        }
        let (local, remote) = (local(), remote());
        if self.discard_bad_address(local, remote) {
            return;
        }
        if self.trace.is_some() {
            self.trace_segment(
                now,
                local,
                remote,
                &p.tcp,
                p.payload.len(),
                Direction::Received,
                None,
            );
        }
        self.handle_unmatched(now, local, remote, p);
    }

    /// A segment for no connection: a listener's business (RFC 9293 §3.10.7.2) or
    /// answered with RST (§3.10.7.1).
    #[inline(never)]
    fn handle_unmatched(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        p: &TcpPacket<'_>,
    ) {
        let flags = p.tcp.flags;
        let listener = self
            .listen_map
            .get(&(Some(local.ip()), local.port()))
            .or_else(|| self.listen_map.get(&(None, local.port())))
            .copied()
            .filter(|&l| {
                self.listeners[l as usize].as_ref().is_some_and(|x| {
                    x.local.is_ipv4() == local.is_ipv4() || !x.local.ip().is_unspecified()
                })
            })
            .or(self.any_listener);
        let Some(l) = listener else {
            self.stats.no_connection += 1;
            self.reply_rst(local, remote, &p.tcp, p.payload.len());
            return;
        };
        // RFC 9293 §3.10.7.2 LISTEN.
        if flags.rst() {
            return;
        }
        if flags.ack() {
            self.queue_rst(local, remote, p.tcp.ack, None);
            return;
        }
        if !flags.syn() {
            return;
        }
        {
            let lst = self.listeners[l as usize].as_ref().expect("listener");
            // The backlog bounds half-open and completed-but-unaccepted connections
            // together, so the accept queue can never outgrow it when the half-open
            // ones complete (RFC 9293 §3.10.7.2 leaves the resource policy to us; like
            // Linux, a SYN that does not fit is dropped and the peer retransmits).
            let pending = lst.syn_received + lst.accept_queue.len();
            if lst.syn_received >= self.cfg.syn_backlog || pending >= lst.backlog {
                self.stats.listen_overflows += 1;
                return;
            }
        }
        if self.connection_count() >= self.cfg.max_connections {
            self.stats.connection_limit_drops += 1;
            return;
        }
        let iss = self.isn.isn(now, local, remote);
        let mut opts = SocketOptions::from_config(&self.cfg);
        opts.max_segment = self.listeners[l as usize]
            .as_ref()
            .and_then(|x| x.max_segment);
        let mut conn = Connection::new(&self.cfg, opts, local, remote, iss, now);
        conn.listener = Some(l);
        let idx = self.insert(conn, false);
        if let Some(lst) = self.listeners[l as usize].as_mut() {
            lst.syn_received += 1;
        }
        let tcp = p.tcp;
        self.with_conn(idx, now, |c, env| c.passive_open(env, &tcp));
        if tcp.options.fast_open.is_some() || !p.payload.is_empty() {
            // RFC 7413 §4.2.2: a cookie, a cookie request, or data in the SYN.
            self.fastopen_passive_syn(now, idx, l, p);
        }
    }

    /// RFC 9293 §3.10.7.1: the reset for a segment that matches nothing.
    #[cold]
    fn reply_rst(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
        seg: &TcpRepr,
        payload_len: usize,
    ) {
        if seg.flags.rst() {
            return;
        }
        if seg.flags.ack() {
            self.queue_rst(local, remote, seg.ack, None);
        } else {
            let seg_len =
                payload_len as u32 + u32::from(seg.flags.syn()) + u32::from(seg.flags.fin());
            self.queue_rst(local, remote, 0, Some(seg.seq.wrapping_add(seg_len)));
        }
    }

    #[cold]
    fn queue_rst(&mut self, local: SocketAddr, remote: SocketAddr, seq: u32, ack: Option<u32>) {
        if self.cfg.rst_limit > 0 {
            if self.rst_budget == 0 {
                return;
            }
            self.rst_budget -= 1;
        }
        if self.rsts.len() >= 1024 {
            return;
        }
        let mut flags = TcpFlags::RST;
        if ack.is_some() {
            flags |= TcpFlags::ACK;
        }
        self.rsts.push_back((
            local,
            remote,
            TcpRepr {
                src_port: local.port(),
                dst_port: remote.port(),
                seq,
                ack: ack.unwrap_or(0),
                flags,
                window: 0,
                urgent: 0,
                options: TcpOptions::default(),
            },
        ));
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
                *b = conn;
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

    fn emit(
        &mut self,
        buf: &mut [u8],
        local: SocketAddr,
        remote: SocketAddr,
        repr: &TcpRepr,
        payload_len: usize,
    ) -> Option<usize> {
        let ip = IpRepr {
            src: local.ip(),
            dst: remote.ip(),
            protocol: PROTO_TCP,
            ttl: self.cfg.ttl,
            payload_len: repr.header_len() + payload_len,
        };
        match emit_tcp_packet(buf, &ip, repr, payload_len) {
            Ok(n) => {
                self.stats.packets_out += 1;
                self.stats.largest_packet_out = self.stats.largest_packet_out.max(n as u64);
                Some(n)
            }
            Err(_) => {
                self.stats.emit_errors += 1;
                None
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    #[cold]
    fn trace_segment(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        repr: &TcpRepr,
        len: usize,
        dir: Direction,
        isns: Option<(u32, Option<u32>, u8)>,
    ) {
        if let Some(trace) = self.trace.as_mut() {
            push_segment_trace(trace, now, local, remote, repr, len, dir, isns);
        }
    }
}

/// Record a segment sent or received in `trace`; `isns` is (ISS, IRS, window shift)
/// when the segment belongs to a known connection.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn push_segment_trace(
    trace: &mut VecDeque<TraceEvent>,
    now: Instant,
    local: SocketAddr,
    remote: SocketAddr,
    repr: &TcpRepr,
    len: usize,
    dir: Direction,
    isns: Option<(u32, Option<u32>, u8)>,
) {
    {
        let (iss, irs, shift) = match isns {
            Some((i, r, s)) => (Some(i), r, s),
            None => (None, None, 0),
        };
        let shift = if repr.flags.syn() { 0 } else { shift };
        trace.push_back(TraceEvent {
            time: now,
            local,
            remote,
            kind: TraceKind::Segment(SegmentTrace {
                dir,
                flags: repr.flags,
                seq: repr.seq,
                ack: repr.ack,
                window: repr.window,
                window_bytes: u32::from(repr.window) << shift,
                len: len as u32,
                options: repr.options,
                iss,
                irs,
                retransmission: false,
                retransmit_count: 0,
                rto_micros: 0,
                preview: Vec::new(),
            }),
        });
    }
}
