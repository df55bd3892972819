//! Issue 16 item 8, in virtual time: hostile peers cannot push the stack past its
//! buffer budget (`Config::memory_limit`). Three attacks on 32 connections whose
//! windows together offer four times the budget: endless out-of-order data (the
//! reassembly store), data the application never reads (receive buffers), and a peer
//! that never acknowledges what the application writes (send queues). After every
//! packet and timer the stack's figure is checked against the limit, and against an
//! independent count: the sum of every connection's allocated buffer bytes.

mod common;

use common::*;
use core::net::SocketAddr;
use synack_core::{Config, ConnHandle, Instant, Stack};
use synack_wire::{TcpFlags, TcpOptions};

const ACK: TcpFlags = TcpFlags::ACK;
const SYN: TcpFlags = TcpFlags::SYN;
const CONNS: u16 = 32;
const LIMIT: usize = 1 << 20;
const MSS: usize = 1448;

/// One connection as the hostile peer sees it.
struct Peer {
    h: ConnHandle,
    addr: SocketAddr,
    /// The peer's next sequence number (what the stack has acknowledged so far).
    p_nxt: u32,
    /// The stack's next sequence number.
    s_nxt: u32,
}

fn cfg() -> Config {
    Config {
        memory_limit: LIMIT,
        memory_pressure: LIMIT / 2,
        delayed_ack: None,
        ..Config::default()
    }
}

fn local() -> SocketAddr {
    addr("10.0.0.2:80")
}

/// A stack listening on port 80 and `CONNS` accepted connections to it.
fn open() -> (Stack, Instant, Vec<Peer>) {
    let mut s = Stack::new(cfg(), [9; 16]);
    s.add_address(ip("10.0.0.2"));
    let l = s.listen(local(), 1024).expect("listen");
    let now = Instant::from_secs(1);
    let mut peers = Vec::new();
    for i in 0..CONNS {
        let peer = addr(&format!("10.0.0.1:{}", 20000 + i));
        let mut syn = tcp(SYN, 7000, 0, 65535);
        syn.options = TcpOptions {
            mss: Some(1460),
            window_scale: Some(7),
            sack_permitted: true,
            ..TcpOptions::default()
        };
        s.handle_packet(now, &packet(peer, local(), syn, &[]));
        let sa = drain(&mut s, now);
        let b = sa[0].seq();
        let ack = tcp(ACK, 7001, b.wrapping_add(1), 65535);
        s.handle_packet(now, &packet(peer, local(), ack, &[]));
        let h = s.accept(l).expect("accepted");
        peers.push(Peer {
            h,
            addr: peer,
            p_nxt: 7001,
            s_nxt: b.wrapping_add(1),
        });
    }
    drain(&mut s, now);
    (s, now, peers)
}

/// The budget holds, and the stack's figure is what the buffers really hold.
#[track_caller]
fn check(s: &Stack, peers: &[Peer]) {
    let counted: usize = peers
        .iter()
        .filter_map(|p| s.info(p.h))
        .map(|i| i.buffer_bytes)
        .sum();
    assert_eq!(counted, s.buffer_memory(), "the budget counts every buffer");
    assert!(counted <= LIMIT, "{counted} bytes over the {LIMIT} limit");
}

/// Feed one segment of `len` bytes at `seq` from `p`; return the stack's answers.
fn feed(s: &mut Stack, now: Instant, p: &Peer, seq: u32, len: usize) -> Vec<Seg> {
    let payload = vec![0x5a; len];
    let seg = tcp(ACK, seq, p.s_nxt, 65535);
    s.handle_packet(now, &packet(p.addr, local(), seg, &payload));
    drain(s, now)
}

#[test]
fn endless_out_of_order_data_stays_within_the_budget() {
    let (mut s, mut now, peers) = open();
    let window = cfg().recv_buffer;
    // What the attackers offer: every window full of out-of-order data.
    assert!(peers.len() * window > 4 * LIMIT - 1);
    for round in 0..20u32 {
        for p in &peers {
            // Segments with gaps between them, never the byte at RCV.NXT, at offsets
            // that move every round: the reassembly store can only grow.
            let shift = (round as usize * 517) % MSS;
            let mut off = 1 + shift;
            while off + MSS < window {
                feed(&mut s, now, p, p.p_nxt.wrapping_add(off as u32), MSS);
                check(&s, &peers);
                off += 2 * MSS + 100;
            }
        }
        now += ms(50);
        s.handle_timeout(now);
        drain(&mut s, now);
        check(&s, &peers);
    }
    assert!(s.peak_buffer_memory() <= LIMIT);
    // Not vacuous: the attack pressed the stack up to its budget (1,048,576 of
    // 1,048,576 bytes when written).
    assert!(s.peak_buffer_memory() > LIMIT * 3 / 4);
    assert!(
        s.buffer_memory() > 0,
        "out-of-order data was kept up to the budget"
    );
    // The connections still work: the missing byte makes the held data readable.
    let p = &peers[0];
    let queued_before = s.info(p.h).expect("info").recv_queue;
    feed(&mut s, now, p, p.p_nxt, 1);
    assert!(s.info(p.h).expect("info").recv_queue > queued_before);
    check(&s, &peers);
}

#[test]
fn data_nobody_reads_stays_within_the_budget_and_acknowledged_data_is_kept() {
    let (mut s, mut now, mut peers) = open();
    for _round in 0..60 {
        for i in 0..peers.len() {
            // A burst from the last acknowledged byte on (the peer resends what the
            // stack did not take); the application never reads.
            let mut acked = peers[i].p_nxt;
            for k in 0..32u32 {
                let seq = peers[i].p_nxt.wrapping_add(k * MSS as u32);
                for a in feed(&mut s, now, &peers[i], seq, MSS) {
                    if a.ack().wrapping_sub(acked) as i32 > 0 {
                        acked = a.ack();
                    }
                }
                check(&s, &peers);
            }
            peers[i].p_nxt = acked;
        }
        now += ms(200);
        s.handle_timeout(now);
        drain(&mut s, now);
        check(&s, &peers);
    }
    assert!(s.peak_buffer_memory() <= LIMIT);
    // Not vacuous: the attack pressed the stack up to its budget (1,048,576 of
    // 1,048,576 bytes when written).
    assert!(s.peak_buffer_memory() > LIMIT * 3 / 4);
    let mut held = 0;
    for p in &peers {
        // Everything acknowledged is held for the application (RFC 9293 §3.10.7.4:
        // acknowledged data is never dropped); the rest was refused unacknowledged.
        let q = s.info(p.h).expect("info").recv_queue;
        assert_eq!(q, p.p_nxt.wrapping_sub(7001) as usize);
        held += q;
    }
    assert!(held > LIMIT / 2, "the budget was used ({held} bytes)");
}

#[test]
fn a_peer_that_never_acknowledges_cannot_grow_the_send_queues_past_the_budget() {
    let (mut s, mut now, peers) = open();
    let chunk = vec![0xa5u8; 64 * 1024];
    let mut written = 0usize;
    for _round in 0..40 {
        for p in &peers {
            // The application writes as much as the stack takes.
            while let Ok(n) = s.send(p.h, &chunk) {
                written += n;
            }
            check(&s, &peers);
        }
        // Segments go out and are retransmitted; the peer never acknowledges.
        drain(&mut s, now);
        now += secs(1);
        s.handle_timeout(now);
        drain(&mut s, now);
        check(&s, &peers);
    }
    let queued: usize = peers
        .iter()
        .filter_map(|p| s.info(p.h))
        .map(|i| i.send_queue)
        .sum();
    assert!(queued <= LIMIT, "{queued} bytes queued");
    assert!(written >= queued && queued > 0);
    assert!(s.peak_buffer_memory() <= LIMIT);
    // Not vacuous: the attack pressed the stack up to its budget (1,048,576 of
    // 1,048,576 bytes when written).
    assert!(s.peak_buffer_memory() > LIMIT * 3 / 4);
}
