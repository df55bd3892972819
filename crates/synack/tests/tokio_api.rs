//! The half of `tokio::net`'s TCP API beyond read / write (issue 17): peek, readiness
//! with `try_read` / `try_write`, `take_error`, TTL, address lists, and the
//! `TcpSocket` builder — each checked over an in-memory device pair, the TTL on the
//! packets themselves (through the pcap capture).
//!
//! The `within` guard only turns a hang into a failure; no test asserts on timing.

use std::future::Future;
use std::io::{self, ErrorKind};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use synack::{MemoryDevice, NetStack, TcpListener, TcpSocket, TcpStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip literal")
}

fn sa(s: &str) -> SocketAddr {
    s.parse().expect("socket address literal")
}

fn pair() -> (NetStack, NetStack) {
    let (da, db) = MemoryDevice::pair();
    let a = NetStack::new(da, &[ip("10.0.0.1"), ip("fd00::1")]).expect("stack a");
    let b = NetStack::new(db, &[ip("10.0.0.2"), ip("fd00::2")]).expect("stack b");
    (a, b)
}

async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    match tokio::time::timeout(Duration::from_secs(60), f).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: no progress in 60 s"),
    }
}

/// A connected client / server pair of streams.
async fn streams(a: &NetStack, b: &NetStack, port: u16) -> (TcpStream, TcpStream) {
    let l = TcpListener::bind(b, ("10.0.0.2", port))
        .await
        .expect("bind");
    let c = TcpStream::connect(a, ("10.0.0.2", port))
        .await
        .expect("connect");
    let (s, _) = l.accept().await.expect("accept");
    (c, s)
}

#[tokio::test]
async fn peek_shows_data_without_consuming_it() {
    within("peek", async {
        let (a, b) = pair();
        let (mut c, mut s) = streams(&a, &b, 7).await;
        c.write_all(b"hello world").await.unwrap();
        let mut buf = [0u8; 5];
        let n = s.peek(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], &b"hello world"[..n]);
        // Peeking again shows the same bytes; reading then consumes them.
        let mut all = [0u8; 11];
        s.read_exact(&mut all).await.unwrap();
        assert_eq!(&all, b"hello world");
        // The poll form appends to a ReadBuf.
        c.write_all(b"xyz").await.unwrap();
        let mut store = [0u8; 8];
        let mut rb = tokio::io::ReadBuf::new(&mut store);
        let n = std::future::poll_fn(|cx| s.poll_peek(cx, &mut rb))
            .await
            .unwrap();
        assert_eq!(rb.filled(), &b"xyz"[..n]);
        // End of stream: peek answers 0 once everything was read.
        s.read_exact(&mut [0u8; 3]).await.unwrap();
        c.shutdown().await.unwrap();
        assert_eq!(s.peek(&mut buf).await.unwrap(), 0);
    })
    .await;
}

#[tokio::test]
async fn readiness_and_try_calls() {
    within("readiness", async {
        let (a, b) = pair();
        let (c, s) = streams(&a, &b, 8).await;
        let mut buf = [0u8; 64];
        assert_eq!(
            s.try_read(&mut buf).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
        let r = c
            .ready(Interest::READABLE | Interest::WRITABLE)
            .await
            .unwrap();
        assert!(r.is_writable() && !r.is_readable() && !r.is_write_closed());
        c.writable().await.unwrap();
        assert_eq!(c.try_write(b"ping").unwrap(), 4);
        s.readable().await.unwrap();
        assert_eq!(s.try_read(&mut buf).unwrap(), 4);
        assert_eq!(&buf[..4], b"ping");
        // Fill the peer's window and our send buffer: try_write ends in WouldBlock,
        // and becomes writable again once the peer reads.
        let chunk = vec![7u8; 64 * 1024];
        let mut queued = 0usize;
        loop {
            match c.try_write(&chunk) {
                Ok(n) => queued += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
            tokio::task::yield_now().await;
        }
        assert!(queued > 0);
        let drain = async {
            let mut got = 0usize;
            let mut big = vec![0u8; 64 * 1024];
            while got < queued {
                s.readable().await.unwrap();
                match s.try_read(&mut big) {
                    Ok(n) => got += n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(e) => panic!("{e}"),
                }
            }
            got
        };
        let (got, ()) = tokio::join!(drain, async { c.writable().await.unwrap() });
        assert_eq!(got, queued);
        // After our FIN the stream is write-closed; after the peer's, read-closed.
        let mut c = c;
        c.shutdown().await.unwrap();
        let r = c.ready(Interest::WRITABLE).await.unwrap();
        assert!(r.is_write_closed());
        let r = s.ready(Interest::READABLE).await.unwrap();
        assert!(r.is_read_closed());
        assert_eq!(s.try_read(&mut buf).unwrap(), 0);
    })
    .await;
}

#[tokio::test]
async fn poll_readiness_pends_until_data_arrives() {
    within("poll readiness", async {
        let (a, b) = pair();
        let (c, s) = streams(&a, &b, 9).await;
        // Nothing sent yet: reading is not ready (the waker is registered), writing is.
        let pending =
            std::future::poll_fn(|cx| std::task::Poll::Ready(s.poll_read_ready(cx).is_pending()))
                .await;
        assert!(pending);
        std::future::poll_fn(|cx| c.poll_write_ready(cx))
            .await
            .unwrap();
        assert_eq!(c.try_write(b"abc").unwrap(), 3);
        std::future::poll_fn(|cx| s.poll_read_ready(cx))
            .await
            .unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(s.try_read(&mut buf).unwrap(), 3);
        assert_eq!(&buf[..3], b"abc");
    })
    .await;
}

#[tokio::test]
async fn take_error_reports_a_reset_once() {
    within("take_error", async {
        let (a, b) = pair();
        let (c, s) = streams(&a, &b, 9).await;
        assert!(c.take_error().unwrap().is_none());
        s.set_linger(Some(Duration::ZERO)).unwrap();
        drop(s); // RST
        c.readable().await.unwrap();
        let e = c.take_error().unwrap().expect("the reset");
        assert_eq!(e.kind(), ErrorKind::ConnectionReset);
        assert!(c.take_error().unwrap().is_none(), "taken once");
    })
    .await;
}

/// TTL bytes of the IPv4 packets in a raw-IP pcap capture, by source address.
fn ttls_from(pcap: &[u8], src: [u8; 4]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = &pcap[24..];
    while rest.len() >= 16 {
        let incl = u32::from_le_bytes([rest[8], rest[9], rest[10], rest[11]]) as usize;
        let p = &rest[16..16 + incl];
        if p.len() >= 20 && p[0] >> 4 == 4 && p[12..16] == src {
            out.push(p[8]);
        }
        rest = &rest[16 + incl..];
    }
    out
}

#[derive(Clone, Default)]
struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl io::Write for SharedBuf {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn ttl_applies_to_the_connections_packets() {
    within("ttl", async {
        let cap = SharedBuf::default();
        let (da, db) = MemoryDevice::pair();
        let a = NetStack::builder()
            .address(ip("10.0.0.1"))
            .capture(cap.clone())
            .build(da)
            .unwrap();
        let b = NetStack::new(db, &[ip("10.0.0.2")]).unwrap();
        let (mut c, mut s) = streams(&a, &b, 10).await;
        assert_eq!(c.ttl().unwrap(), u32::from(a.config().ttl));
        c.set_ttl(7).unwrap();
        assert_eq!(c.ttl().unwrap(), 7);
        assert_eq!(c.set_ttl(300).unwrap_err().kind(), ErrorKind::InvalidInput);
        c.write_all(b"after").await.unwrap();
        let mut got = [0u8; 5];
        s.read_exact(&mut got).await.unwrap();
        a.flush_capture().unwrap();
        let ttls = ttls_from(&cap.0.lock().unwrap(), [10, 0, 0, 1]);
        // The handshake left with the default TTL, the data with the new one.
        assert_eq!(ttls.first(), Some(&a.config().ttl), "{ttls:?}");
        assert_eq!(ttls.last(), Some(&7), "{ttls:?}");
    })
    .await;
}

#[tokio::test]
async fn address_lists_are_tried_in_order() {
    within("address lists", async {
        let (a, b) = pair();
        let l = TcpListener::bind(&b, "10.0.0.2:80").await.unwrap();
        // 10.0.0.2:81 refuses; the next address connects.
        let list = [sa("10.0.0.2:81"), sa("10.0.0.2:80")];
        let c = TcpStream::connect(&a, &list[..]).await.unwrap();
        assert_eq!(c.peer_addr().unwrap(), sa("10.0.0.2:80"));
        let _ = l.accept().await.unwrap();
        // All refuse: the last error.
        let e = TcpStream::connect(&a, vec![sa("10.0.0.2:82"), sa("10.0.0.2:83")])
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
        // A name is not an address: synack does not resolve.
        let e = TcpStream::connect(&a, ("example.com", 80))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        // bind: the first free address of the list.
        let l2 = TcpListener::bind(&b, [sa("10.0.0.2:80"), sa("[fd00::2]:80")])
            .await
            .unwrap();
        assert_eq!(l2.local_addr().unwrap(), sa("[fd00::2]:80"));
    })
    .await;
}

#[tokio::test]
async fn tcp_socket_binds_before_connecting_and_sets_buffers() {
    within("TcpSocket", async {
        let (a, b) = pair();
        let ls = TcpSocket::new_v4(&b).unwrap();
        assert_eq!(ls.local_addr().unwrap(), sa("0.0.0.0:0"));
        assert!(ls.listen(4).is_err(), "listen needs bind");
        let ls = TcpSocket::new_v4(&b).unwrap();
        ls.set_reuseaddr(true).unwrap();
        assert!(ls.reuseaddr().unwrap());
        ls.set_nodelay(true).unwrap();
        ls.bind(sa("10.0.0.2:5000")).unwrap();
        let listener = ls.listen(8).unwrap();

        let s = TcpSocket::new_v4(&a).unwrap();
        assert!(s.bind(sa("[fd00::1]:1")).is_err(), "wrong family");
        assert_eq!(
            s.bind(sa("10.9.9.9:1")).unwrap_err().kind(),
            ErrorKind::AddrNotAvailable
        );
        s.bind(sa("10.0.0.1:41000")).unwrap();
        assert_eq!(
            s.send_buffer_size().unwrap() as usize,
            a.config().send_buffer
        );
        s.set_send_buffer_size(8 * 1024).unwrap();
        s.set_recv_buffer_size(16 * 1024).unwrap();
        assert_eq!(s.send_buffer_size().unwrap(), 8 * 1024);
        assert_eq!(s.recv_buffer_size().unwrap(), 16 * 1024);
        s.set_linger(Some(Duration::ZERO)).unwrap();
        let mut c = s.connect(sa("10.0.0.2:5000")).await.unwrap();
        assert_eq!(c.local_addr().unwrap(), sa("10.0.0.1:41000"));
        assert_eq!(c.linger().unwrap(), Some(Duration::ZERO));
        let (mut srv, peer) = listener.accept().await.unwrap();
        assert_eq!(peer, sa("10.0.0.1:41000"));
        assert!(
            srv.nodelay().unwrap(),
            "accepted streams get the listener's options"
        );
        // An 8 KiB send buffer takes at most 8 KiB at once.
        let n = c.try_write(&vec![1u8; 64 * 1024]).unwrap();
        assert!(n <= 8 * 1024, "{n}");
        let mut got = vec![0u8; n];
        srv.read_exact(&mut got).await.unwrap();
        c.write_all(b"!").await.unwrap();
        let mut one = [0u8; 1];
        srv.read_exact(&mut one).await.unwrap();
        assert_eq!(&one, b"!");
        // IPv6 sockets bind and connect too.
        let l6 = TcpListener::bind(&b, "[fd00::2]:6000").await.unwrap();
        let s6 = TcpSocket::new_v6(&a).unwrap();
        s6.bind(sa("[fd00::1]:0")).unwrap();
        let c6 = s6.connect(sa("[fd00::2]:6000")).await.unwrap();
        assert_eq!(c6.local_addr().unwrap().ip(), ip("fd00::1"));
        let _ = l6.accept().await.unwrap();
    })
    .await;
}
