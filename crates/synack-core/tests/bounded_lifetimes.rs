//! Issue 16 item 4, in virtual time: nothing is held forever. Zero-window probing
//! gives up when the probes go unanswered (and not while they are answered), orphans
//! retransmit less than owned connections and are capped stack-wide, the stack-wide
//! connection cap drops SYNs, and a give-up reports the ICMP soft error it heard.

mod common;

use common::*;
use synack_core::{Config, ConnError, Event, State};
use synack_wire::{IcmpKind, IcmpRepr, TcpFlags, TcpOptions};

const ACK: TcpFlags = TcpFlags::ACK;
const SYN: TcpFlags = TcpFlags::SYN;

/// An accepted connection whose peer has just closed its window: the stack has
/// `data` queued and may only probe.
fn zero_window(cfg: Config, data: &[u8]) -> (Lone, Est) {
    let mut t = Lone::new(cfg);
    let e = t.passive(1000, TcpOptions::default());
    let zero = tcp(ACK, e.p_nxt, e.s_nxt, 0);
    none(&t.inject(e.local, zero, &[]));
    assert_eq!(t.stack.send(e.h, data), Ok(data.len()));
    none(&t.out());
    (t, e)
}

/// Run timers until the connection is gone; answer each probe with `answer`.
/// Returns the probes sent and how the connection ended (`None`: still open after
/// `max` timer runs).
fn run_probes(
    t: &mut Lone,
    e: &Est,
    max: usize,
    answer: bool,
) -> (usize, Option<Option<ConnError>>) {
    let mut probes = 0;
    for _ in 0..max {
        let Some((_, out)) = t.next_timer() else {
            break;
        };
        // Linux's probe: SEG.SEQ = SND.UNA - 1, no data (the peer must answer it).
        probes += out
            .iter()
            .filter(|s| s.seq() == e.s_nxt.wrapping_sub(1) && s.payload.is_empty())
            .count();
        if let Some(end) = closed_with(&events(&mut t.stack), e.h) {
            return (probes, Some(end));
        }
        if answer && !out.is_empty() {
            let ack = tcp(ACK, e.p_nxt, e.s_nxt, 0);
            none(&t.inject(e.local, ack, &[]));
        }
    }
    (probes, None)
}

#[test]
fn unanswered_zero_window_probes_give_up_after_the_retry_count() {
    let cfg = quick_cfg();
    let retries = cfg.retries as usize;
    let (mut t, e) = zero_window(cfg, b"held");
    let (probes, end) = run_probes(&mut t, &e, 100, false);
    // Linux tcp_probe_timer: tcp_retries2 probes, then tcp_write_err.
    assert_eq!(probes, retries);
    assert_eq!(end, Some(Some(ConnError::TimedOut)));
    // Dead, held only by the application's handle until it lets go.
    t.stack.close(t.now, e.h);
    assert_eq!(t.stack.active_connection_count(), 0);
}

#[test]
fn answered_zero_window_probes_keep_the_connection_open() {
    let cfg = quick_cfg();
    let retries = cfg.retries as usize;
    let (mut t, e) = zero_window(cfg, b"held");
    // RFC 1122 §4.2.2.17: a receiver that keeps answering keeps the connection, well
    // past the count that ends an unanswered one.
    let (probes, end) = run_probes(&mut t, &e, 3 * retries, true);
    assert_eq!(end, None);
    assert!(probes > retries, "{probes} probes");
    assert_eq!(t.stack.state(e.h), Some(State::Established));
    // Once the window opens, the data goes out.
    let open = tcp(ACK, e.p_nxt, e.s_nxt, 65535);
    let out = t.inject(e.local, open, &[]);
    assert!(out.iter().any(|s| s.payload == b"held"), "{out:?}");
}

#[test]
fn a_user_timeout_ends_even_answered_probing() {
    let cfg = Config {
        user_timeout: Some(secs(30)),
        ..quick_cfg()
    };
    let (mut t, e) = zero_window(cfg, b"held");
    // TCP_USER_TIMEOUT bounds the probing whatever the peer answers (Linux
    // tcp_probe_timer's first check).
    let (_, end) = run_probes(&mut t, &e, 1000, true);
    assert_eq!(end, Some(Some(ConnError::TimedOut)));
}

#[test]
fn giving_up_reports_the_icmp_soft_error() {
    let mut t = Lone::new(quick_cfg());
    let e = t.passive(1000, TcpOptions::default());
    assert_eq!(t.stack.send(e.h, b"unacked"), Ok(7));
    let data = t.out().remove(0);
    // An ICMP host unreachable quoting the data in flight (RFC 5927 §4.1): a soft
    // error, not fatal while established (RFC 1122 §4.2.3.9).
    let orig = packet(data.src, data.dst, data.tcp, &data.payload);
    let mut buf = vec![0u8; 2000];
    let kind = IcmpKind::DestUnreachable {
        code: 1,
        hard: false,
    };
    let n = IcmpRepr::emit_packet(kind, ip("10.0.0.254"), data.src.ip(), &orig, &mut buf)
        .expect("icmp");
    t.stack.handle_packet(t.now, &buf[..n]);
    assert_eq!(t.stack.stats().icmp_applied, 1);
    assert_eq!(t.stack.state(e.h), Some(State::Established));
    // The retransmissions run out: the connection reports what the ICMP said
    // (Linux tcp_write_err), not TimedOut.
    let mut end = None;
    for _ in 0..100 {
        if t.next_timer().is_none() {
            break;
        }
        end = closed_with(&events(&mut t.stack), e.h);
        if end.is_some() {
            break;
        }
    }
    assert_eq!(end, Some(Some(ConnError::Unreachable)));
}

#[test]
fn an_acceptable_segment_clears_the_soft_error() {
    let mut t = Lone::new(quick_cfg());
    let mut e = t.passive(1000, TcpOptions::default());
    assert_eq!(t.stack.send(e.h, b"unacked"), Ok(7));
    let data = t.out().remove(0);
    let orig = packet(data.src, data.dst, data.tcp, &data.payload);
    let mut buf = vec![0u8; 2000];
    let kind = IcmpKind::DestUnreachable {
        code: 0,
        hard: false,
    };
    let n = IcmpRepr::emit_packet(kind, ip("10.0.0.254"), data.src.ip(), &orig, &mut buf)
        .expect("icmp");
    t.stack.handle_packet(t.now, &buf[..n]);
    t.stack.handle_packet(t.now, &buf[..n]);
    // SO_ERROR shows it once.
    assert_eq!(
        t.stack.take_soft_error(e.h),
        Some(ConnError::NetUnreachable)
    );
    assert_eq!(t.stack.take_soft_error(e.h), None);
    t.stack.handle_packet(t.now, &buf[..n]);
    // The peer's ACK shows the path works (Linux tcp_ack clears sk_err_soft).
    e.s_nxt = e.s_nxt.wrapping_add(7);
    t.send(&mut e, ACK, &[]);
    assert_eq!(t.stack.take_soft_error(e.h), None);
}

/// Segments a connection with unacknowledged data sends until it gives up, the peer
/// silent; `orphan`: the application closes it first.
fn retransmissions_until_gone(orphan: bool) -> usize {
    let mut t = Lone::new(quick_cfg());
    let e = t.passive(1000, TcpOptions::default());
    assert_eq!(t.stack.send(e.h, b"unacked"), Ok(7));
    if orphan {
        t.stack.close(t.now, e.h);
        assert_eq!(t.stack.orphan_count(), 1);
    }
    let mut sent = t.out().len();
    for _ in 0..100 {
        let Some((_, out)) = t.next_timer() else {
            break;
        };
        sent += out.len();
        if t.stack.state(e.h).is_none_or(|s| s == State::Closed) {
            break;
        }
    }
    if !orphan {
        // The application still holds the dead connection until it lets go.
        assert_eq!(t.stack.state(e.h), Some(State::Closed));
        t.stack.close(t.now, e.h);
    }
    assert_eq!(t.stack.active_connection_count(), 0, "gave up");
    assert_eq!(t.stack.orphan_count(), 0);
    sent
}

#[test]
fn orphans_give_up_after_fewer_retransmissions() {
    let owned = retransmissions_until_gone(false);
    let orphan = retransmissions_until_gone(true);
    // tcp_retries2 = 15 against tcp_orphan_retries' 8: seven fewer timeouts.
    assert_eq!(owned - orphan, 15 - 8, "owned {owned}, orphan {orphan}");
}

#[test]
fn closes_beyond_the_orphan_cap_reset_the_connection() {
    let cfg = Config {
        max_orphans: 2,
        ..quick_cfg()
    };
    let mut t = Lone::new(cfg);
    let l = t.listen80();
    let mut conns = Vec::new();
    for i in 0..3u16 {
        t.peer = addr(&format!("10.0.0.1:{}", 40000 + i));
        let e = t.passive_on(l, 1000, TcpOptions::default());
        assert_eq!(t.stack.send(e.h, b"unacked"), Ok(7));
        none(&t.out()[1..]);
        conns.push(e);
    }
    for (i, e) in conns.iter().enumerate() {
        t.stack.close(t.now, e.h);
        let out = t.out();
        if i < 2 {
            // A FIN follows the data: the orphan finishes in the background.
            assert!(out.iter().all(|s| !s.flags().rst()), "{out:?}");
            assert_eq!(t.stack.orphan_count(), i + 1);
        } else {
            // Linux tcp_close with too many orphans: reset, freed at once.
            assert!(out.iter().any(|s| s.flags().rst()), "{out:?}");
            assert_eq!(t.stack.state(e.h), None);
        }
    }
    assert_eq!(t.stack.orphan_count(), 2);
    assert_eq!(t.stack.stats().orphans_reset, 1);
    assert_eq!(t.stack.active_connection_count(), 2);
}

#[test]
fn syns_beyond_the_connection_cap_are_dropped_and_counted() {
    let cfg = Config {
        max_connections: 3,
        ..quick_cfg()
    };
    let mut t = Lone::new(cfg);
    let l = t.listen80();
    let mut answered = 0;
    for i in 0..5u16 {
        t.peer = addr(&format!("10.0.0.1:{}", 41000 + i));
        let local = t.local(80);
        let out = t.inject(local, tcp(SYN, 5000, 0, 65535), &[]);
        // Answered with a SYN-ACK or not at all: never an RST.
        assert!(out.iter().all(|s| !s.flags().rst()), "{out:?}");
        answered += out.len();
    }
    assert_eq!(answered, 3);
    assert_eq!(t.stack.stats().connection_limit_drops, 2);
    assert_eq!(t.stack.connection_count(), 3);
    // An active open at the cap fails at once.
    t.peer = addr("10.0.0.1:9");
    assert!(t.stack.connect(t.now, t.peer, None).is_err());
    let _ = l;
    assert!(!events(&mut t.stack).contains(&Event::Incoming(l)));
}

#[test]
fn an_orphan_stuck_behind_a_zero_window_gives_up_after_the_orphan_retries() {
    let (mut t, e) = zero_window(quick_cfg(), b"held");
    // Closed by the application with data the peer never lets in: FIN-WAIT-1 with a
    // zero window, probing (Linux tcp_probe_timer on a dead socket: orphan retries).
    t.stack.close(t.now, e.h);
    assert_eq!(t.stack.orphan_count(), 1);
    let mut probes = 0;
    for _ in 0..100 {
        let Some((_, out)) = t.next_timer() else {
            break;
        };
        probes += out.len();
        if t.stack.active_connection_count() == 0 {
            break;
        }
    }
    assert_eq!(t.stack.active_connection_count(), 0);
    assert_eq!(t.stack.orphan_count(), 0);
    assert_eq!(probes, 8);
}

#[test]
fn an_orphan_is_dropped_even_while_its_probes_are_answered() {
    let (mut t, e) = zero_window(quick_cfg(), b"held");
    t.stack.close(t.now, e.h);
    // The peer answers every probe with a zero window, forever: an owned connection
    // would wait (RFC 1122 §4.2.2.17), an orphan is dropped once its probes have
    // backed off to the maximum interval (Linux tcp_probe_timer, !alive).
    let mut gone = false;
    for _ in 0..200 {
        let Some((_, out)) = t.next_timer() else {
            break;
        };
        if t.stack.active_connection_count() == 0 {
            gone = true;
            break;
        }
        if !out.is_empty() {
            let ack = tcp(ACK, e.p_nxt, e.s_nxt, 0);
            none(&t.inject(e.local, ack, &[]));
        }
    }
    assert!(gone);
    assert_eq!(t.stack.orphan_count(), 0);
}
