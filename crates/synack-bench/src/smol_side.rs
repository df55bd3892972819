//! The smoltcp side of every scenario: two smoltcp `Interface`s (medium IP, checksums
//! computed and verified) over the same [`Link`] type as synack, driven in the same
//! virtual time with the same application loop.

use crate::link::{Link, Pkt, Pool};
use crate::pattern::{Pattern, StreamCheck};
use crate::{Churn, Measured, TICK_MICROS};
use smoltcp::iface::{Config as IfaceConfig, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{Device, DeviceCapabilities, Medium, RxToken, TxToken};
use smoltcp::socket::tcp::{CongestionControl, Socket, SocketBuffer, State};
use smoltcp::time::Instant as SInstant;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};
use std::collections::VecDeque;
use std::time::Instant as WallClock;

const A_IP: IpAddress = IpAddress::v4(10, 0, 0, 1);
const B_IP: IpAddress = IpAddress::v4(10, 0, 1, 1);
const BULK_PORT: u16 = 80;
const IDLE_PORT: u16 = 7000;
const IDLE_PER_PORT: usize = 50_000;
/// First port on B for the TIME-WAIT fill (apart from the churn's and the idle ones).
const TW_PORT: u16 = 20_000;
/// Buffer bytes each way of a TIME-WAIT fill socket: it never carries data, and
/// smoltcp allocates its buffers up front.
const TW_BUFFER: usize = 1024;
const MAX_VIRTUAL_MICROS: i64 = 24 * 3600 * 1_000_000;

/// One direction's view of the link, as a smoltcp device.
struct Dev<'l> {
    rx: &'l mut VecDeque<Pkt>,
    tx: &'l mut VecDeque<Pkt>,
    pool: &'l Pool,
    mtu: usize,
}

struct Rx<'a> {
    pkt: Pkt,
    pool: &'a Pool,
}

struct Tx<'a> {
    tx: &'a mut VecDeque<Pkt>,
    pool: &'a Pool,
}

impl RxToken for Rx<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        let r = f(self.pkt.bytes());
        self.pool.give(self.pkt.buf);
        r
    }
}

impl TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = self.pool.take();
        let r = f(&mut buf[..len]);
        self.tx.push_back(Pkt { buf, len });
        self.pool.count_sent();
        r
    }
}

impl Device for Dev<'_> {
    type RxToken<'a>
        = Rx<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = Tx<'a>
    where
        Self: 'a;

    fn receive(&mut self, _t: SInstant) -> Option<(Rx<'_>, Tx<'_>)> {
        let pkt = self.rx.pop_front()?;
        self.pool.count_received();
        Some((
            Rx {
                pkt,
                pool: self.pool,
            },
            Tx {
                tx: self.tx,
                pool: self.pool,
            },
        ))
    }

    fn transmit(&mut self, _t: SInstant) -> Option<Tx<'_>> {
        Some(Tx {
            tx: self.tx,
            pool: self.pool,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = self.mtu;
        // Checksums: the default is "compute on send and verify on receive".
        caps
    }
}

/// One smoltcp host.
struct Host {
    iface: Interface,
    sockets: SocketSet<'static>,
}

/// Two smoltcp hosts over one link, in virtual time.
pub(crate) struct Pair {
    a: Host,
    b: Host,
    link: Link,
    now: i64,
    mtu: usize,
}

fn host(ip: IpAddress, mtu: usize, link: &mut Link, seed: u64) -> Host {
    let mut dev = Dev {
        rx: &mut link.to_a,
        tx: &mut link.to_b,
        pool: &link.pool,
        mtu,
    };
    let mut cfg = IfaceConfig::new(HardwareAddress::Ip);
    cfg.random_seed = seed;
    let mut iface = Interface::new(cfg, &mut dev, SInstant::from_micros(0));
    iface.update_ip_addrs(|a| {
        let _ = a.push(IpCidr::new(ip, 16));
    });
    Host {
        iface,
        sockets: SocketSet::new(Vec::new()),
    }
}

/// A TCP socket with `buffer`-byte receive and send buffers.
fn socket(buffer: usize) -> Socket<'static> {
    let mut s = Socket::new(
        SocketBuffer::new(vec![0u8; buffer]),
        SocketBuffer::new(vec![0u8; buffer]),
    );
    // smoltcp's default, no congestion control (see `smol_host.rs`).
    s.set_congestion_control(CongestionControl::None);
    s
}

impl Pair {
    pub(crate) fn new(mtu: usize) -> Pair {
        let mut link = Link::new(mtu);
        let a = host(A_IP, mtu, &mut link, 0x5eed_000a);
        let b = host(B_IP, mtu, &mut link, 0x5eed_000b);
        Pair {
            a,
            b,
            link,
            now: 0,
            mtu,
        }
    }

    fn t(&self) -> SInstant {
        SInstant::from_micros(self.now)
    }

    /// One round: each interface receives what is queued for it and sends what its
    /// sockets have. Returns the packets moved.
    pub(crate) fn round(&mut self) -> usize {
        let before = self.link.pool.moved();
        let now = self.t();
        let mut dev = Dev {
            rx: &mut self.link.to_a,
            tx: &mut self.link.to_b,
            pool: &self.link.pool,
            mtu: self.mtu,
        };
        self.a.iface.poll(now, &mut dev, &mut self.a.sockets);
        let mut dev = Dev {
            rx: &mut self.link.to_b,
            tx: &mut self.link.to_a,
            pool: &self.link.pool,
            mtu: self.mtu,
        };
        self.b.iface.poll(now, &mut dev, &mut self.b.sockets);
        (self.link.pool.moved() - before) as usize
    }

    fn advance(&mut self, progressed: bool) -> Result<(), String> {
        if progressed || self.link.in_flight() > 0 {
            self.now += TICK_MICROS as i64;
        } else {
            let now = self.t();
            let next = [
                self.a.iface.poll_at(now, &self.a.sockets),
                self.b.iface.poll_at(now, &self.b.sockets),
            ]
            .into_iter()
            .flatten()
            .min()
            .ok_or("smoltcp: stalled with nothing to poll for")?;
            self.now = next.total_micros().max(self.now + TICK_MICROS as i64);
        }
        if self.now > MAX_VIRTUAL_MICROS {
            return Err("smoltcp: no progress within a virtual day".into());
        }
        Ok(())
    }

    fn run_until(&mut self, mut done: impl FnMut(&mut Pair) -> bool) -> Result<(), String> {
        loop {
            let moved = self.round();
            if done(self) {
                return Ok(());
            }
            self.advance(moved > 0)?;
        }
    }

    fn a_sock(&mut self, h: SocketHandle) -> &mut Socket<'static> {
        self.a.sockets.get_mut::<Socket>(h)
    }

    fn b_sock(&mut self, h: SocketHandle) -> &mut Socket<'static> {
        self.b.sockets.get_mut::<Socket>(h)
    }
}

/// Connections number `range` from A to B, started but not yet run: B listens with
/// one socket per connection on `first_port + j / IDLE_PER_PORT`, and A connects from
/// port `1024 + j % IDLE_PER_PORT` (sockets with `buffer`-byte buffers each way).
/// Returns (client, server) handles.
fn start_connections(
    pair: &mut Pair,
    range: std::ops::Range<usize>,
    first_port: u16,
    buffer: usize,
) -> Result<Vec<(SocketHandle, SocketHandle)>, String> {
    let mut conns = Vec::with_capacity(range.len());
    for j in range {
        let port = first_port + (j / IDLE_PER_PORT) as u16;
        let mut s = socket(buffer);
        s.listen(port)
            .map_err(|e| format!("smoltcp listen: {e:?}"))?;
        let server = pair.b.sockets.add(s);
        let mut c = socket(buffer);
        let local = 1024 + (j % IDLE_PER_PORT) as u16;
        c.connect(pair.a.iface.context(), (B_IP, port), local)
            .map_err(|e| format!("smoltcp connect: {e:?}"))?;
        conns.push((pair.a.sockets.add(c), server));
    }
    Ok(conns)
}

/// Open `n` idle established connections from A to B (sockets with `buffer`-byte
/// buffers each way).
pub(crate) fn open_idle(
    pair: &mut Pair,
    n: usize,
    buffer: usize,
) -> Result<Vec<(SocketHandle, SocketHandle)>, String> {
    let mut out = Vec::with_capacity(n);
    let batch = 200;
    let mut i = 0;
    while i < n {
        let end = (i + batch).min(n);
        let conns = start_connections(pair, i..end, IDLE_PORT, buffer)?;
        pair.run_until(|p| {
            conns.iter().all(|&(c, s)| {
                p.a_sock(c).state() == State::Established
                    && p.b_sock(s).state() == State::Established
            }) && p.link.in_flight() == 0
        })?;
        out.extend(conns);
        i = end;
    }
    Ok(out)
}

/// Transfer `total` bytes from A to B with `idle` idle connections (whose sockets get
/// `idle_buffer`-byte buffers); only the transfer is timed.
pub(crate) fn bulk(
    mtu: usize,
    buffer: usize,
    total: u64,
    reps: usize,
    idle: usize,
    idle_buffer: usize,
    pattern: &Pattern,
) -> Result<Vec<Measured>, String> {
    let mut pair = Pair::new(mtu);
    let idle_conns = open_idle(&mut pair, idle, idle_buffer)?;
    let mut s = socket(buffer);
    s.listen(BULK_PORT)
        .map_err(|e| format!("smoltcp listen: {e:?}"))?;
    let rx = pair.b.sockets.add(s);
    let mut c = socket(buffer);
    c.connect(pair.a.iface.context(), (B_IP, BULK_PORT), 60000)
        .map_err(|e| format!("smoltcp connect: {e:?}"))?;
    let tx = pair.a.sockets.add(c);
    pair.run_until(|p| {
        p.a_sock(tx).state() == State::Established && p.b_sock(rx).state() == State::Established
    })?;
    let mut check = StreamCheck::default();
    let mut out = Vec::with_capacity(reps);
    for rep in 0..reps as u64 {
        let target = total * (rep + 1);
        let start = WallClock::now();
        loop {
            let mut progressed = false;
            while check.sent < target {
                let w = pattern.window(
                    check.sent,
                    (target - check.sent).min(usize::MAX as u64) as usize,
                );
                match pair.a_sock(tx).send_slice(w) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        check.sent += n as u64;
                        progressed = true;
                    }
                }
            }
            let moved = pair.round();
            // Receiver application: verify the bytes in place (smoltcp's zero-copy
            // `recv`, one contiguous piece at a time), as the synack side does.
            loop {
                let got = pair.b_sock(rx).recv(|data| {
                    check.verify(pattern, data);
                    (data.len(), data.len())
                });
                match got {
                    Ok(0) => break,
                    Ok(_) => progressed = true,
                    Err(e) => return Err(format!("smoltcp recv: {e:?}")),
                }
            }
            if check.received >= target {
                break;
            }
            pair.advance(progressed || moved > 0)?;
        }
        out.push(Measured {
            elapsed: start.elapsed(),
            bytes: total,
        });
    }
    if check.corrupt || check.received != total * reps as u64 {
        return Err(format!(
            "smoltcp: stream corrupted ({} of {} bytes)",
            check.received,
            total * reps as u64
        ));
    }
    for &(c, s) in &idle_conns {
        if pair.a_sock(c).state() != State::Established
            || pair.b_sock(s).state() != State::Established
        {
            return Err("smoltcp: an idle connection left ESTABLISHED".into());
        }
    }
    Ok(out)
}

/// Put `n` connections into TIME-WAIT on A: opened and closed without data, client
/// first, 200 at a time. A keeps each client socket (smoltcp holds TIME-WAIT inside
/// the socket, for 10 s); B's server sockets are removed once closed. Returns A's
/// handles.
fn fill_time_wait(pair: &mut Pair, n: usize) -> Result<Vec<SocketHandle>, String> {
    let mut out = Vec::with_capacity(n);
    let batch = 200;
    let mut i = 0;
    while i < n {
        let end = (i + batch).min(n);
        // (client, server, client closed, server closed)
        let mut conns: Vec<_> = start_connections(pair, i..end, TW_PORT, TW_BUFFER)?
            .into_iter()
            .map(|(c, s)| (c, s, false, false))
            .collect();
        pair.run_until(|p| {
            let mut done = p.link.in_flight() == 0;
            for (c, s, c_closed, s_closed) in conns.iter_mut() {
                let client = p.a_sock(*c);
                if !*c_closed && client.state() == State::Established {
                    client.close();
                    *c_closed = true;
                }
                done &= client.state() == State::TimeWait;
                let server = p.b_sock(*s);
                if !*s_closed && server.state() == State::CloseWait {
                    server.close();
                    *s_closed = true;
                }
                done &= server.state() == State::Closed;
            }
            done
        })?;
        for (c, s, ..) in conns {
            pair.b.sockets.remove(s);
            out.push(c);
        }
        i = end;
    }
    Ok(out)
}

/// How many of `handles` (A's sockets) are in TIME-WAIT.
fn in_time_wait(pair: &mut Pair, handles: &[SocketHandle]) -> usize {
    handles
        .iter()
        .filter(|&&h| pair.a_sock(h).state() == State::TimeWait)
        .count()
}

/// Churn: `count` times connect, 100-byte request, 100-byte response, client close,
/// server close, one at a time. Sockets are reused (as smoltcp applications do); a
/// client socket reaching TIME-WAIT is aborted, since a smoltcp socket holds TIME-WAIT
/// itself for 10 s and could not be reused otherwise (this costs smoltcp one RST per
/// connection, which B's listening socket ignores). Before timing, `time_wait`
/// other connections are left in TIME-WAIT on A ([`fill_time_wait`]), where every
/// poll of A's interface visits them.
pub(crate) fn churn(
    count: usize,
    reps: usize,
    time_wait: usize,
    buffer: usize,
    pattern: &Pattern,
) -> Result<Vec<Churn>, String> {
    let mut pair = Pair::new(1500);
    let waiting = fill_time_wait(&mut pair, time_wait)?;
    let mut s = socket(buffer);
    s.listen(BULK_PORT)
        .map_err(|e| format!("smoltcp listen: {e:?}"))?;
    let server = pair.b.sockets.add(s);
    let client = pair.a.sockets.add(socket(buffer));
    let msg = pattern.window(0, 100);
    let mut buf = [0u8; 512];
    let mut out = Vec::with_capacity(reps);
    for rep in 0..reps {
        let time_wait_before = in_time_wait(&mut pair, &waiting);
        let start = WallClock::now();
        for i in rep * count..(rep + 1) * count {
            let local = 1024 + (i % 60_000) as u16;
            let cx = pair.a.iface.context();
            pair.a
                .sockets
                .get_mut::<Socket>(client)
                .connect(cx, (B_IP, BULK_PORT), local)
                .map_err(|e| format!("smoltcp connect: {e:?}"))?;
            let (mut c_sent, mut c_got, mut s_got, mut s_sent, mut c_closed, mut s_closed) =
                (false, 0usize, 0usize, false, false, false);
            let mut failure = None;
            pair.run_until(|p| {
                let c = p.a_sock(client);
                if !c_sent && c.state() == State::Established {
                    if c.send_slice(msg) != Ok(msg.len()) {
                        failure = Some("smoltcp: request did not fit");
                    }
                    c_sent = true;
                }
                if c_sent && c_got < msg.len() {
                    if let Ok(n) = c.recv_slice(&mut buf) {
                        if buf[..n] != msg[c_got..c_got + n] {
                            failure = Some("smoltcp: response corrupted");
                        }
                        c_got += n;
                    }
                }
                if c_got == msg.len() && !c_closed {
                    c.close();
                    c_closed = true;
                }
                if c_closed && c.state() == State::TimeWait {
                    c.abort();
                }
                let s = p.b_sock(server);
                if s.state() == State::Established && s_got < msg.len() {
                    if let Ok(n) = s.recv_slice(&mut buf) {
                        if buf[..n] != msg[s_got..s_got + n] {
                            failure = Some("smoltcp: request corrupted");
                        }
                        s_got += n;
                    }
                }
                if s_got == msg.len() && !s_sent {
                    if s.send_slice(msg) != Ok(msg.len()) {
                        failure = Some("smoltcp: response did not fit");
                    }
                    s_sent = true;
                }
                if s_sent && !s_closed && !s.may_recv() {
                    s.close();
                    s_closed = true;
                }
                if s_closed && s.state() == State::Closed {
                    let _ = s.listen(BULK_PORT);
                }
                failure.is_some()
                    || (s_closed
                        && s.state() == State::Listen
                        && p.a_sock(client).state() == State::Closed
                        && p.link.in_flight() == 0)
            })?;
            if let Some(f) = failure {
                return Err(f.into());
            }
        }
        let elapsed = start.elapsed();
        out.push(Churn {
            elapsed,
            connections: count,
            time_wait_before,
            time_wait_after: in_time_wait(&mut pair, &waiting),
        });
    }
    Ok(out)
}

/// Heap bytes (from the counting allocator) per idle connection end for `n` idle
/// connections with `buffer`-byte socket buffers, and the number of ends.
pub(crate) fn idle_memory(n: usize, buffer: usize) -> Result<(usize, usize), String> {
    let mut pair = Pair::new(1500);
    // Warm the socket sets' storage so the delta is per connection.
    let before = crate::alloc::heap().live - pair.link.pool.heap_bytes();
    let conns = open_idle(&mut pair, n, buffer)?;
    let after = crate::alloc::heap().live
        - conns.capacity() * core::mem::size_of::<(SocketHandle, SocketHandle)>();
    let after = after - pair.link.pool.heap_bytes();
    Ok((after.saturating_sub(before) / (2 * n).max(1), 2 * n))
}
