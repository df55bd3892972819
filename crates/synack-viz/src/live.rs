//! One-line renderings of single trace events, for live output (`--trace` on the
//! runtime commands), where the whole timeline is not known in advance.

use synack_core::trace::{Direction, TraceEvent, TraceKind};

/// Render one event as a line: time, the connection, then the segment (sequence and
/// ack numbers relative to the ISNs when known, `A` for ours and `B` for the peer's) or
/// the state change.
pub fn format_event(ev: &TraceEvent) -> String {
    let t = ev.time.total_micros() as f64 / 1000.0;
    let head = format!("{t:>12.3} ms  {} {}", ev.local, ev.remote);
    match &ev.kind {
        TraceKind::Segment(s) => {
            let (arrow, own, peer) = match s.dir {
                Direction::Sent => ("──▶", s.iss, s.irs),
                Direction::Received => ("◀──", s.irs, s.iss),
            };
            let rel = |v: u32, base: Option<u32>, name: &str| match base {
                Some(b) => {
                    let d = v.wrapping_sub(b);
                    if d == 0 {
                        name.to_string()
                    } else {
                        format!("{name}+{d}")
                    }
                }
                None => v.to_string(),
            };
            let (own_name, peer_name) = match s.dir {
                Direction::Sent => ("A", "B"),
                Direction::Received => ("B", "A"),
            };
            let mut line = format!(
                "{head}  {arrow} {}  seq={}",
                s.flags.name(),
                rel(s.seq, own, own_name)
            );
            if s.flags.ack() {
                line.push_str(&format!("  ack={}", rel(s.ack, peer, peer_name)));
            }
            line.push_str(&format!("  win {}", s.window_bytes));
            if s.len > 0 {
                line.push_str(&format!("  len {}", s.len));
            }
            if s.retransmission {
                line.push_str(&format!("  (retransmission {})", s.retransmit_count.max(1)));
            }
            line
        }
        TraceKind::StateChange { old, new } => format!("{head}  {old} -> {new}"),
        TraceKind::Dropped { reason } => format!("{head}  dropped: {reason}"),
        TraceKind::Congestion(c) => {
            let ms = |us: Option<u64>| {
                us.map_or("-".to_string(), |v| format!("{:.1} ms", v as f64 / 1e3))
            };
            let ssthresh = if c.ssthresh == u32::MAX {
                "-".to_string()
            } else {
                c.ssthresh.to_string()
            };
            let mut line = format!(
                "{head}  {} {}: cwnd {}  ssthresh {ssthresh}  wnd {}  in flight {}  srtt {}  rtt {}",
                c.algorithm,
                c.phase.name(),
                c.cwnd,
                c.snd_wnd,
                c.in_flight,
                ms(c.srtt_us),
                ms(c.rtt_us)
            );
            if let Some(rate) = c.pacing_rate {
                line.push_str(&format!("  pacing {:.1} Mbit/s", rate as f64 * 8.0 / 1e6));
            }
            line
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use synack_core::trace::SegmentTrace;
    use synack_core::{Instant, State};
    use synack_wire::{TcpFlags, TcpOptions};

    fn seg(dir: Direction, flags: TcpFlags, seq: u32, ack: u32) -> TraceEvent {
        TraceEvent {
            time: Instant::from_millis(12),
            local: "10.0.0.2:80".parse().unwrap(),
            remote: "10.0.0.1:4000".parse().unwrap(),
            kind: TraceKind::Segment(SegmentTrace {
                dir,
                flags,
                seq,
                ack,
                window: 100,
                window_bytes: 800,
                len: 0,
                options: TcpOptions::default(),
                iss: Some(1000),
                irs: Some(5000),
                retransmission: false,
                retransmit_count: 0,
                rto_micros: 0,
                preview: Vec::new(),
            }),
        }
    }

    #[test]
    fn segments_and_states() {
        let s = format_event(&seg(
            Direction::Sent,
            TcpFlags::SYN | TcpFlags::ACK,
            1000,
            5001,
        ));
        assert!(s.contains("──▶ SYN-ACK  seq=A  ack=B+1  win 800"), "{s}");
        let r = format_event(&seg(Direction::Received, TcpFlags::ACK, 5001, 1001));
        assert!(r.contains("◀── ACK  seq=B+1  ack=A+1"), "{r}");
        let st = TraceEvent {
            kind: TraceKind::StateChange {
                old: State::SynReceived,
                new: State::Established,
            },
            ..seg(Direction::Sent, TcpFlags::ACK, 0, 0)
        };
        assert!(format_event(&st).ends_with("SYN-RECEIVED -> ESTABLISHED"));
    }

    #[test]
    fn congestion_state() {
        use synack_core::trace::{CongestionPhase, CongestionTrace};
        let mut c = CongestionTrace {
            algorithm: "bbr",
            phase: CongestionPhase::Recovery,
            cwnd: 28_960,
            ssthresh: u32::MAX,
            snd_wnd: 65_535,
            in_flight: 14_480,
            srtt_us: Some(50_400),
            rtt_us: None,
            pacing_rate: Some(12_500_000),
        };
        let ev = |c| TraceEvent {
            kind: TraceKind::Congestion(c),
            ..seg(Direction::Sent, TcpFlags::ACK, 0, 0)
        };
        let line = format_event(&ev(c));
        assert!(
            line.ends_with(
                "bbr recovery: cwnd 28960  ssthresh -  wnd 65535  in flight 14480  srtt 50.4 ms  rtt -  pacing 100.0 Mbit/s"
            ),
            "{line}"
        );
        c.ssthresh = 20_000;
        c.pacing_rate = None;
        assert!(format_event(&ev(c)).contains("ssthresh 20000  wnd"));
        assert!(!format_event(&ev(c)).contains("pacing"));
    }
}
