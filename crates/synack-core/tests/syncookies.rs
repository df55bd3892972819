//! SYN cookies (RFC 4987 §3.6, issue 16 item 1): a listener whose SYN queue is full
//! answers with a cookie and keeps nothing; the ACK that returns a valid cookie
//! becomes an ESTABLISHED connection in the accept queue with the options the cookie
//! carried; anything else is reset, counted, or dropped as Linux does.

mod common;
use common::*;
use synack_core::{Config, Event, Instant, ListenerHandle, Stack, State, SynCookies};
use synack_wire::TcpOptions;

/// A listener on :80 with room for two half-open connections, both taken, so the
/// next SYN gets a cookie.
fn full_listener(cfg: Config) -> (Lone, ListenerHandle) {
    let mut t = Lone::new(Config {
        syn_backlog: 2,
        ..cfg
    });
    let l = t.listen80();
    for i in 0..2u16 {
        t.peer = addr(&format!("10.0.0.9:{}", 50000 + i));
        let out = t.inject(t.local(80), tcp(SYN, 7, 0, 65535), &[]);
        assert_eq!(out.len(), 1);
    }
    assert_eq!(t.stack.stats().syncookies_sent, 0);
    t.peer = addr("10.0.0.1:40000");
    (t, l)
}

fn ts_syn_opts() -> TcpOptions {
    TcpOptions {
        mss: Some(1460),
        window_scale: Some(7),
        sack_permitted: true,
        timestamp: Some((1000, 0)),
        ..TcpOptions::default()
    }
}

#[test]
fn full_queue_sends_a_cookie_and_its_ack_makes_the_connection() {
    let (mut t, l) = full_listener(quick_cfg());
    let before = t.stack.connection_count();
    let mut syn = tcp(SYN, 5000, 0, 65535);
    syn.options = ts_syn_opts();
    let out = t.inject(t.local(80), syn, &[]);
    let sa = one(&out, SYN | ACK, out[0].seq(), 5001);
    // Nothing kept for it.
    assert_eq!(t.stack.connection_count(), before);
    assert_eq!(t.stack.stats().syncookies_sent, 1);
    assert_eq!(t.stack.stats().listen_overflows, 0);
    // The SYN-ACK offers what the SYN did, and its TSval carries the peer's options:
    // window shift 7, SACK.
    let o = sa.tcp.options;
    assert_eq!(o.mss, Some(1460));
    assert!(o.sack_permitted);
    assert!(o.window_scale.is_some());
    let (tsval, ecr) = o.timestamp.expect("timestamps");
    assert_eq!(ecr, 1000);
    assert_eq!(tsval & 0x3f, 7 | 1 << 4);

    // The ACK, with data, 200 ms later.
    t.advance(ms(200));
    let cookie = sa.seq();
    let mut ack = tcp(ACK | PSH, 5001, cookie.wrapping_add(1), 100);
    ack.options.timestamp = Some((1200, tsval));
    let out = t.inject(t.local(80), ack, b"hello");
    // The data is acknowledged like on any new connection.
    one(&out, ACK, cookie.wrapping_add(1), 5006);
    assert_eq!(t.stack.stats().syncookies_accepted, 1);
    assert!(events(&mut t.stack).contains(&Event::Incoming(l)));
    let h = t.stack.accept(l).expect("the cookie connection is queued");
    assert_eq!(t.stack.state(h), Some(State::Established));
    let info = t.stack.info(h).unwrap();
    assert_eq!(info.iss, cookie);
    assert_eq!(info.irs, 5000);
    assert_eq!(info.mss, 1460);
    // Window scaling is on: the ACK's window of 100 is scaled by 7.
    assert_eq!(info.snd_wnd, 100 << 7);
    // No RTT sample from a handshake whose SYN-ACK time is unknown.
    assert_eq!(info.srtt, None);
    let mut buf = [0u8; 16];
    assert_eq!(t.stack.recv(h, &mut buf), Ok(5));
    assert_eq!(&buf[..5], b"hello");
    // And it sends, with SACK and timestamps on.
    t.stack.send(h, b"world").unwrap();
    let out = t.out();
    let d = one(&out, ACK | PSH, cookie.wrapping_add(1), 5006);
    assert_eq!(d.payload, b"world");
    assert!(d.tcp.options.timestamp.is_some());
}

#[test]
fn without_timestamps_the_cookie_offers_only_the_mss() {
    let (mut t, l) = full_listener(quick_cfg());
    let mut syn = tcp(SYN, 5000, 0, 65535);
    syn.options = TcpOptions {
        mss: Some(1400),
        window_scale: Some(7),
        sack_permitted: true,
        ..TcpOptions::default()
    };
    let out = t.inject(t.local(80), syn, &[]);
    let sa = one(&out, SYN | ACK, out[0].seq(), 5001);
    assert_eq!(sa.tcp.options.mss, Some(1460));
    assert_eq!(sa.tcp.options.window_scale, None);
    assert!(!sa.tcp.options.sack_permitted);
    assert_eq!(sa.tcp.options.timestamp, None);
    none(&t.inject(
        t.local(80),
        tcp(ACK, 5001, sa.seq().wrapping_add(1), 1000),
        &[],
    ));
    let h = t.stack.accept(l).unwrap();
    let info = t.stack.info(h).unwrap();
    // 1400 rounds down to the table's 1300; the window is not scaled.
    assert_eq!(info.mss, 1300);
    assert_eq!(info.snd_wnd, 1000);
}

#[test]
fn a_wrong_cookie_is_reset_and_counted() {
    let (mut t, _) = full_listener(quick_cfg());
    let out = t.inject(t.local(80), tcp(SYN, 5000, 0, 65535), &[]);
    let cookie = out[0].seq();
    let before = t.stack.connection_count();
    // Another minute, other hash bits, another ISN, another port: all refused with
    // RST <SEQ=SEG.ACK>. (As in Linux, cookie + 1 to + 3 would pass for a cookie that
    // carries the lowest MSS index: the index is added to the low bits.)
    for (seq, ack, port) in [
        (5001, cookie.wrapping_add(7 << 24).wrapping_add(1), 40000),
        (5001, (cookie ^ 0x00ff_0000).wrapping_add(1), 40000),
        (6001, cookie.wrapping_add(1), 40000),
        (5001, cookie.wrapping_add(1), 40001),
    ] {
        t.peer = addr(&format!("10.0.0.1:{port}"));
        let out = t.inject(t.local(80), tcp(ACK, seq, ack, 1000), &[]);
        one(&out, RST, ack, 0);
    }
    assert_eq!(t.stack.stats().syncookies_rejected, 4);
    assert_eq!(t.stack.stats().syncookies_accepted, 0);
    assert_eq!(t.stack.connection_count(), before);
}

#[test]
fn cookies_expire_after_two_minutes() {
    let mut t = Lone::new(Config {
        syncookies: SynCookies::Always,
        ..quick_cfg()
    });
    let l = t.listen80();
    // Two cookies of minute 0 of the engine's clock (Lone starts at 1 s).
    let mut cookies = Vec::new();
    for port in [40000, 40001] {
        t.peer = addr(&format!("10.0.0.1:{port}"));
        cookies.push(t.inject(t.local(80), tcp(SYN, 5000, 0, 65535), &[])[0].seq());
    }
    // At minute 1 the first is still good.
    t.advance(secs(61));
    t.peer = addr("10.0.0.1:40000");
    none(&t.inject(
        t.local(80),
        tcp(ACK, 5001, cookies[0].wrapping_add(1), 1000),
        &[],
    ));
    assert!(t.stack.accept(l).is_some());
    // A cookie sent now keeps the listener taking cookie ACKs ...
    t.peer = addr("10.0.0.1:40009");
    t.inject(t.local(80), tcp(SYN, 5000, 0, 65535), &[]);
    // ... but at minute 2 one of minute 0 is refused.
    t.advance(secs(60));
    assert_eq!(t.now, Instant::from_secs(122));
    t.peer = addr("10.0.0.1:40001");
    let out = t.inject(
        t.local(80),
        tcp(ACK, 5001, cookies[1].wrapping_add(1), 1000),
        &[],
    );
    one(&out, RST, cookies[1].wrapping_add(1), 0);
    assert_eq!(t.stack.stats().syncookies_rejected, 1);
    assert!(t.stack.accept(l).is_none());
}

#[test]
fn a_listener_that_sent_no_cookie_lately_does_not_check_acks() {
    let mut t = Lone::new(quick_cfg());
    t.listen80();
    let out = t.inject(t.local(80), tcp(ACK, 5001, 12345, 1000), &[]);
    one(&out, RST, 12345, 0);
    assert_eq!(t.stack.stats().syncookies_rejected, 0);
}

#[test]
fn always_sends_cookies_even_with_room() {
    let mut t = Lone::new(Config {
        syncookies: SynCookies::Always,
        ..quick_cfg()
    });
    let l = t.listen80();
    let out = t.inject(t.local(80), tcp(SYN, 1, 0, 65535), &[]);
    let sa = one(&out, SYN | ACK, out[0].seq(), 2);
    assert_eq!(t.stack.connection_count(), 0);
    none(&t.inject(
        t.local(80),
        tcp(ACK, 2, sa.seq().wrapping_add(1), 1000),
        &[],
    ));
    assert!(t.stack.accept(l).is_some());
    assert_eq!(t.stack.stats().syncookies_accepted, 1);
}

#[test]
fn off_never_accepts_a_cookie() {
    let mut t = Lone::new(Config {
        syncookies: SynCookies::Always,
        ..quick_cfg()
    });
    t.listen80();
    let out = t.inject(t.local(80), tcp(SYN, 1, 0, 65535), &[]);
    let cookie = out[0].seq();
    // Switched off before the ACK returns (a sysctl while running).
    t.stack.update_config(|c| c.syncookies = SynCookies::Off);
    let out = t.inject(t.local(80), tcp(ACK, 2, cookie.wrapping_add(1), 1000), &[]);
    one(&out, RST, cookie.wrapping_add(1), 0);
    assert_eq!(t.stack.connection_count(), 0);
}

#[test]
fn a_full_accept_queue_drops_the_cookie_ack_until_there_is_room() {
    let mut t = Lone::new(Config {
        syncookies: SynCookies::Always,
        ..quick_cfg()
    });
    let l = t.stack.listen(t.local(80), 1).unwrap();
    let mut cookies = Vec::new();
    for port in [40000, 40001] {
        t.peer = addr(&format!("10.0.0.1:{port}"));
        cookies.push(t.inject(t.local(80), tcp(SYN, 100, 0, 65535), &[])[0].seq());
    }
    t.peer = addr("10.0.0.1:40000");
    none(&t.inject(
        t.local(80),
        tcp(ACK, 101, cookies[0].wrapping_add(1), 1000),
        &[],
    ));
    // The accept queue is full: the second ACK is dropped, silently (no RST).
    t.peer = addr("10.0.0.1:40001");
    let overflows = t.stack.stats().listen_overflows;
    none(&t.inject(
        t.local(80),
        tcp(ACK, 101, cookies[1].wrapping_add(1), 1000),
        &[],
    ));
    assert_eq!(t.stack.stats().listen_overflows, overflows + 1);
    assert_eq!(t.stack.connection_count(), 1);
    // Room again: the peer's next segment (here data) still carries the cookie.
    t.stack.accept(l).unwrap();
    let out = t.inject(
        t.local(80),
        tcp(ACK | PSH, 101, cookies[1].wrapping_add(1), 1000),
        b"x",
    );
    one(&out, ACK, cookies[1].wrapping_add(1), 102);
    assert!(t.stack.accept(l).is_some());
}

#[test]
fn ipv6_cookies_use_the_ipv6_mss_table() {
    let mut stack = Stack::new(
        Config {
            syncookies: SynCookies::Always,
            ..quick_cfg()
        },
        [9; 16],
    );
    stack.add_address(ip("fd00::2"));
    let l = stack.listen(addr("[fd00::2]:80"), 0).unwrap();
    let (me, peer) = (addr("[fd00::2]:80"), addr("[fd00::1]:4000"));
    let now = Instant::from_secs(1);
    let mut syn = tcp(SYN, 1, 0, 65535);
    syn.options = syn_opts(1460);
    stack.handle_packet(now, &packet(peer, me, syn, &[]));
    let out = drain(&mut stack, now);
    let cookie = out[0].seq();
    stack.handle_packet(
        now,
        &packet(peer, me, tcp(ACK, 2, cookie.wrapping_add(1), 1000), &[]),
    );
    let h = stack.accept(l).unwrap();
    assert_eq!(stack.info(h).unwrap().mss, 1440);
}

#[test]
fn a_flood_keeps_nothing_and_a_client_gets_through() {
    // 20,000 spoofed SYNs from as many ports against a backlog of 128: the stack holds
    // only the backlog's half-open connections, and a real client (another stack)
    // then connects and moves data while they are all still there.
    let mut p = Pair::new(quick_cfg(), quick_cfg(), ms(5));
    let l = p
        .server
        .listen(addr(&format!("{SERVER_IP}:80")), 0)
        .unwrap();
    let now = p.now;
    let mut sent = 0;
    for i in 0..20_000u32 {
        let src = addr(&format!(
            "10.{}.{}.{}:{}",
            200,
            (i >> 8) & 255,
            i & 255,
            1024 + (i % 60_000)
        ));
        let syn = packet(
            src,
            addr(&format!("{SERVER_IP}:80")),
            tcp(SYN, i, 0, 65535),
            &[],
        );
        p.server.handle_packet(now, &syn);
        sent += drain(&mut p.server, now).len();
    }
    assert_eq!(sent, 20_000, "every SYN answered");
    assert_eq!(p.server.connection_count(), 128);
    assert_eq!(p.server.stats().syncookies_sent, 20_000 - 128);
    let h = p
        .client
        .connect(p.now, addr(&format!("{SERVER_IP}:80")), None)
        .unwrap();
    assert!(
        p.run_until(secs(2), |p| p.server.accept(l).is_some_and(|s| {
            p.server.send(s, b"from the server").unwrap();
            true
        }))
    );
    assert!(p.run_until(secs(2), |p| p.client.info(h).unwrap().recv_queue == 15));
    assert_eq!(p.server.stats().syncookies_accepted, 1);
}
