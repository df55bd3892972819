//! The stack-wide buffer memory budget (memory.rs, tcp/autotune.rs): the hard limit
//! drops arriving data that would need more memory before acknowledging it, and under
//! pressure the receive window stops growing and closes as data is consumed without
//! its right edge ever moving left (RFC 9293 §3.8.6).

mod common;
use common::*;
use synack_core::Config;

#[test]
fn data_that_would_need_memory_past_the_limit_is_dropped_unacknowledged() {
    let cfg = Config {
        memory_pressure: 8192,
        memory_limit: 8192,
        ..quick_cfg()
    };
    let mut t = Lone::new(cfg);
    let mut e = t.passive(1, syn_opts(1460));
    let seg = [7u8; 1000];
    // The ring grows 1, 2, 4, 8 KiB: eight segments fit, the ninth would need 16 KiB.
    for i in 0..8u32 {
        let out = t.send(&mut e, ACK, &seg);
        one(&out, ACK, e.s_nxt, 2 + 1000 * (i + 1));
    }
    assert_eq!(t.stack.buffer_memory(), 8192);
    let before = t.stack.info(e.h).unwrap().stats.dropped;
    let out = t.send(&mut e, ACK, &seg);
    none(&out);
    let info = t.stack.info(e.h).unwrap();
    assert_eq!(info.recv_queue, 8000, "the ninth segment was not stored");
    assert_eq!(info.stats.dropped, before + 1);
    assert!(t.stack.peak_buffer_memory() <= 8192);
    // The application reads: the memory is free again and the retransmission is
    // taken and acknowledged.
    let mut buf = [0u8; 8000];
    assert_eq!(t.stack.recv(e.h, &mut buf).unwrap(), 8000);
    assert_eq!(t.stack.buffer_memory(), 0);
    e.p_nxt = e.p_nxt.wrapping_sub(1000);
    t.out();
    let out = t.send(&mut e, ACK, &seg);
    one(&out, ACK, e.s_nxt, 2 + 9000);
}

#[test]
fn under_pressure_the_window_closes_to_a_floor_without_retracting_its_edge() {
    let cfg = Config {
        // Always under pressure (even with no buffer memory in use).
        memory_pressure: 0,
        ..quick_cfg()
    };
    let mut t = Lone::new(cfg);
    let mut e = t.passive(1, syn_opts(1460));
    let mut edges = Vec::new();
    let mut buf = [0u8; 4096];
    for _ in 0..400 {
        let out = t.send(&mut e, ACK, &[1u8; 1000]);
        // The application reads everything at once.
        while t.stack.recv(e.h, &mut buf).is_ok_and(|n| n > 0) {}
        for s in out.iter().chain(t.out().iter()) {
            edges.push(s.ack().wrapping_add(u32::from(s.tcp.window)));
        }
        if t.stack.info(e.h).unwrap().rcv_wnd < 8192 + 1000 {
            break;
        }
    }
    // RFC 9293 §3.8.6: the right edge never moves left.
    for w in edges.windows(2) {
        assert!(
            w[1].wrapping_sub(w[0]) as i32 >= 0,
            "edge moved left: {w:?}"
        );
    }
    // The window closed from the initial 64 KiB (the unscaled maximum) to about the
    // floor of 4 MSS (8 KiB) as data was consumed.
    let info = t.stack.info(e.h).unwrap();
    assert!(info.rcv_wnd <= 8192 + 1000, "window {}", info.rcv_wnd);
    assert!(info.rcv_wnd >= 4 * 1460, "window {}", info.rcv_wnd);
    assert!(edges.len() > 50);
}

/// Reads everything readable.
fn drain_reads(t: &mut Lone, h: synack_core::ConnHandle) {
    let mut buf = [0u8; 8192];
    while t.stack.recv(h, &mut buf).is_ok_and(|n| n > 0) {}
}

/// Feed `rounds` rounds of 100 full segments (146,000 B, more than the initial
/// 128 KiB buffer), the application reading everything, one millisecond apart;
/// returns the largest window offered.
fn bulk_rounds(t: &mut Lone, e: &mut Est, rounds: usize) -> u32 {
    let mut largest = 0;
    for _ in 0..rounds {
        for _ in 0..100 {
            t.send(e, ACK, &[3u8; 1460]);
            drain_reads(t, e.h);
        }
        t.advance(ms(1));
        largest = largest.max(t.stack.info(e.h).unwrap().rcv_wnd);
    }
    largest
}

#[test]
fn a_receive_buffer_the_application_sized_does_not_autotune() {
    let opts = synack_wire::TcpOptions {
        mss: Some(1460),
        window_scale: Some(7),
        ..synack_wire::TcpOptions::default()
    };
    // Autotuned: a receiver that gets a full window every RTT grows its buffer past
    // the initial 128 KiB.
    let mut t = Lone::new(quick_cfg());
    let mut e = t.passive(1, opts);
    t.stack.set_buffer_sizes(e.h, None, None);
    let grown = bulk_rounds(&mut t, &mut e, 20);
    assert!(grown > 300_000, "{grown}");
    // SO_RCVBUF set: the size stays (Linux locks it too).
    let mut t = Lone::new(quick_cfg());
    let mut e = t.passive(1, opts);
    t.stack.set_buffer_sizes(e.h, None, Some(20_000));
    let kept = bulk_rounds(&mut t, &mut e, 20);
    assert!(kept <= 20_000, "{kept}");
}
