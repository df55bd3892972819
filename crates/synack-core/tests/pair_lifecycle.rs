//! Whole connections between two stacks: the 3-way handshake with the textbook
//! numbers, data both ways, the 4-way close from either side, simultaneous open and
//! close, TIME-WAIT for 2*MSL.

mod common;
use common::*;
use synack_core::{Config, Duration, Event, State};
use synack_wire::TcpFlags;

fn established_pair() -> (Pair, synack_core::ConnHandle, synack_core::ConnHandle) {
    let mut p = Pair::new(
        Config::default(),
        Config::default(),
        Duration::from_millis(10),
    );
    let l = p.server.listen(addr("10.0.0.2:80"), 0).unwrap();
    let c = p.client.connect(p.now, addr("10.0.0.2:80"), None).unwrap();
    let mut s = None;
    assert!(p.run_until(Duration::from_secs(1), |p| {
        if s.is_none() {
            s = p.server.accept(l);
        }
        s.is_some() && p.client.state(c) == Some(State::Established)
    }));
    (p, c, s.unwrap())
}

#[test]
fn three_way_handshake_has_textbook_numbers() {
    let (p, c, s) = established_pair();
    let log: Vec<_> = p
        .log
        .iter()
        .map(|(_, to_server, seg)| (*to_server, seg.clone()))
        .collect();
    assert!(log.len() >= 3, "{log:?}");
    let (d0, syn) = &log[0];
    let (d1, synack) = &log[1];
    let (d2, ack) = &log[2];
    assert!(*d0 && !*d1 && *d2);
    let a = syn.seq();
    assert_eq!(syn.flags(), TcpFlags::SYN);
    assert_eq!(synack.flags(), TcpFlags::SYN | TcpFlags::ACK);
    let b = synack.seq();
    assert_eq!(synack.ack(), a.wrapping_add(1), "SYN-ACK acknowledges A+1");
    assert_eq!(ack.flags(), TcpFlags::ACK);
    assert_eq!(ack.seq(), a.wrapping_add(1), "final ACK has seq A+1");
    assert_eq!(ack.ack(), b.wrapping_add(1), "final ACK has ack B+1");
    assert_eq!(p.client.info(c).unwrap().iss, a);
    assert_eq!(p.server.info(s).unwrap().iss, b);
    assert_eq!(p.server.info(s).unwrap().irs, a);
    assert!(syn.tcp.options.mss.is_some());
    assert!(syn.tcp.options.sack_permitted);
    assert!(syn.tcp.options.window_scale.is_some());
}

#[test]
fn data_both_ways_and_active_close_by_client() {
    let (mut p, c, s) = established_pair();
    assert_eq!(p.client.send(c, b"hello").unwrap(), 5);
    assert_eq!(p.server.send(s, b"world!").unwrap(), 6);
    p.run_for(Duration::from_millis(100));
    let mut buf = [0u8; 64];
    assert_eq!(p.server.recv(s, &mut buf).unwrap(), 5);
    assert_eq!(&buf[..5], b"hello");
    assert_eq!(p.client.recv(c, &mut buf).unwrap(), 6);
    assert_eq!(&buf[..6], b"world!");

    // Client closes first: FIN-WAIT-1 -> FIN-WAIT-2 -> TIME-WAIT.
    p.client.shutdown(p.now, c).unwrap();
    assert_eq!(p.client.state(c), Some(State::FinWait1));
    p.run_for(Duration::from_millis(100));
    assert_eq!(p.client.state(c), Some(State::FinWait2));
    assert_eq!(p.server.state(s), Some(State::CloseWait));
    assert_eq!(p.server.recv(s, &mut buf), Ok(0), "EOF after FIN");
    p.server.shutdown(p.now, s).unwrap();
    assert_eq!(p.server.state(s), Some(State::LastAck));
    p.run_for(Duration::from_millis(100));
    assert_eq!(p.server.state(s), Some(State::Closed));
    assert_eq!(p.client.state(c), Some(State::TimeWait));
    let tw_start = p.now;
    // TIME-WAIT lasts 2*MSL = 60 s by default.
    p.run_for(Duration::from_secs(59));
    assert_eq!(p.client.state(c), Some(State::TimeWait));
    p.run_for(Duration::from_secs(2));
    assert_eq!(p.client.state(c), Some(State::Closed));
    assert!(p.now - tw_start >= Duration::from_secs(60));
    // Close events reached the application, without error.
    let mut closed = false;
    while let Some(e) = p.client.poll_event() {
        if let Event::Closed(h, err) = e {
            assert_eq!(h, c);
            assert_eq!(err, None);
            closed = true;
        }
    }
    assert!(closed);
    p.client.close(p.now, c);
    p.server.close(p.now, s);
    assert_eq!(p.client.connection_count(), 0);
    assert_eq!(p.server.connection_count(), 0);
}

#[test]
fn passive_close_goes_through_close_wait_and_last_ack() {
    let (mut p, c, s) = established_pair();
    p.server.close(p.now, s);
    p.run_for(Duration::from_millis(100));
    assert_eq!(p.client.state(c), Some(State::CloseWait));
    p.client.close(p.now, c);
    p.run_for(Duration::from_millis(100));
    // The client's connection is gone (closed and released); server in TIME-WAIT.
    assert_eq!(p.client.connection_count(), 0);
    assert_eq!(p.server.connection_count(), 1);
    p.run_for(Duration::from_secs(61));
    assert_eq!(p.server.connection_count(), 0);
}

#[test]
fn simultaneous_close_passes_through_closing() {
    let (mut p, c, s) = established_pair();
    p.client.shutdown(p.now, c).unwrap();
    p.server.shutdown(p.now, s).unwrap();
    // Both FINs cross; each side sees the other's FIN before the ACK of its own.
    p.run_for(Duration::from_millis(15));
    assert_eq!(p.client.state(c), Some(State::Closing));
    assert_eq!(p.server.state(s), Some(State::Closing));
    p.run_for(Duration::from_millis(100));
    assert_eq!(p.client.state(c), Some(State::TimeWait));
    assert_eq!(p.server.state(s), Some(State::TimeWait));
    p.run_for(Duration::from_secs(61));
    assert_eq!(p.client.state(c), Some(State::Closed));
    assert_eq!(p.server.state(s), Some(State::Closed));
}

#[test]
fn simultaneous_open() {
    let mut p = Pair::new(
        Config::default(),
        Config::default(),
        Duration::from_millis(10),
    );
    let c = p
        .client
        .connect(p.now, addr("10.0.0.2:5000"), Some(addr("10.0.0.1:6000")))
        .unwrap();
    let s = p
        .server
        .connect(p.now, addr("10.0.0.1:6000"), Some(addr("10.0.0.2:5000")))
        .unwrap();
    p.run_for(Duration::from_millis(15));
    assert_eq!(p.client.state(c), Some(State::SynReceived));
    assert_eq!(p.server.state(s), Some(State::SynReceived));
    p.run_for(Duration::from_millis(100));
    assert_eq!(p.client.state(c), Some(State::Established));
    assert_eq!(p.server.state(s), Some(State::Established));
    p.client.send(c, b"x").unwrap();
    p.run_for(Duration::from_millis(100));
    let mut b = [0u8; 4];
    assert_eq!(p.server.recv(s, &mut b), Ok(1));
}

#[test]
fn bulk_transfer_arrives_intact() {
    let (mut p, c, s) = established_pair();
    let data: Vec<u8> = (0..2_000_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    let mut sent = 0;
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65536];
    let ok = p.run_until(Duration::from_secs(60), |p| {
        while sent < data.len() {
            match p.client.send(c, &data[sent..]) {
                Ok(n) => sent += n,
                Err(_) => break,
            }
        }
        while let Ok(n) = p.server.recv(s, &mut buf) {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        got.len() == data.len()
    });
    assert!(ok, "got {} of {}", got.len(), data.len());
    assert!(got == data);
    let info = p.client.info(c).unwrap();
    assert_eq!(info.stats.segs_retransmitted, 0);
    assert!(info.srtt.is_some());
    // Idle again: the buffers hold no memory.
    p.run_for(Duration::from_secs(1));
    assert_eq!(p.client.info(c).unwrap().buffer_bytes, 0);
    assert_eq!(p.server.info(s).unwrap().buffer_bytes, 0);
}
