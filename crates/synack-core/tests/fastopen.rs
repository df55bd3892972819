//! TCP Fast Open (RFC 7413) end to end between two synack stacks over a link with a
//! fixed one-way latency, in virtual time: the first connection obtains a cookie,
//! the second carries its request in the SYN, and the server reads it one RTT
//! earlier than over an ordinary handshake (§1: "saves up to one full round-trip
//! time").

mod common;

use common::{addr, ip, ms, Pair, SERVER_IP};
use synack_core::fastopen::{CLIENT_ENABLE, SERVER_ENABLE};
use synack_core::{Config, ConnHandle, Duration, Instant, ListenerHandle};

const LATENCY_MS: u64 = 10;

fn pair() -> (Pair, ListenerHandle) {
    let cfg = Config {
        fastopen: CLIENT_ENABLE | SERVER_ENABLE,
        ..Config::default()
    };
    let mut p = Pair::new(cfg.clone(), cfg, ms(LATENCY_MS));
    let l = p.server.listen(addr("10.0.0.2:80"), 16).expect("listen");
    p.server.set_listener_fastopen(l, 16);
    (p, l)
}

/// Run until the server has accepted a connection and read `want` from it; return
/// the instant it read the last byte and the accepted handle.
fn serve(p: &mut Pair, l: ListenerHandle, want: &[u8]) -> (Instant, ConnHandle) {
    let mut got = Vec::new();
    let mut conn = None;
    let mut at = None;
    let done = p.run_until(Duration::from_secs(5), |p| {
        if conn.is_none() {
            conn = p.server.accept(l);
        }
        if let Some(h) = conn {
            let mut buf = [0u8; 256];
            while let Ok(n) = p.server.recv(h, &mut buf) {
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            if got.len() >= want.len() && at.is_none() {
                at = Some(p.now);
            }
        }
        at.is_some()
    });
    assert!(done, "the server never read the request");
    assert_eq!(got, want);
    (at.expect("time"), conn.expect("conn"))
}

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\n\r\n";

#[test]
fn data_in_the_syn_saves_one_round_trip() {
    let (mut p, l) = pair();
    let server = addr("10.0.0.2:80");
    // Without a cookie: the SYN asks for one and carries no data (RFC 7413 §4.1.3).
    let t0 = p.now;
    let (c1, taken) = p
        .client
        .connect_fastopen(t0, server, None, REQUEST, false)
        .expect("connect");
    assert_eq!(taken, 0, "no cookie yet: nothing goes in the SYN");
    assert!(p.run_until(Duration::from_secs(1), |p| p
        .client
        .fastopen_cache(ip(SERVER_IP))
        .cookie
        .is_some()));
    assert!(!p.client.fastopen_syn_data_acked(c1));
    let sent = p.client.send(c1, REQUEST).expect("send");
    assert_eq!(sent, REQUEST.len());
    let (t_plain, s1) = serve(&mut p, l, REQUEST);
    // Ordinary handshake: SYN, SYN-ACK, then the ACK with the data: 1.5 RTT.
    assert_eq!(t_plain - t0, ms(3 * LATENCY_MS));
    p.client.close(p.now, c1);
    p.server.close(p.now, s1);
    p.run_for(Duration::from_secs(1));

    // With the cookie: the request rides in the SYN and is readable on the server
    // half an RTT later, before the handshake completes.
    let t1 = p.now;
    let (c2, taken) = p
        .client
        .connect_fastopen(t1, server, None, REQUEST, false)
        .expect("connect");
    assert_eq!(taken, REQUEST.len());
    let (t_fast, s2) = serve(&mut p, l, REQUEST);
    assert_eq!(t_fast - t1, ms(LATENCY_MS));
    assert_eq!(
        (t_plain - t0) - (t_fast - t1),
        ms(2 * LATENCY_MS),
        "one RTT saved"
    );
    assert!(p.server.fastopen_syn_data_acked(s2));
    // The server answers at once; the client gets it one RTT after it started.
    p.server.send(s2, b"200").expect("reply");
    let mut reply = Vec::new();
    assert!(p.run_until(Duration::from_secs(1), |p| {
        let mut buf = [0u8; 16];
        if let Ok(n) = p.client.recv(c2, &mut buf) {
            reply.extend_from_slice(&buf[..n]);
        }
        reply == b"200"
    }));
    assert_eq!(p.now - t1, ms(2 * LATENCY_MS));
    // The SYN-ACK acknowledged all the SYN's data.
    assert!(p.client.fastopen_syn_data_acked(c2));
    assert_eq!(p.client.info(c2).expect("info").send_queue, 0);
}

#[test]
fn invalid_cookie_falls_back_to_a_plain_handshake() {
    let (mut p, l) = pair();
    let server = addr("10.0.0.2:80");
    let (c1, _) = p
        .client
        .connect_fastopen(p.now, server, None, b"", false)
        .expect("connect");
    assert!(p.run_until(Duration::from_secs(1), |p| p
        .client
        .fastopen_cache(ip(SERVER_IP))
        .cookie
        .is_some()));
    let old = p.client.fastopen_cache(ip(SERVER_IP)).cookie;
    p.client.close(p.now, c1);
    p.run_for(Duration::from_secs(1));
    let _ = p.server.accept(l);
    // The server changes its key twice: the client's cookie has expired
    // (RFC 7413 §4.1.2). Its SYN data is not acknowledged and is sent again after
    // the handshake; the SYN-ACK brings a fresh cookie.
    p.server.rotate_fastopen_key([9; 16]);
    p.server.rotate_fastopen_key([8; 16]);
    let t = p.now;
    let (c2, taken) = p
        .client
        .connect_fastopen(t, server, None, REQUEST, false)
        .expect("connect");
    assert_eq!(taken, REQUEST.len());
    let (at, _) = serve(&mut p, l, REQUEST);
    assert_eq!(
        at - t,
        ms(3 * LATENCY_MS),
        "the data came after the handshake"
    );
    assert!(!p.client.fastopen_syn_data_acked(c2));
    let fresh = p.client.fastopen_cache(ip(SERVER_IP)).cookie;
    assert!(fresh.is_some() && fresh != old);
}

#[test]
fn server_without_fast_open_ignores_the_data() {
    let cfg = Config::default();
    let mut p = Pair::new(cfg.clone(), cfg, ms(LATENCY_MS));
    let l = p.server.listen(addr("10.0.0.2:80"), 16).expect("listen");
    let server = addr("10.0.0.2:80");
    let t = p.now;
    let (c, taken) = p
        .client
        .connect_fastopen(t, server, None, REQUEST, true)
        .expect("connect");
    // No cookie: a request in the SYN, the data queued for after the handshake.
    assert_eq!(taken, REQUEST.len());
    let (at, _) = serve(&mut p, l, REQUEST);
    assert_eq!(at - t, ms(3 * LATENCY_MS));
    // No cookie came back; the cache remembers to ask with the other format.
    assert!(p.client.fastopen_cache(ip(SERVER_IP)).cookie.is_none());
    assert_eq!(p.client.fastopen_cache(ip(SERVER_IP)).try_exp, 1);
    p.run_for(ms(5 * LATENCY_MS));
    assert_eq!(p.client.info(c).expect("info").send_queue, 0);
}
