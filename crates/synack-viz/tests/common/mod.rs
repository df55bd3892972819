//! Hand-built scenarios shared by the integration tests: two endpoints exchanging
//! segments over a link with a fixed one-way latency, written the way the engine
//! would trace them (state changes and segments, in causal order).
#![allow(dead_code)]

use std::net::SocketAddr;
use synack_core::trace::{Direction, SegmentTrace, TraceEvent, TraceKind};
use synack_core::{Instant, State};
use synack_viz::{Endpoint, Side, Timeline};
use synack_wire::{SackBlock, TcpFlags, TcpOptions};

pub(crate) const A: u32 = 2_843_261_943;
pub(crate) const B: u32 = 1_150_032_007;
pub(crate) const MS: u64 = 1000;

pub(crate) fn syn_options() -> TcpOptions {
    TcpOptions {
        mss: Some(1460),
        window_scale: Some(7),
        sack_permitted: true,
        timestamp: Some((1, 0)),
        ..TcpOptions::default()
    }
}

pub(crate) fn sack(blocks: &[(u32, u32)]) -> TcpOptions {
    let mut o = TcpOptions::default();
    for (i, &(l, r)) in blocks.iter().enumerate().take(4) {
        o.sack[i] = SackBlock { left: l, right: r };
        o.sack_len = (i + 1) as u8;
    }
    o
}

/// A segment description, numbers relative to the ISNs.
#[derive(Clone)]
pub(crate) struct Seg {
    pub(crate) flags: TcpFlags,
    pub(crate) seq: u32,
    pub(crate) ack: u32,
    pub(crate) window: u16,
    pub(crate) window_bytes: u32,
    pub(crate) payload: Vec<u8>,
    pub(crate) len: Option<u32>,
    pub(crate) options: TcpOptions,
    pub(crate) retransmit_count: u32,
    pub(crate) rto_micros: u64,
}

pub(crate) fn seg(flags: TcpFlags, seq: u32, ack: u32) -> Seg {
    Seg {
        flags,
        seq,
        ack,
        window: 65535,
        window_bytes: 65535,
        payload: Vec::new(),
        len: None,
        options: TcpOptions::default(),
        retransmit_count: 0,
        rto_micros: 0,
    }
}

impl Seg {
    pub(crate) fn win(mut self, window: u16, bytes: u32) -> Seg {
        self.window = window;
        self.window_bytes = bytes;
        self
    }
    pub(crate) fn data(mut self, payload: &[u8]) -> Seg {
        self.payload = payload.to_vec();
        self
    }
    pub(crate) fn len(mut self, len: u32) -> Seg {
        self.len = Some(len);
        self
    }
    pub(crate) fn opts(mut self, o: TcpOptions) -> Seg {
        self.options = o;
        self
    }
    pub(crate) fn retx(mut self, n: u32, rto_micros: u64) -> Seg {
        self.retransmit_count = n;
        self.rto_micros = rto_micros;
        self
    }
}

pub(crate) const SYN: TcpFlags = TcpFlags::SYN;
pub(crate) const ACK: TcpFlags = TcpFlags::ACK;
pub(crate) const FIN: TcpFlags = TcpFlags(0x11);
pub(crate) const SYN_ACK: TcpFlags = TcpFlags(0x12);
pub(crate) const PSH_ACK: TcpFlags = TcpFlags(0x18);
pub(crate) const RST: TcpFlags = TcpFlags::RST;

pub(crate) struct Scenario {
    pub(crate) addr: [SocketAddr; 2],
    pub(crate) isn: [u32; 2],
    pub(crate) events: [Vec<TraceEvent>; 2],
    pub(crate) latency_us: u64,
}

fn ix(s: Side) -> usize {
    usize::from(s == Side::Right)
}

impl Scenario {
    pub(crate) fn new(latency_us: u64) -> Scenario {
        Scenario {
            addr: [
                "10.0.0.1:49152".parse().unwrap(),
                "10.0.0.2:80".parse().unwrap(),
            ],
            isn: [A, B],
            events: [Vec::new(), Vec::new()],
            latency_us,
        }
    }

    fn ev(&self, side: Side, t: u64, kind: TraceKind) -> TraceEvent {
        TraceEvent {
            time: Instant::from_micros(t),
            local: self.addr[ix(side)],
            remote: self.addr[ix(side.other())],
            kind,
        }
    }

    pub(crate) fn state(&mut self, side: Side, t: u64, old: State, new: State) {
        let e = self.ev(side, t, TraceKind::StateChange { old, new });
        self.events[ix(side)].push(e);
    }

    fn trace(&self, s: &Seg, from: Side, dir: Direction) -> SegmentTrace {
        let me = match dir {
            Direction::Sent => from,
            Direction::Received => from.other(),
        };
        let len = s.len.unwrap_or(s.payload.len() as u32);
        SegmentTrace {
            dir,
            flags: s.flags,
            seq: self.isn[ix(from)].wrapping_add(s.seq),
            ack: if s.flags.ack() {
                self.isn[ix(from.other())].wrapping_add(s.ack)
            } else {
                0
            },
            window: s.window,
            window_bytes: s.window_bytes,
            len,
            options: {
                // SACK blocks are written relative to the data sender's ISN.
                let mut o = s.options;
                let base = self.isn[ix(from.other())];
                for b in o.sack.iter_mut().take(o.sack_len as usize) {
                    b.left = base.wrapping_add(b.left);
                    b.right = base.wrapping_add(b.right);
                }
                o
            },
            iss: Some(self.isn[ix(me)]),
            irs: Some(self.isn[ix(me.other())]),
            retransmission: s.retransmit_count > 0 && dir == Direction::Sent,
            retransmit_count: if dir == Direction::Sent {
                s.retransmit_count
            } else {
                0
            },
            rto_micros: if dir == Direction::Sent {
                s.rto_micros
            } else {
                0
            },
            preview: s.payload.iter().take(32).copied().collect(),
        }
    }

    /// `from` sends `s` at `t`; returns the arrival time.
    pub(crate) fn send(&mut self, from: Side, t: u64, s: Seg) -> u64 {
        let e = self.ev(
            from,
            t,
            TraceKind::Segment(self.trace(&s, from, Direction::Sent)),
        );
        self.events[ix(from)].push(e);
        t + self.latency_us
    }

    /// `to` receives `s` (sent by the other side) at `t`.
    pub(crate) fn recv(&mut self, to: Side, t: u64, s: Seg) {
        let e = self.ev(
            to,
            t,
            TraceKind::Segment(self.trace(&s, to.other(), Direction::Received)),
        );
        self.events[ix(to)].push(e);
    }

    pub(crate) fn timeline(&self, labels: [&str; 2], initial: [State; 2]) -> Timeline {
        Timeline::from_traces(
            Endpoint::new(labels[0], self.addr[0], initial[0]),
            self.events[0].clone(),
            Endpoint::new(labels[1], self.addr[1], initial[1]),
            self.events[1].clone(),
        )
    }
}

use Side::{Left as L, Right as R};
use State::*;

/// The three-way handshake (RFC 9293 §3.5, Figure 6), starting at `t0`, latency 10 ms;
/// returns the time the server is ESTABLISHED.
fn handshake(s: &mut Scenario, t0: u64) -> u64 {
    let syn = seg(SYN, 0, 0).opts(syn_options());
    s.state(L, t0, Closed, SynSent);
    let t = s.send(L, t0, syn.clone());
    s.recv(R, t, syn);
    s.state(R, t, Listen, SynReceived);
    let synack = seg(SYN_ACK, 0, 1).opts(syn_options());
    let t = s.send(R, t, synack.clone());
    s.recv(L, t, synack);
    s.state(L, t, SynSent, Established);
    let ack = seg(ACK, 1, 1).win(512, 65536);
    let t = s.send(L, t, ack.clone());
    s.recv(R, t, ack);
    s.state(R, t, SynReceived, Established);
    t
}

/// Open, "hello" each way, close from the client (RFC 9293 Figure 12), MSL 30 s.
pub(crate) fn client_close() -> Timeline {
    let mut s = Scenario::new(10 * MS);
    let syn = seg(SYN, 0, 0).opts(syn_options());
    s.state(L, 0, Closed, SynSent);
    let t = s.send(L, 0, syn.clone());
    s.recv(R, t, syn);
    s.state(R, t, Listen, SynReceived);
    let synack = seg(SYN_ACK, 0, 1).opts(syn_options());
    let t = s.send(R, t, synack.clone());
    s.recv(L, t, synack);
    s.state(L, t, SynSent, Established);
    let ack = seg(ACK, 1, 1).win(512, 65536);
    let data = seg(PSH_ACK, 1, 1).win(512, 65536).data(b"hello");
    s.send(L, t, ack.clone());
    let t = s.send(L, t, data.clone());
    s.recv(R, t, ack);
    s.state(R, t, SynReceived, Established);
    s.recv(R, t, data);
    let reply = seg(PSH_ACK, 1, 6).win(512, 65536).data(b"hello");
    let t = s.send(R, t, reply.clone());
    s.recv(L, t, reply);
    s.state(L, t, Established, FinWait1);
    let fin = seg(FIN, 6, 6).win(512, 65536);
    let t = s.send(L, t, fin.clone());
    s.recv(R, t, fin);
    s.state(R, t, Established, CloseWait);
    let ack = seg(ACK, 6, 7).win(512, 65536);
    s.send(R, t, ack.clone());
    s.state(R, t, CloseWait, LastAck);
    let fin2 = seg(FIN, 6, 7).win(512, 65536);
    let t = s.send(R, t, fin2.clone());
    s.recv(L, t, ack);
    s.state(L, t, FinWait1, FinWait2);
    s.recv(L, t, fin2);
    s.state(L, t, FinWait2, TimeWait);
    let last = seg(ACK, 7, 7).win(512, 65536);
    let t2 = s.send(L, t, last.clone());
    s.recv(R, t2, last);
    s.state(R, t2, LastAck, Closed);
    s.state(L, t + 60_000 * MS, TimeWait, Closed);
    s.timeline(["client", "server"], [Closed, Listen])
}

/// Open, then the server closes first.
pub(crate) fn server_close() -> Timeline {
    let mut s = Scenario::new(10 * MS);
    let t = handshake(&mut s, 0);
    s.state(R, t, Established, FinWait1);
    let fin = seg(FIN, 1, 1);
    let t = s.send(R, t, fin.clone());
    s.recv(L, t, fin);
    s.state(L, t, Established, CloseWait);
    let ack = seg(ACK, 1, 2).win(512, 65536);
    s.send(L, t, ack.clone());
    s.state(L, t, CloseWait, LastAck);
    let fin2 = seg(FIN, 1, 2).win(512, 65536);
    let t = s.send(L, t, fin2.clone());
    s.recv(R, t, ack);
    s.state(R, t, FinWait1, FinWait2);
    s.recv(R, t, fin2);
    s.state(R, t, FinWait2, TimeWait);
    let last = seg(ACK, 2, 2);
    let t2 = s.send(R, t, last.clone());
    s.recv(L, t2, last);
    s.state(L, t2, LastAck, Closed);
    s.state(R, t + 60_000 * MS, TimeWait, Closed);
    s.timeline(["client", "server"], [Closed, Listen])
}

/// Simultaneous open (RFC 9293 §3.5, Figure 8): both sides send a SYN at time 0.
pub(crate) fn simultaneous_open() -> Timeline {
    let mut s = Scenario::new(10 * MS);
    s.addr = [
        "10.0.0.1:5000".parse().unwrap(),
        "10.0.0.2:6000".parse().unwrap(),
    ];
    let syn_l = seg(SYN, 0, 0).opts(syn_options());
    let syn_r = seg(SYN, 0, 0).opts(syn_options());
    s.state(L, 0, Closed, SynSent);
    s.send(L, 0, syn_l.clone());
    s.state(R, 0, Closed, SynSent);
    let t = s.send(R, 0, syn_r.clone());
    s.recv(L, t, syn_r);
    s.state(L, t, SynSent, SynReceived);
    let sa_l = seg(SYN_ACK, 0, 1).opts(syn_options());
    s.send(L, t, sa_l.clone());
    s.recv(R, t, syn_l);
    s.state(R, t, SynSent, SynReceived);
    let sa_r = seg(SYN_ACK, 0, 1).opts(syn_options());
    let t = s.send(R, t, sa_r.clone());
    s.recv(L, t, sa_r);
    s.state(L, t, SynReceived, Established);
    s.recv(R, t, sa_l);
    s.state(R, t, SynReceived, Established);
    s.timeline(["peer-a", "peer-b"], [Closed, Closed])
}

/// Simultaneous close (RFC 9293 §3.6, Figure 13), from an established connection.
pub(crate) fn simultaneous_close() -> Timeline {
    let mut s = Scenario::new(10 * MS);
    let fin = seg(FIN, 1, 1);
    s.state(L, 0, Established, FinWait1);
    s.send(L, 0, fin.clone());
    s.state(R, 0, Established, FinWait1);
    let t = s.send(R, 0, fin.clone());
    s.recv(L, t, fin.clone());
    s.state(L, t, FinWait1, Closing);
    let ack = seg(ACK, 2, 2);
    s.send(L, t, ack.clone());
    s.recv(R, t, fin);
    s.state(R, t, FinWait1, Closing);
    let t = s.send(R, t, ack.clone());
    s.recv(L, t, ack.clone());
    s.state(L, t, Closing, TimeWait);
    s.recv(R, t, ack);
    s.state(R, t, Closing, TimeWait);
    s.state(L, t + 60_000 * MS, TimeWait, Closed);
    s.state(R, t + 60_000 * MS, TimeWait, Closed);
    s.timeline(["client", "server"], [Established, Established])
}

/// The first SYN is lost; the client retransmits it after its 1 s RTO
/// (RFC 6298 §2.1 initial RTO).
pub(crate) fn lost_syn() -> Timeline {
    let mut s = Scenario::new(10 * MS);
    let syn = seg(SYN, 0, 0).opts(syn_options());
    s.state(L, 0, Closed, SynSent);
    s.send(L, 0, syn.clone()); // lost: never received
    let t = s.send(L, 1000 * MS, syn.clone().retx(1, 1_000_000));
    s.recv(R, t, syn);
    s.state(R, t, Listen, SynReceived);
    let synack = seg(SYN_ACK, 0, 1).opts(syn_options());
    let t = s.send(R, t, synack.clone());
    s.recv(L, t, synack);
    s.state(L, t, SynSent, Established);
    let ack = seg(ACK, 1, 1).win(512, 65536);
    let t = s.send(L, t, ack.clone());
    s.recv(R, t, ack);
    s.state(R, t, SynReceived, Established);
    s.timeline(["client", "server"], [Closed, Listen])
}

/// A bulk transfer of `n` full segments from the client, each ACKed; segment `lose`
/// (if any) is lost and retransmitted after 200 ms, with SACK blocks on the ACKs in
/// between.
pub(crate) fn bulk(n: u32, lose: Option<u32>) -> Timeline {
    let mut s = Scenario::new(10 * MS);
    let mut t = handshake(&mut s, 0);
    let mss = 1000u32;
    let mut pending_retx = None;
    for i in 0..n {
        let seq = 1 + i * mss;
        let d = seg(PSH_ACK, seq, 1)
            .len(mss)
            .data(b"0123456789abcdefghijklmnopqrstuv");
        let arr = s.send(L, t, d.clone());
        if Some(i) == lose {
            pending_retx = Some((seq, d));
        } else {
            s.recv(R, arr, d);
            let acked = match &pending_retx {
                Some((lseq, _)) => *lseq,
                None => seq + mss,
            };
            let mut a = seg(ACK, 1, acked).win(234, 29_952);
            if let Some((lseq, _)) = &pending_retx {
                a = a.opts(sack(&[(lseq + mss, seq + mss)]));
            }
            let back = s.send(R, arr, a.clone());
            s.recv(L, back, a);
        }
        t += MS;
    }
    if let Some((seq, d)) = pending_retx {
        let arr = s.send(L, t + 200 * MS, d.clone().retx(1, 200_000));
        s.recv(R, arr, d);
        let a = seg(ACK, 1, 1 + n * mss).win(234, 29_952);
        let back = s.send(R, arr, a.clone());
        s.recv(L, back, a);
        let _ = seq;
    }
    s.timeline(["client", "server"], [Closed, Listen])
}
