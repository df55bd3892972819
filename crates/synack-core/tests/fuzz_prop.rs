//! Robustness: random bytes, mutated valid packets and random sequences of API calls
//! must never panic the engine, and the number of connections stays bounded. Bad
//! packets are counted in `stats()`.

mod common;
use common::*;
use proptest::prelude::*;
use synack_core::{Config, ConnHandle, Duration, Instant, Stack, SynCookies};
use synack_wire::{TcpFlags, TcpOptions};

fn fuzz_cfg(verify: bool) -> Config {
    Config {
        verify_checksums: verify,
        syn_backlog: 16,
        backlog: 16,
        ..Config::default()
    }
}

/// Valid packets from the peer to a listener on :80, to be mutated.
fn seeds() -> Vec<Vec<u8>> {
    let peer = addr("10.0.0.1:40000");
    let me = addr("10.0.0.2:80");
    let mut v = Vec::new();
    let mut syn = tcp(SYN, 1000, 0, 65535);
    syn.options = TcpOptions {
        mss: Some(1460),
        window_scale: Some(7),
        sack_permitted: true,
        timestamp: Some((5, 0)),
        ..TcpOptions::default()
    };
    v.push(packet(peer, me, syn, &[]));
    v.push(packet(peer, me, tcp(ACK, 1001, 1, 65535), b"hello world"));
    v.push(packet(peer, me, tcp(ACK | FIN, 1001, 1, 65535), &[]));
    v.push(packet(peer, me, tcp(RST, 1001, 0, 0), &[]));
    let mut sack = tcp(ACK, 1001, 1, 65535);
    sack.options
        .push_sack(synack_wire::SackBlock { left: 5, right: 9 });
    v.push(packet(peer, me, sack, &[]));
    v.push(packet(
        addr("[fd00::1]:1"),
        addr("[fd00::2]:80"),
        tcp(SYN, 1, 0, 100),
        &[],
    ));
    v
}

fn new_stack(verify: bool) -> Stack {
    let mut s = Stack::new(fuzz_cfg(verify), [3; 16]);
    s.add_address(ip("10.0.0.2"));
    s.add_address(ip("fd00::2"));
    s.listen(addr("10.0.0.2:80"), 0).unwrap();
    s.listen(addr("[fd00::2]:80"), 0).unwrap();
    s
}

fn pump(s: &mut Stack, now: Instant) {
    let mut buf = vec![0u8; s.max_packet_size()];
    let mut n = 0;
    while s.poll_transmit(now, &mut buf).is_some() {
        n += 1;
        assert!(n < 10_000, "poll_transmit never ends");
    }
    while s.poll_event().is_some() {}
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(pkts in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..120), 1..20)) {
        let mut s = new_stack(true);
        let now = Instant::from_secs(1);
        for p in &pkts {
            s.handle_packet(now, p);
            pump(&mut s, now);
        }
        let st = s.stats();
        prop_assert_eq!(st.packets_in, pkts.len() as u64);
        prop_assert!(st.malformed + st.bad_checksum + st.not_for_us + st.no_connection <= st.packets_in);
    }

    #[test]
    fn mutated_valid_packets_never_panic(
        verify in any::<bool>(),
        muts in prop::collection::vec((0usize..6, any::<usize>(), any::<u8>(), 0usize..3), 1..40),
        dt in 0u64..5000,
    ) {
        let seeds = seeds();
        let mut s = new_stack(verify);
        let mut now = Instant::from_secs(1);
        for (which, pos, byte, how) in muts {
            let mut p = seeds[which].clone();
            match how {
                0 => { let i = pos % p.len(); p[i] ^= byte | 1; }
                1 => { p.truncate(pos % (p.len() + 1)); }
                _ => { p.insert(pos % (p.len() + 1), byte); }
            }
            s.handle_packet(now, &p);
            pump(&mut s, now);
            now += Duration::from_millis(dt);
            s.handle_timeout(now);
            pump(&mut s, now);
        }
        prop_assert!(s.connection_count() <= 2 * 16, "{}", s.connection_count());
        if verify {
            // Every changed byte in a checksummed packet is caught somewhere.
            let st = s.stats();
            prop_assert!(st.packets_in >= st.malformed + st.bad_checksum);
        }
        // Run all timers out: every half-open connection goes away.
        for _ in 0..200 {
            match s.poll_timeout() {
                Some(t) => { now = now.max(t); s.handle_timeout(now); pump(&mut s, now); }
                None => break,
            }
        }
        prop_assert_eq!(s.connection_count(), 0);
    }
}

#[derive(Debug, Clone)]
enum Op {
    Connect(bool),
    Send(usize, usize),
    Recv(usize),
    Shutdown(usize),
    Close(usize),
    Abort(usize),
    Accept,
    Nodelay(usize, bool),
    Run(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        any::<bool>().prop_map(Op::Connect),
        (any::<usize>(), 0usize..20_000).prop_map(|(i, n)| Op::Send(i, n)),
        any::<usize>().prop_map(Op::Recv),
        any::<usize>().prop_map(Op::Shutdown),
        any::<usize>().prop_map(Op::Close),
        any::<usize>().prop_map(Op::Abort),
        Just(Op::Accept),
        (any::<usize>(), any::<bool>()).prop_map(|(i, b)| Op::Nodelay(i, b)),
        (0u64..3000).prop_map(Op::Run),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_api_calls_never_panic_and_connections_stay_bounded(ops in prop::collection::vec(op(), 1..60)) {
        let mut p = Pair::new(quick_cfg(), quick_cfg(), Duration::from_millis(5));
        let l = p.server.listen(addr("10.0.0.2:80"), 4).unwrap();
        // (on client?, handle)
        let mut hs: Vec<(bool, ConnHandle)> = Vec::new();
        let mut opened = 0usize;
        let mut buf = vec![0u8; 30_000];
        for o in ops {
            let pick = |i: usize, hs: &Vec<(bool, ConnHandle)>| (!hs.is_empty()).then(|| hs[i % hs.len()]);
            match o {
                Op::Connect(refused) => {
                    let port = if refused { 81 } else { 80 };
                    if let Ok(h) = p.client.connect(p.now, addr(&format!("10.0.0.2:{port}")), None) {
                        hs.push((true, h));
                        opened += 1;
                    }
                }
                Op::Accept => {
                    if let Some(h) = p.server.accept(l) {
                        hs.push((false, h));
                    }
                }
                Op::Send(i, n) => if let Some((c, h)) = pick(i, &hs) {
                    let st = if c { &mut p.client } else { &mut p.server };
                    let _ = st.send(h, &buf[..n]);
                },
                Op::Recv(i) => if let Some((c, h)) = pick(i, &hs) {
                    let st = if c { &mut p.client } else { &mut p.server };
                    let _ = st.recv(h, &mut buf);
                },
                Op::Shutdown(i) => if let Some((c, h)) = pick(i, &hs) {
                    let now = p.now;
                    let st = if c { &mut p.client } else { &mut p.server };
                    let _ = st.shutdown(now, h);
                },
                Op::Close(i) => if let Some((c, h)) = pick(i, &hs) {
                    let now = p.now;
                    let st = if c { &mut p.client } else { &mut p.server };
                    st.close(now, h);
                },
                Op::Abort(i) => if let Some((c, h)) = pick(i, &hs) {
                    let now = p.now;
                    let st = if c { &mut p.client } else { &mut p.server };
                    st.abort(now, h);
                },
                Op::Nodelay(i, on) => if let Some((c, h)) = pick(i, &hs) {
                    let now = p.now;
                    let st = if c { &mut p.client } else { &mut p.server };
                    st.set_nodelay(now, h, on);
                },
                Op::Run(ms) => p.run_for(Duration::from_millis(ms)),
            }
            prop_assert!(p.client.connection_count() <= opened);
            prop_assert!(p.server.connection_count() <= opened);
        }
        // Everything released by the application ends within TIME-WAIT + timeouts.
        for (c, h) in hs {
            let now = p.now;
            let st = if c { &mut p.client } else { &mut p.server };
            st.close(now, h);
        }
        p.run_for(Duration::from_secs(600));
        while let Some(h) = p.server.accept(l) {
            p.server.abort(p.now, h);
        }
        p.run_for(Duration::from_secs(600));
        prop_assert_eq!(p.client.connection_count(), 0);
        prop_assert_eq!(p.server.connection_count(), 0);
    }
}

#[test]
fn a_flood_of_syns_is_bounded_by_the_backlog() {
    // With SYN cookies off the overflow is dropped; with them (the default) it is
    // answered with cookies, which hold nothing either.
    for cookies in [SynCookies::Off, SynCookies::WhenFull] {
        let mut s = Stack::new(
            Config {
                syncookies: cookies,
                ..fuzz_cfg(true)
            },
            [3; 16],
        );
        s.add_address(ip("10.0.0.2"));
        s.listen(addr("10.0.0.2:80"), 0).unwrap();
        let now = Instant::from_secs(1);
        for port in 1..2000u16 {
            let p = packet(
                addr(&format!("10.0.0.1:{port}")),
                addr("10.0.0.2:80"),
                tcp(TcpFlags::SYN, 1, 0, 1000),
                &[],
            );
            s.handle_packet(now, &p);
        }
        pump(&mut s, now);
        assert_eq!(s.connection_count(), 16);
        let st = s.stats();
        match cookies {
            SynCookies::Off => {
                assert_eq!((st.listen_overflows, st.syncookies_sent), (1999 - 16, 0))
            }
            _ => assert_eq!((st.listen_overflows, st.syncookies_sent), (0, 1999 - 16)),
        }
    }
}
