//! Target `engine`: one `Stack` driven by a decoded sequence of steps — packets from
//! a few peers aimed at its listeners and at a connection it opened, timer ticks on a
//! virtual clock, and application calls (connect, accept, send, recv, shutdown, close,
//! abort, options) — with its invariants checked after every step.
//!
//! Packets are built relative to what the stack has sent on each 4-tuple (the target
//! watches its output like a peer would): sequence numbers near the stack's RCV.NXT,
//! acknowledgments near its SND.MAX, SACK blocks and timestamps near the real ones,
//! so the fuzzer reaches established connections, recovery and closing states instead
//! of bouncing off the window checks; a step may also carry raw bytes or a corrupted
//! packet. After each step the target drains output and events as a driver would and
//! checks:
//! - no panic;
//! - [`Stack::check_invariants`]: SND.UNA ≤ SND.NXT ≤ SND.MAX, buffers within their
//!   limits, every connection with work left has a deadline no earlier than
//!   `poll_timeout`, the buffer memory within its limit;
//! - every handle the application holds is live or was reported `Closed`, and no
//!   handle is reported `Closed` twice;
//! - the output drains (bounded) and timers due now do not re-arm for now forever.

use arbitrary::{Arbitrary, Unstructured};
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::collections::{HashMap, HashSet};
use synack_core::{
    cc::Algorithm, Config, ConnHandle, Duration, Event, Instant, Keepalive, ListenerHandle, Stack,
};
use synack_wire::{
    emit_tcp_packet, parse_packet, IpRepr, Packet, SackBlock, TcpFlags, TcpOptions, TcpRepr,
};

/// Runs the target on one input.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(setup) = Setup::arbitrary(&mut u) else {
        return;
    };
    let trace = std::env::var_os("SYNACK_FUZZ_TRACE").is_some();
    if trace {
        eprintln!("{setup:?}");
    }
    let mut h = Harness::new(&setup);
    let mut steps = 0;
    while !u.is_empty() && steps < 400 {
        let Ok(step) = Step::arbitrary(&mut u) else {
            break;
        };
        if trace {
            eprintln!("{:?} {step:?}", h.now);
        }
        h.step(step);
        if trace {
            h.dump();
        }
        h.check();
        steps += 1;
    }
    // Let the clock run out: every connection that has work left must finish it or
    // give up within bounded virtual time, and the invariants hold on the way.
    h.run_timers(64);
}

/// How the stack is configured: small buffers and limits so they are reached.
#[derive(Debug, Arbitrary)]
struct Setup {
    intercept: bool,
    timestamps: bool,
    sack: bool,
    window_scaling: bool,
    nagle: bool,
    delayed_ack: bool,
    keepalive: bool,
    pacing: bool,
    verify_checksums: bool,
    congestion: u8,
    tso: bool,
    mtu: u16,
    buffer_kib: u8,
    memory_kib: u8,
    connect: bool,
}

/// One step of the run.
#[derive(Debug, Arbitrary)]
enum Step {
    /// A segment from a peer, built relative to the stack's view of the 4-tuple.
    Segment(Seg),
    /// A packet of raw bytes.
    Raw(Vec<u8>),
    /// Advance the clock by this many milliseconds (and run due timers).
    Tick(u16),
    /// Jump to the stack's next deadline and run it.
    NextTimer,
    /// Open a connection to peer `n`.
    Connect(u8),
    /// Send this many bytes on handle `n`.
    Send(u8, u16),
    /// Read up to this many bytes from handle `n`.
    Recv(u8, u16),
    /// Shut down the sending side of handle `n`.
    Shutdown(u8),
    /// Close handle `n` (the application lets go).
    Close(u8),
    /// Abort handle `n` (RST).
    Abort(u8),
    /// Set SO_SNDBUF / SO_RCVBUF on handle `n`.
    Buffers(u8, Option<u16>, Option<u16>),
    /// Toggle TCP_NODELAY / keep-alive on handle `n`.
    Options(u8, bool, bool),
    /// Close the listener.
    CloseListener,
}

/// A segment description; numbers are offsets from what the stack expects.
#[derive(Debug, Arbitrary)]
struct Seg {
    /// Which 4-tuple: a known one (from the stack's output) or a new peer.
    tuple: u8,
    flags: u8,
    /// Offset of SEG.SEQ from the stack's RCV.NXT (as it last acknowledged).
    seq_off: i16,
    /// Offset of SEG.ACK from the stack's SND.MAX (as seen in its output).
    ack_off: i16,
    /// Use this absolute sequence number instead (blind guesses).
    blind_seq: Option<u32>,
    window: u16,
    mss: Option<u16>,
    window_scale: Option<u8>,
    sack_permitted: bool,
    /// Timestamp: (TSval step, echo the stack's last TSval or this offset from it).
    timestamp: Option<(u16, i16)>,
    /// SACK blocks as (left, length) offsets from SND.UNA (the last ACK we sent).
    sack: Vec<(u16, u16)>,
    payload_len: u16,
    /// Flip this byte of the packet after the checksum was computed.
    corrupt: Option<u16>,
}

/// What the peer side knows of one 4-tuple (local = the stack's end).
#[derive(Debug, Clone, Copy)]
struct View {
    local: SocketAddr,
    remote: SocketAddr,
    /// The stack's RCV.NXT as its last ACK said (our next sequence number).
    rcv_nxt: u32,
    /// The highest sequence number the stack has sent, plus one (its SND.MAX).
    snd_max: u32,
    /// The ACK we last sent (the stack's SND.UNA as far as we know).
    acked: u32,
    /// The stack's last TSval.
    ts_val: u32,
    /// Our TSval clock.
    our_ts: u32,
    known: bool,
}

const LOCAL4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const LOCAL6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);

/// Remote peers the steps choose from.
fn peer(n: u8) -> SocketAddr {
    let port = 40000 + u16::from(n % 4);
    if n & 4 == 0 {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), port)
    } else {
        SocketAddr::new(IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1)), port)
    }
}

struct Harness {
    stack: Stack,
    now: Instant,
    listeners: Vec<ListenerHandle>,
    /// Handles the application holds (not closed or aborted by it).
    handles: Vec<ConnHandle>,
    /// Handles reported `Closed`.
    closed: HashSet<ConnHandle>,
    views: Vec<View>,
    by_tuple: HashMap<(SocketAddr, SocketAddr), usize>,
    buf: Vec<u8>,
    scratch: Vec<u8>,
}

impl Harness {
    fn new(s: &Setup) -> Harness {
        let kib = usize::from(s.buffer_kib % 32 + 1) * 1024;
        let memory = usize::from(s.memory_kib % 128 + 8) * 1024;
        let cfg = Config {
            timestamps: s.timestamps,
            sack: s.sack,
            window_scaling: s.window_scaling,
            nagle: s.nagle,
            delayed_ack: s.delayed_ack.then_some(Duration::from_millis(40)),
            keepalive: s.keepalive.then_some(Keepalive {
                idle: Duration::from_secs(5),
                interval: Duration::from_secs(1),
                count: 3,
            }),
            pacing: s.pacing,
            verify_checksums: s.verify_checksums,
            congestion: match s.congestion % 3 {
                0 => Algorithm::NewReno,
                1 => Algorithm::Cubic,
                _ => Algorithm::Bbr,
            },
            tso_max: if s.tso { 16 * 1024 } else { 0 },
            mtu: usize::from(s.mtu % 1500).max(576) + 60,
            send_buffer: kib,
            recv_buffer: kib,
            send_buffer_max: kib * 4,
            recv_buffer_max: kib * 4,
            memory_pressure: memory / 2,
            memory_limit: memory,
            syn_backlog: 4,
            backlog: 4,
            max_connections: 12,
            ..Config::default()
        };
        let mut stack = Stack::new(cfg, [7; 16]);
        stack.add_address(IpAddr::V4(LOCAL4));
        stack.add_address(IpAddr::V6(LOCAL6));
        let mut listeners = Vec::new();
        if s.intercept {
            listeners.extend(stack.listen_any(4).ok());
        } else {
            listeners.extend(
                stack
                    .listen(SocketAddr::new(IpAddr::V4(LOCAL4), 80), 4)
                    .ok(),
            );
            listeners.extend(
                stack
                    .listen(SocketAddr::new(IpAddr::V6(LOCAL6), 80), 4)
                    .ok(),
            );
        }
        let mut h = Harness {
            buf: vec![0; stack.max_packet_size()],
            scratch: Vec::new(),
            stack,
            now: Instant::from_secs(1),
            listeners,
            handles: Vec::new(),
            closed: HashSet::new(),
            views: Vec::new(),
            by_tuple: HashMap::new(),
        };
        if s.connect {
            h.step(Step::Connect(0));
        }
        h.pump();
        h
    }

    fn handle(&self, n: u8) -> Option<ConnHandle> {
        (!self.handles.is_empty()).then(|| self.handles[usize::from(n) % self.handles.len()])
    }

    fn step(&mut self, step: Step) {
        let now = self.now;
        match step {
            Step::Segment(seg) => {
                if let Some(pkt) = self.build(&seg) {
                    self.stack.handle_packet(now, &pkt);
                }
            }
            Step::Raw(bytes) => self.stack.handle_packet(now, &bytes),
            Step::Tick(ms) => {
                self.now = now.add_micros(u64::from(ms) * 1000);
                self.run_due();
            }
            Step::NextTimer => {
                if let Some(t) = self.stack.poll_timeout() {
                    self.now = self.now.max(t);
                    self.run_due();
                }
            }
            Step::Connect(n) => {
                let remote = SocketAddr::new(peer(n).ip(), 443);
                if let Ok(h) = self.stack.connect(now, remote, None) {
                    assert!(!self.handles.contains(&h), "connect returned a held handle");
                    self.closed.remove(&h);
                    self.handles.push(h);
                }
            }
            Step::Send(n, len) => {
                if let Some(h) = self.handle(n) {
                    let data = vec![0x5a; usize::from(len % 8192)];
                    let _ = self.stack.send(h, &data);
                }
            }
            Step::Recv(n, len) => {
                if let Some(h) = self.handle(n) {
                    let mut out = vec![0; usize::from(len % 8192)];
                    if let Ok(k) = self.stack.recv(h, &mut out) {
                        assert!(k <= out.len());
                    }
                }
            }
            Step::Shutdown(n) => {
                if let Some(h) = self.handle(n) {
                    let _ = self.stack.shutdown(now, h);
                }
            }
            Step::Close(n) | Step::Abort(n) if self.handles.is_empty() => {
                let _ = n;
            }
            Step::Close(n) => {
                let h = self
                    .handles
                    .swap_remove(usize::from(n) % self.handles.len());
                self.stack.close(now, h);
            }
            Step::Abort(n) => {
                let h = self
                    .handles
                    .swap_remove(usize::from(n) % self.handles.len());
                self.stack.abort(now, h);
            }
            Step::Buffers(n, send, recv) => {
                if let Some(h) = self.handle(n) {
                    let size = |v: u16| usize::from(v) * 4;
                    self.stack
                        .set_buffer_sizes(h, send.map(size), recv.map(size));
                }
            }
            Step::Options(n, nodelay, keepalive) => {
                if let Some(h) = self.handle(n) {
                    self.stack.set_options(now, h, |o| {
                        o.nodelay = nodelay;
                        o.keepalive = keepalive.then_some(Keepalive {
                            idle: Duration::from_secs(2),
                            interval: Duration::from_secs(1),
                            count: 2,
                        });
                    });
                }
            }
            Step::CloseListener => {
                if let Some(l) = self.listeners.pop() {
                    self.stack.close_listener(now, l);
                }
            }
        }
        self.pump();
    }

    /// Runs the timers due at `now`; a deadline that keeps coming back at or before
    /// `now` is a livelock.
    fn run_due(&mut self) {
        let mut rounds = 0;
        while let Some(t) = self.stack.poll_timeout() {
            if t > self.now {
                break;
            }
            rounds += 1;
            assert!(rounds < 1000, "timers due at {t:?} re-arm for now forever");
            self.stack.handle_timeout(self.now);
            self.pump();
        }
    }

    /// Jumps from deadline to deadline, at most `n` times.
    fn run_timers(&mut self, n: usize) {
        for _ in 0..n {
            let Some(t) = self.stack.poll_timeout() else {
                break;
            };
            self.now = self.now.max(t);
            self.run_due();
            self.check();
        }
    }

    /// Drain output and events, as a driver does after every call.
    fn pump(&mut self) {
        let mut n = 0;
        while let Some(tx) = self.stack.poll_transmit(self.now, &mut self.buf) {
            n += 1;
            assert!(n < 100_000, "poll_transmit never drains");
            assert!(tx.len <= self.buf.len());
            let pkt = self.buf[..tx.len].to_vec();
            self.observe(&pkt);
        }
        while let Some(ev) = self.stack.poll_event() {
            match ev {
                Event::Incoming(l) => {
                    while let Some(h) = self.stack.accept(l) {
                        assert!(!self.handles.contains(&h), "accept returned a held handle");
                        self.closed.remove(&h);
                        self.handles.push(h);
                    }
                }
                Event::Closed(h, _) => {
                    assert!(self.closed.insert(h), "{h:?} reported Closed twice");
                }
                Event::Connected(_) | Event::Readable(_) | Event::Writable(_) => {}
            }
        }
    }

    /// Learn the stack's sequence space from a packet it sent.
    fn observe(&mut self, pkt: &[u8]) {
        let Ok(Packet::Tcp(p)) = parse_packet(pkt, true) else {
            panic!(
                "the stack sent a packet that does not parse: {:?}",
                parse_packet(pkt, true)
            );
        };
        let local = SocketAddr::new(p.ip.src, p.tcp.src_port);
        let remote = SocketAddr::new(p.ip.dst, p.tcp.dst_port);
        let len =
            p.payload.len() as u32 + u32::from(p.tcp.flags.syn()) + u32::from(p.tcp.flags.fin());
        let end = p.tcp.seq.wrapping_add(len);
        let i = match self.by_tuple.get(&(local, remote)) {
            Some(&i) => i,
            None => {
                self.by_tuple.insert((local, remote), self.views.len());
                self.views.push(View {
                    local,
                    remote,
                    rcv_nxt: p.tcp.ack,
                    snd_max: end,
                    acked: p.tcp.seq,
                    ts_val: 0,
                    our_ts: 1,
                    known: false,
                });
                self.views.len() - 1
            }
        };
        let v = &mut self.views[i];
        if p.tcp.flags.rst() {
            return;
        }
        if p.tcp.flags.syn() || !v.known {
            v.snd_max = end;
            v.acked = p.tcp.seq;
        } else if end.wrapping_sub(v.snd_max) as i32 > 0 {
            v.snd_max = end;
        }
        if p.tcp.flags.ack() {
            v.rcv_nxt = p.tcp.ack;
            v.known = true;
        }
        if let Some((val, _)) = p.tcp.options.timestamp {
            v.ts_val = val;
        }
    }

    /// Build the packet a step describes.
    fn build(&mut self, s: &Seg) -> Option<Vec<u8>> {
        // Tuples: the known ones, then new peers to the listeners (or, intercepting,
        // to addresses that are not the stack's).
        let known = self.views.len();
        let pick = usize::from(s.tuple) % (known + 8);
        let mut v = if pick < known {
            self.views[pick]
        } else {
            let remote = peer(pick as u8);
            let port = if s.tuple & 0x80 != 0 { 81 } else { 80 };
            let ip = match remote.ip() {
                IpAddr::V4(_) if s.tuple & 0x40 != 0 => IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9)),
                IpAddr::V4(_) => IpAddr::V4(LOCAL4),
                IpAddr::V6(_) => IpAddr::V6(LOCAL6),
            };
            View {
                local: SocketAddr::new(ip, port),
                remote,
                rcv_nxt: 1_000_000,
                snd_max: 0,
                acked: 0,
                ts_val: 0,
                our_ts: 1,
                known: false,
            }
        };
        let flags = TcpFlags(s.flags);
        let seq = s
            .blind_seq
            .unwrap_or_else(|| v.rcv_nxt.wrapping_add(s.seq_off as i32 as u32));
        let ack = v.snd_max.wrapping_add(s.ack_off as i32 as u32);
        let mut options = TcpOptions {
            mss: s.mss,
            window_scale: s.window_scale,
            sack_permitted: s.sack_permitted,
            ..TcpOptions::default()
        };
        if let Some((step, echo)) = s.timestamp {
            v.our_ts = v.our_ts.wrapping_add(u32::from(step));
            options.timestamp = Some((v.our_ts, v.ts_val.wrapping_add(echo as i32 as u32)));
        }
        for &(left, len) in s.sack.iter().take(4) {
            let l = v.acked.wrapping_add(u32::from(left));
            options.push_sack(SackBlock {
                left: l,
                right: l.wrapping_add(u32::from(len)),
            });
        }
        if flags.ack() && pick < known {
            let vv = &mut self.views[pick];
            vv.our_ts = v.our_ts;
            if ack.wrapping_sub(vv.acked) as i32 > 0 {
                vv.acked = ack;
            }
        }
        let repr = TcpRepr {
            src_port: v.remote.port(),
            dst_port: v.local.port(),
            seq,
            ack,
            flags,
            window: s.window,
            urgent: 0,
            options,
        };
        let ip = IpRepr {
            src: v.remote.ip(),
            dst: v.local.ip(),
            protocol: synack_wire::PROTO_TCP,
            ttl: 64,
            payload_len: 0,
        };
        let payload = usize::from(s.payload_len % 4096);
        let hlen = ip.header_len() + repr.header_len();
        self.scratch.clear();
        self.scratch.resize(hlen + payload, 0x61);
        let n = emit_tcp_packet(&mut self.scratch, &ip, &repr, payload).ok()?;
        let mut pkt = self.scratch[..n].to_vec();
        if let Some(i) = s.corrupt {
            let i = usize::from(i) % pkt.len();
            pkt[i] ^= 0x20;
        }
        Some(pkt)
    }

    /// Prints the connections (`SYNACK_FUZZ_TRACE`).
    fn dump(&self) {
        eprintln!("  buffer memory {}", self.stack.buffer_memory());
        for &h in &self.handles {
            if let Some(i) = self.stack.info(h) {
                eprintln!(
                    "  {h:?} {:?} {} -> {} send {} recv {} buf {}",
                    i.state, i.local, i.remote, i.send_queue, i.recv_queue, i.buffer_bytes
                );
            }
        }
    }

    /// The checks after every step.
    fn check(&mut self) {
        if let Err(e) = self.stack.check_invariants() {
            panic!("invariant broken at {:?}: {e}", self.now);
        }
        for &h in &self.handles {
            assert!(
                self.stack.state(h).is_some() || self.closed.contains(&h),
                "{h:?} is held, not live, and was never reported Closed"
            );
        }
    }
}
