//! The synack side of every scenario: two [`Stack`]s joined by a [`Link`], driven in
//! virtual time exactly as a runtime would (feed packets, run due timers, drain
//! `poll_transmit`), with the applications' reads and writes between rounds.

use crate::link::{Link, Pkt};
use crate::pattern::{Pattern, StreamCheck};
use crate::{Churn, Measured, TICK_MICROS};
use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant as WallClock;
use synack_core::{
    Config, ConnHandle, Duration, Event, Instant, ListenerHandle, RecvError, Stack, State,
};

/// Side A's first address; A may have more (`10.0.0.k`).
const A_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// Side B's address.
const B_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 1);
/// Port of B's bulk listener.
const BULK_PORT: u16 = 80;
/// First port of B's idle-connection listeners.
const IDLE_PORT: u16 = 7000;
/// Idle connections per listener port (A uses local ports 1024.. for them).
const IDLE_PER_PORT: usize = 50_000;
/// Virtual time after which a scenario is declared stuck.
const MAX_VIRTUAL_SECS: u64 = 24 * 3600;

/// Two stacks, A and B, over one link, in virtual time.
pub(crate) struct Pair {
    pub(crate) a: Stack,
    pub(crate) b: Stack,
    link: Link,
    pub(crate) now: Instant,
    buf_len: usize,
    /// A pool buffer held between rounds for the next `poll_transmit`, so a poll
    /// that writes nothing costs no pool traffic (smoltcp's transmit token likewise
    /// takes a buffer only when it writes a packet).
    spare: Option<Box<[u8]>>,
}

impl Pair {
    /// A pair with `cfg` on both sides; A gets `a_addrs` addresses.
    pub(crate) fn new(cfg: Config, a_addrs: u8) -> Pair {
        let mut a = Stack::new(cfg.clone(), *b"synack-bench-a!!");
        let mut b = Stack::new(cfg, *b"synack-bench-b!!");
        for k in 0..a_addrs.max(1) {
            a.add_address(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1 + k)));
        }
        b.add_address(IpAddr::V4(B_IP));
        let buf_len = a.max_packet_size().max(b.max_packet_size());
        assert!(buf_len <= crate::link::MAX_PACKET, "packet pool too small");
        Pair {
            a,
            b,
            link: Link::new(buf_len),
            now: Instant::ZERO,
            buf_len,
            spare: None,
        }
    }

    /// One round: deliver every queued packet, run due timers, drain both stacks'
    /// output onto the link, discard readiness events (the applications poll).
    /// Returns the number of packets moved.
    pub(crate) fn round(&mut self) -> usize {
        let now = self.now;
        let mut moved = 0;
        for (stack, rx) in [
            (&mut self.a, &mut self.link.to_a),
            (&mut self.b, &mut self.link.to_b),
        ] {
            while let Some(p) = rx.pop_front() {
                stack.handle_packet(now, p.bytes());
                self.link.pool.give(p.buf);
                self.link.pool.count_received();
                moved += 1;
            }
            if stack.poll_timeout().is_some_and(|t| t <= now) {
                stack.handle_timeout(now);
            }
        }
        for (stack, tx) in [
            (&mut self.a, &mut self.link.to_b),
            (&mut self.b, &mut self.link.to_a),
        ] {
            loop {
                let mut buf = self.spare.take().unwrap_or_else(|| self.link.pool.take());
                match stack.poll_transmit(now, &mut buf[..self.buf_len]) {
                    Some(t) => {
                        tx.push_back(Pkt { buf, len: t.len });
                        self.link.pool.count_sent();
                        moved += 1;
                    }
                    None => {
                        self.spare = Some(buf);
                        break;
                    }
                }
            }
        }
        moved
    }

    /// Move virtual time on: one tick after progress, else to the next deadline.
    /// Errors when nothing can ever happen again or time ran away.
    pub(crate) fn advance(&mut self, progressed: bool) -> Result<(), String> {
        if progressed || self.link.in_flight() > 0 {
            self.now += Duration::from_micros(TICK_MICROS);
        } else {
            let next = [self.a.poll_timeout(), self.b.poll_timeout()]
                .into_iter()
                .flatten()
                .min()
                .ok_or("synack: stalled with no timer pending")?;
            self.now = next.max(self.now + Duration::from_micros(TICK_MICROS));
        }
        if self.now > Instant::from_secs(MAX_VIRTUAL_SECS) {
            return Err("synack: no progress within a virtual day".into());
        }
        Ok(())
    }

    /// Drop pending events of both stacks, accepting on B every connection announced
    /// by an `Incoming` event into `accepted`.
    fn accept_all(&mut self, accepted: &mut Vec<ConnHandle>) {
        while self.a.poll_event().is_some() {}
        while let Some(e) = self.b.poll_event() {
            if let Event::Incoming(l) = e {
                while let Some(h) = self.b.accept(l) {
                    accepted.push(h);
                }
            }
        }
    }

    /// Run rounds until `done` holds (checked after each round).
    fn run_until(&mut self, mut done: impl FnMut(&mut Pair) -> bool) -> Result<(), String> {
        loop {
            let moved = self.round();
            if done(self) {
                return Ok(());
            }
            self.advance(moved > 0)?;
        }
    }
}

/// Open `n` idle established connections from A to B. Returns both ends' handles.
pub(crate) fn open_idle(
    pair: &mut Pair,
    n: usize,
) -> Result<Vec<(ConnHandle, ConnHandle)>, String> {
    let mut listeners = Vec::new();
    for k in 0..n.div_ceil(IDLE_PER_PORT) {
        let addr = SocketAddr::new(IpAddr::V4(B_IP), IDLE_PORT + k as u16);
        listeners.push(
            pair.b
                .listen(addr, 4096)
                .map_err(|e| format!("listen: {e:?}"))?,
        );
    }
    let mut out = Vec::with_capacity(n);
    let batch = 200;
    let mut i = 0;
    while i < n {
        let end = (i + batch).min(n);
        let mut clients = Vec::with_capacity(end - i);
        for j in i..end {
            let remote = SocketAddr::new(IpAddr::V4(B_IP), IDLE_PORT + (j / IDLE_PER_PORT) as u16);
            let local = SocketAddr::new(IpAddr::V4(A_IP), 1024 + (j % IDLE_PER_PORT) as u16);
            let now = pair.now;
            clients.push(
                pair.a
                    .connect(now, remote, Some(local))
                    .map_err(|e| format!("connect: {e:?}"))?,
            );
        }
        let mut servers = Vec::with_capacity(clients.len());
        pair.run_until(|p| {
            p.accept_all(&mut servers);
            servers.len() == clients.len()
                && clients
                    .iter()
                    .all(|h| p.a.state(*h) == Some(State::Established))
        })?;
        // Let the last ACKs land.
        pair.run_until(|p| p.link.in_flight() == 0)?;
        out.extend(clients.into_iter().zip(servers));
        i = end;
    }
    Ok(out)
}

/// The bulk-transfer configuration: the stack defaults, MTU `mtu`, buffers fixed at
/// `buffer` like smoltcp's (autotuning capped there, so both stacks run the same
/// window), no TSO, and timestamps off like smoltcp's default (the engine does not yet subtract
/// option bytes from the MSS, so with timestamps its packets would exceed the MTU by
/// 12 bytes; at MTU 65535 that overflows the IPv4 length field).
pub(crate) fn bulk_config(mtu: usize, buffer: usize) -> Config {
    Config {
        mtu,
        send_buffer: buffer,
        recv_buffer: buffer,
        send_buffer_max: buffer,
        recv_buffer_max: buffer,
        tso_max: 0,
        timestamps: false,
        ..Config::default()
    }
}

/// One bulk connection from A to B, ready to time transfers on, with `idle` idle
/// established connections beside it in both stacks.
pub(crate) struct BulkRun<'p> {
    pair: Pair,
    tx: ConnHandle,
    rx: ConnHandle,
    idle_conns: Vec<(ConnHandle, ConnHandle)>,
    check: StreamCheck,
    pattern: &'p Pattern,
}

impl<'p> BulkRun<'p> {
    /// Set up (not timed): the idle connections, then the bulk one.
    pub(crate) fn new(
        mtu: usize,
        buffer: usize,
        idle: usize,
        pattern: &'p Pattern,
    ) -> Result<BulkRun<'p>, String> {
        let mut pair = Pair::new(bulk_config(mtu, buffer), 1);
        let idle_conns = open_idle(&mut pair, idle)?;
        let l = pair
            .b
            .listen(SocketAddr::new(IpAddr::V4(B_IP), BULK_PORT), 0)
            .map_err(|e| format!("listen: {e:?}"))?;
        let now = pair.now;
        let tx = pair
            .a
            .connect(
                now,
                SocketAddr::new(IpAddr::V4(B_IP), BULK_PORT),
                Some(SocketAddr::new(IpAddr::V4(A_IP), 60000)),
            )
            .map_err(|e| format!("connect: {e:?}"))?;
        let mut accepted = Vec::new();
        pair.run_until(|p| {
            p.accept_all(&mut accepted);
            !accepted.is_empty() && p.a.state(tx) == Some(State::Established)
        })?;
        let rx = *accepted.first().ok_or("no accepted connection")?;
        if pair.b.listener_addr(l).is_none() {
            return Err("bulk listener vanished".into());
        }
        Ok(BulkRun {
            pair,
            tx,
            rx,
            idle_conns,
            check: StreamCheck::default(),
            pattern,
        })
    }

    /// Move `bytes` more and time it; every byte is verified at the receiver.
    pub(crate) fn transfer(&mut self, bytes: u64) -> Result<Measured, String> {
        let BulkRun {
            pair,
            tx,
            rx,
            check,
            pattern,
            ..
        } = self;
        let (tx, rx) = (*tx, *rx);
        let target = check.sent + bytes;
        let start = WallClock::now();
        loop {
            // Sender application: fill the send buffer.
            let mut progressed = false;
            while check.sent < target {
                let w = pattern.window(
                    check.sent,
                    (target - check.sent).min(usize::MAX as u64) as usize,
                );
                match pair.a.send(tx, w) {
                    Ok(n) => {
                        check.sent += n as u64;
                        progressed = true;
                    }
                    Err(_) => break,
                }
            }
            let moved = pair.round();
            while pair.a.poll_event().is_some() {}
            while pair.b.poll_event().is_some() {}
            // Receiver application: verify everything available in place
            // (`recv_with`, no copy out), as the smoltcp side does.
            loop {
                let got = pair.b.recv_with(rx, |a, b| {
                    check.verify(pattern, a);
                    check.verify(pattern, b);
                    a.len() + b.len()
                });
                match got {
                    Ok(0) => break,
                    Ok(_) => progressed = true,
                    Err(RecvError::WouldBlock) => break,
                    Err(e) => return Err(format!("synack recv: {e:?}")),
                }
            }
            if check.received >= target {
                break;
            }
            pair.advance(progressed || moved > 0).map_err(|e| {
                if std::env::var_os("SYNACK_BENCH_DEBUG").is_some() {
                    format!(
                        "{e}; sender {:?}; receiver {:?}",
                        pair.a.info(tx),
                        pair.b.info(rx)
                    )
                } else {
                    e
                }
            })?;
        }
        let elapsed = start.elapsed();
        if check.corrupt || check.received != target {
            return Err(format!(
                "synack: stream corrupted ({} of {} bytes)",
                check.received, target
            ));
        }
        Ok(Measured { elapsed, bytes })
    }

    /// Check that every idle connection is still ESTABLISHED on both ends.
    pub(crate) fn check_idle(&self) -> Result<(), String> {
        if std::env::var_os("SYNACK_BENCH_DEBUG").is_some() {
            eprintln!("a {:?}\nb {:?}", self.pair.a.stats(), self.pair.b.stats());
        }
        for (c, s) in &self.idle_conns {
            for (stack, h) in [(&self.pair.a, c), (&self.pair.b, s)] {
                if stack.state(*h) != Some(State::Established) {
                    return Err("synack: an idle connection left ESTABLISHED".into());
                }
            }
        }
        Ok(())
    }
}

/// Transfer `total` bytes from A to B over one connection at MTU `mtu`, `reps` times,
/// with `idle` idle established connections in both stacks. Only the transfers are
/// timed.
pub(crate) fn bulk(
    mtu: usize,
    buffer: usize,
    total: u64,
    reps: usize,
    idle: usize,
    pattern: &Pattern,
) -> Result<Vec<Measured>, String> {
    let mut run = BulkRun::new(mtu, buffer, idle, pattern)?;
    let out = (0..reps)
        .map(|_| run.transfer(total))
        .collect::<Result<Vec<_>, _>>()?;
    run.check_idle()?;
    Ok(out)
}

/// The MTU-1500 bulk flow beside `idle` idle connections and the same flow with none,
/// repetitions alternating between the two stacks pairs (so a slow stretch of the
/// machine hits both): `(with idle, without)`.
pub(crate) fn bulk_idle_paired(
    buffer: usize,
    total: u64,
    reps: usize,
    idle: usize,
    pattern: &Pattern,
) -> Result<(Vec<Measured>, Vec<Measured>), String> {
    let mut busy = BulkRun::new(1500, buffer, idle, pattern)?;
    let mut alone = BulkRun::new(1500, buffer, 0, pattern)?;
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for _ in 0..reps.max(1) {
        with.push(busy.transfer(total)?);
        without.push(alone.transfer(total)?);
    }
    busy.check_idle()?;
    Ok((with, without))
}

/// Buffer bytes held by the given idle connections (both ends), from `info()`.
pub(crate) fn idle_buffer_bytes(pair: &Pair, conns: &[(ConnHandle, ConnHandle)]) -> usize {
    conns
        .iter()
        .map(|(c, s)| {
            pair.a.info(*c).map_or(0, |i| i.buffer_bytes)
                + pair.b.info(*s).map_or(0, |i| i.buffer_bytes)
        })
        .sum()
}

/// Churn configuration: a long MSL so every closed connection stays in TIME-WAIT.
fn churn_config(buffer: usize) -> Config {
    Config {
        send_buffer: buffer,
        recv_buffer: buffer,
        timestamps: false,
        msl: Duration::from_secs(3600),
        ..Config::default()
    }
}

/// Churn: `count` times connect, 100-byte request, 100-byte response, close (client
/// first, so the client holds TIME-WAIT), one connection at a time. Before timing,
/// `time_wait` connections are opened and closed to sit in TIME-WAIT.
pub(crate) fn churn(
    count: usize,
    reps: usize,
    time_wait: usize,
    buffer: usize,
    pattern: &Pattern,
) -> Result<Vec<Churn>, String> {
    let mut pair = Pair::new(churn_config(buffer), 8);
    let mut listeners = Vec::with_capacity(16);
    for k in 0..16u16 {
        listeners.push(
            pair.b
                .listen(SocketAddr::new(IpAddr::V4(B_IP), BULK_PORT + k), 4096)
                .map_err(|e| format!("listen: {e:?}"))?,
        );
    }
    // Fill TIME-WAIT (not timed): connections opened and closed without data, on
    // ports the stack chooses (RFC 6056), so port selection meets the records too.
    let mut seq = 0usize;
    while seq < time_wait {
        churn_one(&mut pair, &listeners, seq, &[], false)?;
        seq += 1;
    }
    let mut out = Vec::with_capacity(reps);
    let msg = pattern.window(0, 100);
    for _ in 0..reps {
        let tw_before = pair.a.connection_count();
        let start = WallClock::now();
        for _ in 0..count {
            churn_one(&mut pair, &listeners, seq, msg, true)?;
            seq += 1;
        }
        out.push(Churn {
            elapsed: start.elapsed(),
            connections: count,
            time_wait_before: tw_before,
            time_wait_after: pair.a.connection_count(),
        });
    }
    Ok(out)
}

/// One churn connection (number `i`): connect, request and response of `msg` (none
/// when empty), client close, server close on end of stream; returns when both ends
/// are done and the link is idle. With `pick_port` the harness picks the client's
/// port, as the smoltcp side must, else the stack chooses. Written as plainly as the
/// smoltcp side's loop, so both harnesses cost alike.
fn churn_one(
    pair: &mut Pair,
    listeners: &[ListenerHandle],
    i: usize,
    msg: &[u8],
    pick_port: bool,
) -> Result<(), String> {
    let ip = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1 + (i % 8) as u8));
    let k = (i / 8) % 16;
    let remote = SocketAddr::new(IpAddr::V4(B_IP), BULK_PORT + k as u16);
    // A picked port: 1024.. in turn per (address, server port), so no 4-tuple
    // repeats within 7.68 million connections and none meets its own TIME-WAIT.
    let port = if pick_port {
        1024 + ((i / 128) % 60_000) as u16
    } else {
        0
    };
    let local = SocketAddr::new(ip, port);
    let now = pair.now;
    let c = pair
        .a
        .connect(now, remote, Some(local))
        .map_err(|e| format!("connect: {e:?}"))?;
    let listener = listeners[k];
    let len = msg.len();
    let mut server = None;
    let (mut c_sent, mut c_got, mut c_closed) = (false, 0, false);
    let (mut s_got, mut s_sent, mut s_closed) = (0, false, false);
    let mut buf = [0u8; 512];
    let mut failure = None;
    pair.run_until(|p| {
        let now = p.now;
        while p.a.poll_event().is_some() {}
        while p.b.poll_event().is_some() {}
        if !c_sent && p.a.state(c) == Some(State::Established) {
            if p.a.send(c, msg) != Ok(len) {
                failure = Some("synack: request did not fit");
            }
            c_sent = true;
        }
        if c_sent && c_got < len {
            if let Ok(n) = p.a.recv(c, &mut buf) {
                if buf[..n] != msg[c_got..c_got + n] {
                    failure = Some("synack: response corrupted");
                }
                c_got += n;
            }
        }
        if c_sent && c_got == len && !c_closed {
            p.a.close(now, c);
            c_closed = true;
        }
        if server.is_none() {
            server = p.b.accept(listener);
        }
        if let Some(s) = server {
            if s_got < len {
                if let Ok(n) = p.b.recv(s, &mut buf) {
                    if buf[..n] != msg[s_got..s_got + n] {
                        failure = Some("synack: request corrupted");
                    }
                    s_got += n;
                }
            }
            if s_got == len && !s_sent {
                if p.b.send(s, msg) != Ok(len) {
                    failure = Some("synack: response did not fit");
                }
                s_sent = true;
            }
            if s_sent && !s_closed && p.b.recv(s, &mut buf) == Ok(0) {
                p.b.close(now, s);
                s_closed = true;
            }
        }
        failure.is_some()
            || (c_closed && s_closed && p.link.in_flight() == 0 && p.b.connection_count() == 0)
    })?;
    match failure {
        Some(f) => Err(f.into()),
        None => Ok(()),
    }
}

/// Memory of `n` idle established connections (both ends live in this process).
pub(crate) struct IdleMemory {
    /// Heap bytes per connection end once all are open.
    pub(crate) per_end: usize,
    /// Peak heap bytes while opening them (above the starting point).
    pub(crate) peak: usize,
    /// Sum of `info().buffer_bytes` over every end.
    pub(crate) buffer_bytes: usize,
}

/// Open `n` idle connections and measure the heap through the counting allocator
/// (the link's packet pool and the list of handles are not counted).
pub(crate) fn idle_memory(n: usize, buffer: usize) -> Result<IdleMemory, String> {
    let mut pair = Pair::new(bulk_config(1500, buffer), 1);
    let start = crate::alloc::heap().live - pair.link.pool.heap_bytes();
    crate::alloc::reset_peak();
    let conns = open_idle(&mut pair, n)?;
    let h = crate::alloc::heap();
    let harness = conns.capacity() * core::mem::size_of::<(ConnHandle, ConnHandle)>()
        + pair.link.pool.heap_bytes();
    let live = (h.live - harness).saturating_sub(start);
    Ok(IdleMemory {
        per_end: live / (2 * n).max(1),
        peak: (h.peak - harness).saturating_sub(start),
        buffer_bytes: idle_buffer_bytes(&pair, &conns),
    })
}
