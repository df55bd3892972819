//! Test helpers: a `Pair` of stacks joined by a perfect link with a fixed one-way
//! latency, and a `Peer` that injects hand-made segments into one stack and returns
//! exactly what it sends back (for "inject segment, expect these segments" tests).

#![allow(dead_code, unreachable_pub)]

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use synack_core::{Config, ConnHandle, Duration, Event, Instant, ListenerHandle, Stack};
use synack_wire::{parse_packet, IpRepr, Packet, TcpFlags, TcpOptions, TcpRepr, PROTO_TCP};

pub const SYN: TcpFlags = TcpFlags::SYN;
pub const ACK: TcpFlags = TcpFlags::ACK;
pub const FIN: TcpFlags = TcpFlags::FIN;
pub const RST: TcpFlags = TcpFlags::RST;
pub const PSH: TcpFlags = TcpFlags::PSH;

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// The default configuration with ACKs sent at once (no delayed ACK), which keeps
/// "inject, expect" tests exact. Tests of delayed ACKs use `Config::default()`.
pub fn quick_cfg() -> Config {
    Config {
        delayed_ack: None,
        ..Config::default()
    }
}

/// Assert that `segs` is exactly one segment with these flags, seq and ack; return it.
#[track_caller]
pub fn one(segs: &[Seg], flags: TcpFlags, seq: u32, ack: u32) -> Seg {
    assert_eq!(
        segs.len(),
        1,
        "expected exactly one segment, got {:?}",
        brief(segs)
    );
    let s = &segs[0];
    assert_eq!(
        (s.flags(), s.seq(), s.ack()),
        (flags, seq, ack),
        "flags/seq/ack of {:?}",
        brief(segs)
    );
    s.clone()
}

/// Assert that nothing was sent.
#[track_caller]
pub fn none(segs: &[Seg]) {
    assert!(
        segs.is_empty(),
        "expected no segment, got {:?}",
        brief(segs)
    );
}

/// One line per segment: flags, seq, ack, window, length, options of note.
pub fn brief(segs: &[Seg]) -> Vec<String> {
    segs.iter()
        .map(|s| {
            format!(
                "{} seq={} ack={} win={} len={} sack={:?} ts={:?}",
                s.flags().name(),
                s.seq(),
                s.ack(),
                s.tcp.window,
                s.payload.len(),
                s.tcp.options.sack_blocks(),
                s.tcp.options.timestamp
            )
        })
        .collect()
}

/// The error of the `Closed` event for `h` among `ev`, if there is one.
pub fn closed_with(ev: &[Event], h: ConnHandle) -> Option<Option<synack_core::ConnError>> {
    ev.iter().find_map(|e| match e {
        Event::Closed(x, err) if *x == h => Some(*err),
        _ => None,
    })
}

/// All pending application events.
pub fn events(stack: &mut Stack) -> Vec<Event> {
    std::iter::from_fn(|| stack.poll_event()).collect()
}

/// An established connection as the scripted peer sees it.
#[derive(Debug, Clone, Copy)]
pub struct Est {
    /// The stack's handle.
    pub h: ConnHandle,
    /// The stack's end of the connection.
    pub local: SocketAddr,
    /// The peer's next sequence number (the stack's RCV.NXT).
    pub p_nxt: u32,
    /// The stack's next sequence number (what the peer acknowledges).
    pub s_nxt: u32,
    /// The peer's ISN.
    pub irs: u32,
    /// The stack's ISN.
    pub iss: u32,
}

pub const CLIENT_IP: &str = "10.0.0.1";
pub const SERVER_IP: &str = "10.0.0.2";

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Build an IP packet carrying `tcp` + `payload` from `src` to `dst`.
pub fn packet(src: SocketAddr, dst: SocketAddr, mut tcp: TcpRepr, payload: &[u8]) -> Vec<u8> {
    tcp.src_port = src.port();
    tcp.dst_port = dst.port();
    let iprepr = IpRepr {
        src: src.ip(),
        dst: dst.ip(),
        protocol: PROTO_TCP,
        ttl: 64,
        payload_len: tcp.header_len() + payload.len(),
    };
    let hl = iprepr.header_len() + tcp.header_len();
    let mut buf = vec![0u8; hl + payload.len()];
    buf[hl..].copy_from_slice(payload);
    let n = synack_wire::emit_tcp_packet(&mut buf, &iprepr, &tcp, payload.len()).unwrap();
    buf.truncate(n);
    buf
}

/// A segment as a test sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seg {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub tcp: TcpRepr,
    pub payload: Vec<u8>,
}

impl Seg {
    pub fn flags(&self) -> TcpFlags {
        self.tcp.flags
    }
    pub fn seq(&self) -> u32 {
        self.tcp.seq
    }
    pub fn ack(&self) -> u32 {
        self.tcp.ack
    }
    pub fn is(&self, flags: TcpFlags) -> bool {
        self.tcp.flags == flags
    }
}

pub fn parse_seg(bytes: &[u8]) -> Seg {
    match parse_packet(bytes, true).expect("stack emitted a valid packet") {
        Packet::Tcp(p) => Seg {
            src: SocketAddr::new(p.ip.src, p.tcp.src_port),
            dst: SocketAddr::new(p.ip.dst, p.tcp.dst_port),
            tcp: p.tcp,
            payload: p.payload.to_vec(),
        },
        other => panic!("expected TCP, got {other:?}"),
    }
}

/// Drain everything `stack` wants to send now.
pub fn drain(stack: &mut Stack, now: Instant) -> Vec<Seg> {
    let mut buf = vec![0u8; 70000];
    let mut out = Vec::new();
    while let Some(t) = stack.poll_transmit(now, &mut buf) {
        out.push(parse_seg(&buf[..t.len]));
    }
    out
}

pub fn tcp(flags: TcpFlags, seq: u32, ack: u32, window: u16) -> TcpRepr {
    TcpRepr {
        src_port: 0,
        dst_port: 0,
        seq,
        ack,
        flags,
        window,
        urgent: 0,
        options: TcpOptions::default(),
    }
}

pub fn syn_opts(mss: u16) -> TcpOptions {
    TcpOptions {
        mss: Some(mss),
        ..TcpOptions::default()
    }
}

/// A stack under test plus a scripted peer at a fixed address.
pub struct Lone {
    pub stack: Stack,
    pub now: Instant,
    pub me: IpAddr,
    pub peer: SocketAddr,
}

impl Lone {
    pub fn new(cfg: Config) -> Lone {
        let mut stack = Stack::new(cfg, [7; 16]);
        stack.add_address(ip(SERVER_IP));
        Lone {
            stack,
            now: Instant::from_secs(1),
            me: ip(SERVER_IP),
            peer: addr("10.0.0.1:40000"),
        }
    }

    /// Inject a segment from the peer to `dst` and return what the stack sends at once.
    pub fn inject(&mut self, dst: SocketAddr, tcp: TcpRepr, payload: &[u8]) -> Vec<Seg> {
        let p = packet(self.peer, dst, tcp, payload);
        self.stack.handle_packet(self.now, &p);
        drain(&mut self.stack, self.now)
    }

    /// Advance time, run due timers, and return what the stack sends.
    pub fn advance(&mut self, d: Duration) -> Vec<Seg> {
        self.now += d;
        self.stack.handle_timeout(self.now);
        drain(&mut self.stack, self.now)
    }

    /// Advance to the stack's next deadline (if any) and return what it sends.
    pub fn next_timer(&mut self) -> Option<(Duration, Vec<Seg>)> {
        let t = self.stack.poll_timeout()?;
        let d = t.saturating_duration_since(self.now);
        self.now = self.now.max(t);
        self.stack.handle_timeout(self.now);
        Some((d, drain(&mut self.stack, self.now)))
    }

    pub fn out(&mut self) -> Vec<Seg> {
        drain(&mut self.stack, self.now)
    }

    /// The stack's address with `port`.
    pub fn local(&self, port: u16) -> SocketAddr {
        SocketAddr::new(self.me, port)
    }

    /// Listen on port 80.
    pub fn listen80(&mut self) -> ListenerHandle {
        let l = self.local(80);
        self.stack.listen(l, 0).unwrap()
    }

    /// Passive open on port 80: the peer sends SYN with ISN `a` and `opts`, the stack
    /// answers SYN-ACK (checked: ack A+1), the peer ACKs; the connection is accepted.
    pub fn passive(&mut self, a: u32, opts: TcpOptions) -> Est {
        let l = self.listen80();
        self.passive_on(l, a, opts)
    }

    /// Like [`Lone::passive`] on an existing listener of port 80.
    pub fn passive_on(&mut self, l: ListenerHandle, a: u32, opts: TcpOptions) -> Est {
        let local = self.local(80);
        let mut syn = tcp(SYN, a, 0, 65535);
        syn.options = opts;
        let out = self.inject(local, syn, &[]);
        assert_eq!(out.len(), 1, "{out:#?}");
        let sa = &out[0];
        assert_eq!(sa.flags(), SYN | ACK);
        assert_eq!(sa.ack(), a.wrapping_add(1));
        let b = sa.seq();
        let mut ack = tcp(ACK, a.wrapping_add(1), b.wrapping_add(1), 65535);
        ack.options.timestamp = opts.timestamp.map(|(v, _)| {
            (
                v.wrapping_add(1),
                sa.tcp.options.timestamp.map_or(0, |t| t.0),
            )
        });
        none(&self.inject(local, ack, &[]));
        let h = self.stack.accept(l).expect("accepted");
        Est {
            h,
            local,
            p_nxt: a.wrapping_add(1),
            s_nxt: b.wrapping_add(1),
            irs: a,
            iss: b,
        }
    }

    /// Active open to the peer: the stack sends SYN, the peer answers SYN-ACK with ISN
    /// `b` and `opts`; the stack's final ACK is checked (seq A+1, ack B+1).
    pub fn active(&mut self, b: u32, opts: TcpOptions) -> Est {
        let h = self.stack.connect(self.now, self.peer, None).unwrap();
        let out = self.out();
        assert_eq!(out.len(), 1, "{out:#?}");
        let syn = &out[0];
        assert_eq!(syn.flags(), SYN);
        let a = syn.seq();
        let local = syn.src;
        let mut sa = tcp(SYN | ACK, b, a.wrapping_add(1), 65535);
        sa.options = opts;
        if let (Some((v, _)), Some((ours, _))) = (opts.timestamp, syn.tcp.options.timestamp) {
            sa.options.timestamp = Some((v, ours));
        }
        let out = self.inject(local, sa, &[]);
        one(&out, ACK, a.wrapping_add(1), b.wrapping_add(1));
        assert!(events(&mut self.stack).contains(&Event::Connected(h)));
        Est {
            h,
            local,
            p_nxt: b.wrapping_add(1),
            s_nxt: a.wrapping_add(1),
            irs: b,
            iss: a,
        }
    }

    /// Inject a segment of an established connection: seq = peer's next, ack = the
    /// stack's next, window 65535. Advances `e.p_nxt` past payload, SYN and FIN.
    pub fn send(&mut self, e: &mut Est, flags: TcpFlags, payload: &[u8]) -> Vec<Seg> {
        let t = tcp(flags, e.p_nxt, e.s_nxt, 65535);
        let len = payload.len() as u32 + u32::from(flags.syn()) + u32::from(flags.fin());
        e.p_nxt = e.p_nxt.wrapping_add(len);
        self.inject(e.local, t, payload)
    }
}

/// Two stacks joined by a lossless link with one-way `latency`.
pub struct Pair {
    pub client: Stack,
    pub server: Stack,
    pub now: Instant,
    pub latency: Duration,
    /// (deliver_at, to_server, bytes)
    in_flight: VecDeque<(Instant, bool, Vec<u8>)>,
    pub log: Vec<(Instant, bool, Seg)>,
}

impl Pair {
    pub fn new(client_cfg: Config, server_cfg: Config, latency: Duration) -> Pair {
        let mut client = Stack::new(client_cfg, [1; 16]);
        client.add_address(ip(CLIENT_IP));
        let mut server = Stack::new(server_cfg, [2; 16]);
        server.add_address(ip(SERVER_IP));
        Pair {
            client,
            server,
            now: Instant::ZERO,
            latency,
            in_flight: VecDeque::new(),
            log: Vec::new(),
        }
    }

    fn flush(&mut self) {
        let mut buf = vec![0u8; 70000];
        for to_server in [true, false] {
            let st = if to_server {
                &mut self.client
            } else {
                &mut self.server
            };
            while let Some(t) = st.poll_transmit(self.now, &mut buf) {
                let bytes = buf[..t.len].to_vec();
                self.log.push((self.now, to_server, parse_seg(&bytes)));
                self.in_flight
                    .push_back((self.now + self.latency, to_server, bytes));
            }
        }
    }

    /// Take what both stacks have to send now onto the wire, then drop the first
    /// packet towards the server that `lose` picks; true if one was dropped.
    #[allow(dead_code)]
    pub fn lose_to_server(&mut self, lose: impl Fn(&Seg) -> bool) -> bool {
        self.flush();
        let at = self
            .in_flight
            .iter()
            .position(|(_, to_server, bytes)| *to_server && lose(&parse_seg(bytes)));
        at.and_then(|i| self.in_flight.remove(i)).is_some()
    }

    /// Run one step: deliver due packets, fire due timers. Returns false when nothing
    /// is left to do before `until`.
    pub fn step(&mut self, until: Instant) -> bool {
        self.flush();
        let next_pkt = self.in_flight.iter().map(|p| p.0).min();
        let next_timer = [self.client.poll_timeout(), self.server.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        let next = match (next_pkt, next_timer) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) => a,
            (None, Some(b)) => b,
            (None, None) => return false,
        };
        if next > until {
            return false;
        }
        self.now = self.now.max(next);
        let now = self.now;
        let mut i = 0;
        while i < self.in_flight.len() {
            if self.in_flight[i].0 <= now {
                let (_, to_server, bytes) = self.in_flight.remove(i).unwrap();
                if to_server {
                    self.server.handle_packet(now, &bytes);
                } else {
                    self.client.handle_packet(now, &bytes);
                }
            } else {
                i += 1;
            }
        }
        self.client.handle_timeout(now);
        self.server.handle_timeout(now);
        self.flush();
        true
    }

    /// Run until nothing happens before `now + d`.
    pub fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        while self.step(until) {}
        self.now = self.now.max(until);
    }

    /// Run until `cond` holds (checked after each step) or `d` elapses.
    pub fn run_until(&mut self, d: Duration, mut cond: impl FnMut(&mut Pair) -> bool) -> bool {
        let until = self.now + d;
        loop {
            if cond(self) {
                return true;
            }
            if !self.step(until) {
                return cond(self);
            }
        }
    }
}

impl Lone {
    /// Complete a passive handshake on listener `l` from the current peer with ISN `a`
    /// but leave the connection in the accept queue. Returns (stack ISN, peer ISN).
    pub fn passive_on_no_accept(&mut self, l: ListenerHandle, a: u32) -> (u32, u32) {
        let _ = l;
        let local = self.local(80);
        let out = self.inject(local, tcp(SYN, a, 0, 65535), &[]);
        assert_eq!(out.len(), 1, "{out:#?}");
        let b = out[0].seq();
        none(&self.inject(
            local,
            tcp(ACK, a.wrapping_add(1), b.wrapping_add(1), 65535),
            &[],
        ));
        (b, a)
    }
}

impl Lone {
    /// Passive open where the peer's final ACK arrives `rtt` after the SYN-ACK: without
    /// timestamps this gives the stack exactly one RTT sample of `rtt` (RFC 6298 §2.2:
    /// SRTT = R, RTTVAR = R/2, RTO = max(rto_min, 3R)).
    pub fn passive_rtt(&mut self, a: u32, rtt: Duration) -> Est {
        let l = self.listen80();
        let local = self.local(80);
        let mut syn = tcp(SYN, a, 0, 65535);
        syn.options = syn_opts(1460);
        let out = self.inject(local, syn, &[]);
        let b = out[0].seq();
        self.advance(rtt);
        none(&self.inject(
            local,
            tcp(ACK, a.wrapping_add(1), b.wrapping_add(1), 65535),
            &[],
        ));
        let h = self.stack.accept(l).expect("accepted");
        events(&mut self.stack);
        Est {
            h,
            local,
            p_nxt: a.wrapping_add(1),
            s_nxt: b.wrapping_add(1),
            irs: a,
            iss: b,
        }
    }

    /// The peer acknowledges everything up to `e.s_nxt` with window `wnd`.
    pub fn ack(&mut self, e: &Est, wnd: u16) -> Vec<Seg> {
        self.inject(e.local, tcp(ACK, e.p_nxt, e.s_nxt, wnd), &[])
    }
}
