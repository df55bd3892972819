//! Two synack stacks in one process, joined by the emulator through `StackPort`s: a
//! transfer over a delayed, rate-limited and lossy path arrives intact, the link's
//! counters show the impairments were applied, and the handshake took at least the
//! configured round trip.

use std::time::Duration;
use synack::{NetStack, TcpListener, TcpStream};
use synack_link::{channel, link_configs, DirSpec, Link, Side, StackPort};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn byte(i: usize) -> u8 {
    (i.wrapping_mul(31) ^ (i >> 9)) as u8
}

#[tokio::test(flavor = "current_thread")]
async fn a_transfer_crosses_an_impaired_path_intact() {
    let mut spec = DirSpec::default();
    spec.apply_list("delay=10ms,rate=20mbit,queue=1bdp,loss=1%")
        .expect("valid spec");
    let (ab, ba) = link_configs(&spec, &spec);
    let mut link = Link::new(ab, ba, 7);
    let (to_a, rx_a) = channel();
    let (to_b, rx_b) = channel();
    link.start(Box::new(to_a), Box::new(to_b)).expect("start");
    let dev_a = StackPort::new(link.ingress(Side::A), rx_a, 1500);
    let dev_b = StackPort::new(link.ingress(Side::B), rx_b, 1500);
    let a = NetStack::new(dev_a, &["10.0.0.1".parse().unwrap()]).expect("stack a");
    let b = NetStack::new(dev_b, &["10.0.0.2".parse().unwrap()]).expect("stack b");
    let listener = TcpListener::bind(&b, "10.0.0.2:9").await.expect("bind");
    const TOTAL: usize = 300_000;
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.expect("accept");
        let mut got = Vec::new();
        s.read_to_end(&mut got).await.expect("read");
        got
    });
    let started = std::time::Instant::now();
    let mut c = TcpStream::connect(&a, "10.0.0.2:9").await.expect("connect");
    let handshake = started.elapsed();
    let data: Vec<u8> = (0..TOTAL).map(byte).collect();
    c.write_all(&data).await.expect("write");
    c.shutdown().await.expect("shutdown");
    let got = tokio::time::timeout(Duration::from_secs(60), server)
        .await
        .expect("transfer finished")
        .expect("server task");
    assert_eq!(got.len(), TOTAL);
    assert!(got == data, "stream corrupted");
    // The SYN and SYN-ACK each crossed 10 ms of one-way delay.
    assert!(handshake >= Duration::from_millis(20), "{handshake:?}");
    let ab = link.stats(Side::A);
    assert!(ab.sent_bytes >= TOTAL as u64);
    assert!(ab.lost > 0, "1% loss over {} packets lost none", ab.sent);
    assert_eq!(link.timing(Side::A).released, ab.delivered);
}
