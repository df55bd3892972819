//! The runtime's UDP API over an in-memory device pair: echo both ways (IPv4 and
//! IPv6), connected sockets, errors with the kinds a kernel socket gives, a datagram
//! to a closed port, the intercept replying as the original destination and reporting
//! expired flows (paused tokio time), and many datagrams through a small send queue.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use synack::{Config, MemoryDevice, NetStack, UdpIntercept, UdpSocket};

fn pair_with(cfg: Config) -> (NetStack, NetStack) {
    let (a, b) = MemoryDevice::pair();
    let a = NetStack::builder()
        .config(cfg.clone())
        .address("10.0.0.1".parse().unwrap())
        .address("fd00::1".parse().unwrap())
        .build(a)
        .unwrap();
    let b = NetStack::builder()
        .config(cfg)
        .address("10.0.0.2".parse().unwrap())
        .address("fd00::2".parse().unwrap())
        .build(b)
        .unwrap();
    (a, b)
}

fn pair() -> (NetStack, NetStack) {
    pair_with(Config::default())
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

async fn echo_server(sock: UdpSocket) -> std::io::Result<()> {
    let mut buf = vec![0u8; 2048];
    loop {
        let (n, from) = sock.recv_from(&mut buf).await?;
        sock.send_to(&buf[..n], from).await?;
    }
}

#[tokio::test]
async fn echo_over_v4_and_v6() {
    let (a, b) = pair();
    for (server_addr, bind_any) in [("10.0.0.2:7", "0.0.0.0:0"), ("[fd00::2]:7", "[::]:0")] {
        let server = UdpSocket::bind(&b, server_addr).await.unwrap();
        let task = tokio::spawn(echo_server(server));
        let client = UdpSocket::bind(&a, bind_any).await.unwrap();
        for i in 0..50u32 {
            let msg = format!("datagram {i}");
            client.send_to(msg.as_bytes(), server_addr).await.unwrap();
            let mut buf = [0u8; 64];
            let (n, from) = client.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], msg.as_bytes());
            assert_eq!(from, sa(server_addr));
        }
        task.abort();
    }
}

#[tokio::test]
async fn connected_send_recv_and_addresses() {
    let (a, b) = pair();
    let server = UdpSocket::bind(&b, "10.0.0.2:53").await.unwrap();
    let client = UdpSocket::bind(&a, "0.0.0.0:0").await.unwrap();
    assert_eq!(
        client.peer_addr().unwrap_err().kind(),
        ErrorKind::NotConnected
    );
    assert_eq!(
        client.send(b"x").await.unwrap_err().kind(),
        ErrorKind::NotConnected
    );
    client.connect("10.0.0.2:53").await.unwrap();
    assert_eq!(client.peer_addr().unwrap(), sa("10.0.0.2:53"));
    let local = client.local_addr().unwrap();
    assert_eq!(local.ip(), "10.0.0.1".parse::<std::net::IpAddr>().unwrap());
    assert!(local.port() >= 49152);
    client.send(b"question").await.unwrap();
    let mut buf = [0u8; 64];
    let (n, from) = server.recv_from(&mut buf).await.unwrap();
    assert_eq!((&buf[..n], from), (&b"question"[..], local));
    server.send_to(b"answer", from).await.unwrap();
    let n = client.recv(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"answer");
    // A short buffer gets the start of the datagram; the rest is discarded.
    server.send_to(b"0123456789", from).await.unwrap();
    let mut small = [0u8; 4];
    assert_eq!(client.recv(&mut small).await.unwrap(), 4);
    assert_eq!(&small, b"0123");
    assert_eq!(
        client.try_recv_from(&mut buf).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
}

#[tokio::test]
async fn errors_have_kernel_kinds() {
    let (a, _b) = pair();
    let s = UdpSocket::bind(&a, "10.0.0.1:5000").await.unwrap();
    assert_eq!(
        UdpSocket::bind(&a, "10.0.0.1:5000")
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::AddrInUse
    );
    assert_eq!(
        UdpSocket::bind(&a, "10.0.0.9:5000")
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::AddrNotAvailable
    );
    // Larger than the MTU allows: EMSGSIZE, nothing sent.
    let big = vec![0u8; 1473];
    let e = s.send_to(&big, "10.0.0.2:9").await.unwrap_err();
    #[cfg(unix)]
    assert_eq!(e.raw_os_error(), Some(libc::EMSGSIZE));
    let _ = e;
    assert_eq!(s.send_to(&big[..1472], "10.0.0.2:9").await.unwrap(), 1472);
}

#[tokio::test]
async fn a_closed_port_refuses_a_connected_socket() {
    let (a, b) = pair();
    let client = UdpSocket::bind(&a, "10.0.0.1:0").await.unwrap();
    client.connect("10.0.0.2:9").await.unwrap();
    client.send(b"hello?").await.unwrap();
    let mut buf = [0u8; 16];
    let e = tokio::time::timeout(Duration::from_secs(10), client.recv(&mut buf))
        .await
        .expect("the refusal arrives")
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
    assert_eq!(b.stats().udp.port_unreachable_sent, 1);
    assert_eq!(a.stats().udp.icmp_errors_applied, 1);
    // Reported once: the socket still works.
    assert!(client.take_error().unwrap().is_none());
    client.send(b"again").await.unwrap();
}

#[tokio::test]
async fn intercept_replies_as_the_original_destination() {
    let (a, b) = pair();
    let intercept = Arc::new(UdpIntercept::new(&b).await.unwrap());
    assert_eq!(
        UdpIntercept::new(&b).await.unwrap_err().kind(),
        ErrorKind::AddrInUse
    );
    let i2 = intercept.clone();
    let responder = tokio::spawn(async move {
        loop {
            let (payload, src, dst) = i2.recv().await?;
            let mut reply = format!("{dst} says: ").into_bytes();
            reply.extend_from_slice(&payload);
            i2.send_as(dst, src, &reply).await?;
        }
        #[allow(unreachable_code)]
        std::io::Result::Ok(())
    });
    for target in ["198.51.100.7:53", "203.0.113.9:123", "[2001:db8::5]:443"] {
        let any = if target.starts_with('[') {
            "[::]:0"
        } else {
            "0.0.0.0:0"
        };
        let c = UdpSocket::bind(&a, any).await.unwrap();
        c.connect(target).await.unwrap();
        c.send(b"hi").await.unwrap();
        let mut buf = [0u8; 128];
        let n = c.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], format!("{target} says: hi").as_bytes());
    }
    assert_eq!(intercept.flow_count(), 3);
    responder.abort();
}

#[tokio::test(start_paused = true)]
async fn intercepted_flows_expire_and_are_reported() {
    let (a, b) = pair_with(Config {
        udp_flow_timeout: Duration::from_secs(5),
        ..Config::default()
    });
    let intercept = UdpIntercept::new(&b).await.unwrap();
    let c = UdpSocket::bind(&a, "10.0.0.1:4444").await.unwrap();
    c.send_to(b"one", "192.0.2.1:9").await.unwrap();
    let (_, src, dst) = intercept.recv().await.unwrap();
    assert_eq!((src, dst), (sa("10.0.0.1:4444"), sa("192.0.2.1:9")));
    assert_eq!(intercept.flow_count(), 1);
    let started = tokio::time::Instant::now();
    let (client, target) = intercept.expired().await.unwrap();
    assert_eq!((client, target), (src, dst));
    assert!(started.elapsed() >= Duration::from_secs(4));
    assert_eq!(intercept.flow_count(), 0);
}

#[tokio::test]
async fn many_datagrams_through_a_small_send_queue() {
    let (a, b) = pair_with(Config {
        udp_send_buffer: 4 * 1024,
        udp_recv_buffer: 1 << 20,
        ..Config::default()
    });
    let server = UdpSocket::bind(&b, "10.0.0.2:9").await.unwrap();
    let client = UdpSocket::bind(&a, "10.0.0.1:0").await.unwrap();
    // 400 datagrams of 1000 bytes: the sender waits for its queue to drain.
    let send = async {
        for i in 0..400u32 {
            let mut d = vec![(i % 251) as u8; 1000];
            d[..4].copy_from_slice(&i.to_be_bytes());
            client.send_to(&d, "10.0.0.2:9").await.unwrap();
        }
    };
    let recv = async {
        let mut seen = 0u32;
        let mut buf = [0u8; 1500];
        while seen < 400 {
            let (n, _) = server.recv_from(&mut buf).await.unwrap();
            assert_eq!(n, 1000);
            let i = u32::from_be_bytes(buf[..4].try_into().unwrap());
            assert_eq!(i, seen, "in order over a lossless link");
            seen += 1;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), async { tokio::join!(send, recv) })
        .await
        .expect("all datagrams in time");
}
