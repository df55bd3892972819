//! End-to-end tests of the runtime: two `NetStack`s over an in-memory device pair,
//! each test checking one behaviour of the socket API (data integrity, half-close,
//! refusal, reset, graceful close, concurrency, interception, IPv6, capture, trace).
//!
//! The `within` guard only turns a hang into a failure; no test asserts on timing.

use sha2::{Digest, Sha256};
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use synack::{MemoryDevice, NetStack, State, TcpListener, TcpStream, TraceEvent};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const A4: &str = "10.0.0.1";
const B4: &str = "10.0.0.2";

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip literal")
}

fn sa(s: &str) -> SocketAddr {
    s.parse().expect("socket address literal")
}

/// Two stacks back to back: `a` owns 10.0.0.1 and fd00::1, `b` 10.0.0.2 and fd00::2.
fn pair() -> (NetStack, NetStack) {
    let (da, db) = MemoryDevice::pair();
    let a = NetStack::new(da, &[ip(A4), ip("fd00::1")]).expect("stack a");
    let b = NetStack::new(db, &[ip(B4), ip("fd00::2")]).expect("stack b");
    (a, b)
}

/// Fail instead of hanging forever.
async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    match tokio::time::timeout(Duration::from_secs(120), f).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: no progress in 120 s"),
    }
}

/// Deterministic pseudo-random bytes (xorshift64*), so a corrupted or reordered
/// stream cannot pass by accident.
fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out.truncate(len);
    out
}

async fn echo_server(listener: TcpListener) -> io::Result<()> {
    let (mut s, _) = listener.accept().await?;
    let mut buf = vec![0u8; 4096];
    loop {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            return s.shutdown().await;
        }
        s.write_all(&buf[..n]).await?;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_ipv4() {
    let (a, b) = pair();
    let listener = TcpListener::bind(&b, (ip(B4), 7)).await.expect("bind");
    assert_eq!(listener.local_addr().expect("addr"), sa("10.0.0.2:7"));
    let server = tokio::spawn(echo_server(listener));
    let mut c = within("connect", TcpStream::connect(&a, "10.0.0.2:7"))
        .await
        .expect("connect");
    assert_eq!(c.peer_addr().expect("peer"), sa("10.0.0.2:7"));
    assert_eq!(c.local_addr().expect("local").ip(), ip(A4));
    assert!(!c.nodelay().expect("nodelay"), "Nagle is on by default");
    c.set_nodelay(true).expect("set_nodelay");
    assert!(c.nodelay().expect("nodelay"));
    assert!(!c.cork().expect("cork"), "not corked by default");
    c.set_cork(true).expect("set_cork");
    assert!(c.cork().expect("cork"));
    let msg = pattern(1, 10_000);
    c.write_all(&msg).await.expect("write");
    // Uncorking sends the sub-MSS tail the cork held.
    c.set_cork(false).expect("set_cork");
    assert!(!c.cork().expect("cork"));
    let mut back = vec![0u8; msg.len()];
    within("echo", c.read_exact(&mut back)).await.expect("read");
    assert_eq!(back, msg);
    c.shutdown().await.expect("shutdown");
    let mut rest = Vec::new();
    within("eof", c.read_to_end(&mut rest))
        .await
        .expect("read to end");
    assert!(rest.is_empty());
    within("server", server)
        .await
        .expect("join")
        .expect("server");
    let info = c.info().expect("info");
    assert!(info.stats.bytes_sent >= msg.len() as u64, "{info:?}");
    assert!(
        info.srtt.is_some(),
        "an RTT sample after a round trip: {info:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_ipv6() {
    let (a, b) = pair();
    let listener = TcpListener::bind(&b, "[fd00::2]:8080").await.expect("bind");
    let server = tokio::spawn(echo_server(listener));
    let mut c = within("connect", TcpStream::connect(&a, "[fd00::2]:8080"))
        .await
        .expect("connect");
    assert_eq!(c.local_addr().expect("local").ip(), ip("fd00::1"));
    c.write_all(b"over IPv6").await.expect("write");
    let mut back = [0u8; 9];
    within("echo", c.read_exact(&mut back)).await.expect("read");
    assert_eq!(&back, b"over IPv6");
    drop(c);
    within("server", server)
        .await
        .expect("join")
        .expect("server");
}

/// 16 MiB each way at the same time over split halves; SHA-256 of what each side
/// read must equal SHA-256 of what the other wrote.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_mib_both_ways_sha256() {
    const LEN: usize = 16 << 20;
    let (a, b) = pair();
    let listener = TcpListener::bind(&b, "0.0.0.0:5001").await.expect("bind");

    async fn pump(stream: TcpStream, seed: u64) -> io::Result<([u8; 32], [u8; 32])> {
        let data = pattern(seed, LEN);
        let sent = Sha256::digest(&data);
        let (mut r, mut w) = stream.into_split();
        let writer = tokio::spawn(async move {
            for chunk in data.chunks(64 * 1024 + 7) {
                w.write_all(chunk).await?;
            }
            w.shutdown().await?;
            io::Result::Ok(w)
        });
        let mut hash = Sha256::new();
        let mut buf = vec![0u8; 48 * 1024];
        let mut total = 0usize;
        loop {
            let n = r.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            total += n;
            hash.update(&buf[..n]);
        }
        let w = writer.await.map_err(io::Error::other)??;
        assert_eq!(total, LEN, "bytes received");
        drop(r.reunite(w).map_err(io::Error::other)?);
        Ok((sent.into(), hash.finalize().into()))
    }

    let server = tokio::spawn(async move {
        let (s, _) = listener.accept().await?;
        pump(s, 0xb0b).await
    });
    let c = within("connect", TcpStream::connect(&a, "10.0.0.2:5001"))
        .await
        .expect("connect");
    let (c_sent, c_got) = within("client pump", pump(c, 0xa11ce))
        .await
        .expect("client");
    let (s_sent, s_got) = within("server", server)
        .await
        .expect("join")
        .expect("server");
    assert_eq!(c_got, s_sent, "server->client stream corrupted");
    assert_eq!(s_got, c_sent, "client->server stream corrupted");
    assert_ne!(c_sent, s_sent);
}

/// After shutdown (FIN) the writer can still read; a write after it is EPIPE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_close_then_keep_reading() {
    let (a, b) = pair();
    let listener = TcpListener::bind(&b, (ip(B4), 9000)).await.expect("bind");
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await?;
        let mut got = Vec::new();
        s.read_to_end(&mut got).await?; // ends at the client's FIN
                                        // The client half-closed; it must still receive this.
        s.write_all(format!("got {} bytes", got.len()).as_bytes())
            .await?;
        s.write_all(&got).await?;
        s.shutdown().await?;
        io::Result::Ok(got)
    });
    let mut c = within("connect", TcpStream::connect(&a, (ip(B4), 9000)))
        .await
        .expect("connect");
    c.write_all(b"request body").await.expect("write");
    c.shutdown().await.expect("shutdown");
    let err = c
        .write_all(b"more")
        .await
        .expect_err("write after shutdown");
    assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
    let mut reply = Vec::new();
    within("reply", c.read_to_end(&mut reply))
        .await
        .expect("read after half-close");
    assert_eq!(reply, b"got 12 bytesrequest body");
    let got = within("server", server)
        .await
        .expect("join")
        .expect("server");
    assert_eq!(got, b"request body");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_to_closed_port_is_refused() {
    let (a, _b) = pair();
    let err = within("connect", TcpStream::connect(&a, "10.0.0.2:1"))
        .await
        .expect_err("nobody listens");
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err}");
}

/// SYNs into a link nobody answers: after the configured retransmissions `connect`
/// fails with TimedOut. Runs in paused tokio time, so the backoff takes no real time.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn connect_without_answer_times_out() {
    let (da, _silent) = MemoryDevice::pair();
    let cfg = synack::Config {
        syn_retries: 2,
        ..synack::Config::default()
    };
    let a = NetStack::builder()
        .config(cfg)
        .address(ip(A4))
        .build(da)
        .expect("a");
    let err = TcpStream::connect(&a, (ip(B4), 80))
        .await
        .expect_err("nobody answers");
    assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
    assert!(
        a.stats().packets_out >= 3,
        "the SYN and its 2 retransmissions went out"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_resets_the_peer() {
    let (a, b) = pair();
    let listener = TcpListener::bind(&b, (ip(B4), 9001)).await.expect("bind");
    let c = within("connect", TcpStream::connect(&a, (ip(B4), 9001)))
        .await
        .expect("connect");
    let (mut s, peer) = within("accept", listener.accept()).await.expect("accept");
    assert_eq!(peer, c.local_addr().expect("local"));
    c.set_linger(Some(Duration::ZERO)).expect("linger");
    assert_eq!(c.linger().expect("linger"), Some(Duration::ZERO));
    drop(c);
    let mut buf = [0u8; 16];
    let err = within("read", s.read(&mut buf))
        .await
        .expect_err("peer aborted");
    assert_eq!(err.kind(), io::ErrorKind::ConnectionReset, "{err}");
    assert_eq!(s.info().expect("info").state, State::Closed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_closes_gracefully() {
    let (a, b) = pair();
    let listener = TcpListener::bind(&b, (ip(B4), 9002)).await.expect("bind");
    let mut c = within("connect", TcpStream::connect(&a, (ip(B4), 9002)))
        .await
        .expect("connect");
    let (mut s, _) = within("accept", listener.accept()).await.expect("accept");
    c.write_all(b"last words").await.expect("write");
    drop(c);
    let mut got = Vec::new();
    within("read to EOF", s.read_to_end(&mut got))
        .await
        .expect("graceful EOF, not a reset");
    assert_eq!(got, b"last words");
    // Our side can still answer into CLOSE-WAIT, then close.
    assert_eq!(s.info().expect("info").state, State::CloseWait);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_concurrent_connections() {
    let (a, b) = pair();
    let listener = TcpListener::bind(&b, (ip(B4), 7000)).await.expect("bind");
    let server = tokio::spawn(async move {
        let mut tasks = Vec::new();
        for _ in 0..100 {
            let (mut s, _) = listener.accept().await?;
            tasks.push(tokio::spawn(async move {
                let mut buf = vec![0u8; 2048];
                loop {
                    let n = s.read(&mut buf).await?;
                    if n == 0 {
                        return s.shutdown().await;
                    }
                    s.write_all(&buf[..n]).await?;
                }
            }));
        }
        for t in tasks {
            t.await.map_err(io::Error::other)??;
        }
        io::Result::Ok(())
    });
    let mut clients = Vec::new();
    for i in 0..100u64 {
        let a = a.clone();
        clients.push(tokio::spawn(async move {
            let mut c = TcpStream::connect(&a, (ip(B4), 7000)).await?;
            let msg = pattern(i + 100, 20_000 + i as usize * 37);
            let (mut r, mut w) = c.split();
            let send = async {
                w.write_all(&msg).await?;
                w.shutdown().await
            };
            let mut back = Vec::new();
            let recv = r.read_to_end(&mut back);
            let (s, n) = tokio::join!(send, recv);
            s?;
            n?;
            assert_eq!(back, msg, "connection {i}");
            io::Result::Ok(c.local_addr()?.port())
        }));
    }
    let mut ports = Vec::new();
    for c in clients {
        ports.push(within("client", c).await.expect("join").expect("client"));
    }
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), 100, "distinct ephemeral ports");
    within("server", server)
        .await
        .expect("join")
        .expect("server");
}

/// The intercepting listener accepts a connection to an address that is not the
/// stack's, and the stream reports the original destination.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intercept_reports_original_destination() {
    let (a, b) = pair();
    let listener = TcpListener::intercept(&b).await.expect("intercept");
    assert!(listener.is_intercept());
    let targets = [
        sa("203.0.113.7:443"),
        sa("198.51.100.20:8080"),
        sa("[2001:db8::5]:25"),
    ];
    let server = tokio::spawn(async move {
        let mut seen = Vec::new();
        for _ in 0..targets.len() {
            let (mut s, peer) = listener.accept().await?;
            let dst = s.local_addr()?;
            s.write_all(dst.to_string().as_bytes()).await?;
            s.shutdown().await?;
            seen.push((dst, peer));
        }
        io::Result::Ok(seen)
    });
    for t in targets {
        let mut c = within("connect", TcpStream::connect(&a, t))
            .await
            .expect("connect through intercept");
        assert_eq!(c.peer_addr().expect("peer"), t);
        let mut said = String::new();
        within("read", c.read_to_string(&mut said))
            .await
            .expect("read");
        assert_eq!(said, t.to_string());
    }
    let seen = within("server", server)
        .await
        .expect("join")
        .expect("server");
    assert_eq!(
        seen.iter().map(|s| s.0).collect::<Vec<_>>(),
        targets.to_vec()
    );
    assert!(seen.iter().all(|(d, p)| d.is_ipv4() == p.is_ipv4()));
    // The first listener went away with the server task: the slot is free again,
    // and one intercepting listener per stack is the rule.
    let _l2 = TcpListener::intercept(&b).await.expect("free again");
    let err = TcpListener::intercept(&b).await.expect_err("only one");
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bind_errors_and_ephemeral_port() {
    let (_a, b) = pair();
    let l = TcpListener::bind(&b, (ip(B4), 80)).await.expect("bind");
    let err = TcpListener::bind(&b, (ip(B4), 80))
        .await
        .expect_err("twice");
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    let err = TcpListener::bind(&b, "192.0.2.1:80")
        .await
        .expect_err("not ours");
    assert_eq!(err.kind(), io::ErrorKind::AddrNotAvailable);
    let any = TcpListener::bind(&b, (ip(B4), 0)).await.expect("port 0");
    assert!(any.local_addr().expect("addr").port() >= 49152);
    drop(l);
    TcpListener::bind(&b, (ip(B4), 80))
        .await
        .expect("free again after drop");
    let err = TcpStream::connect(&b, "example.com:80")
        .await
        .expect_err("no resolver");
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
}

/// The capture hook writes a pcap (raw IP) with the handshake in it, and the trace
/// hook sees state changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capture_and_trace_hooks() {
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().expect("sink").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let sink = Sink::default();
    let events: Arc<Mutex<Vec<TraceEvent>>> = Arc::default();
    let (da, db) = MemoryDevice::pair();
    let ev = events.clone();
    let a = NetStack::builder()
        .address(ip(A4))
        .capture(sink.clone())
        .on_trace(move |e| ev.lock().expect("events").push(e))
        .build(da)
        .expect("a");
    let b = NetStack::new(db, &[ip(B4)]).expect("b");
    let listener = TcpListener::bind(&b, (ip(B4), 22)).await.expect("bind");
    let mut c = within("connect", TcpStream::connect(&a, (ip(B4), 22)))
        .await
        .expect("connect");
    let (mut s, _) = within("accept", listener.accept()).await.expect("accept");
    c.write_all(b"ping").await.expect("write");
    let mut buf = [0u8; 4];
    within("read", s.read_exact(&mut buf)).await.expect("read");
    a.flush_capture().expect("flush");

    let bytes = sink.0.lock().expect("sink").clone();
    assert!(
        bytes.len() > 24 + 3 * (16 + 40),
        "header and at least the handshake"
    );
    let magic = u32::from_ne_bytes(bytes[..4].try_into().expect("4 bytes"));
    assert_eq!(magic, 0xa1b2_c3d4, "native-endian microsecond pcap");
    let linktype = u32::from_ne_bytes(bytes[20..24].try_into().expect("4 bytes"));
    assert_eq!(linktype, 101, "LINKTYPE_RAW");
    // First record: our SYN, an IPv4 packet from 10.0.0.1.
    let first = &bytes[24 + 16..];
    assert_eq!(first[0] >> 4, 4);
    assert_eq!(&first[12..16], &[10, 0, 0, 1]);

    let evs = events.lock().expect("events").clone();
    use synack::trace::TraceKind;
    assert!(
        evs.iter().any(|e| matches!(
            e.kind,
            TraceKind::StateChange {
                new: State::Established,
                ..
            }
        )),
        "trace saw ESTABLISHED"
    );
    assert!(
        evs.iter().any(|e| matches!(e.kind, TraceKind::Segment(_))),
        "trace saw segments"
    );
}

/// A device that fails: the driver stops, and sockets report the error instead of
/// waiting forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_failure_reaches_the_sockets() {
    struct Broken;
    impl synack::Device for Broken {
        async fn recv(&mut self, _batch: &mut synack::PacketBatch) -> io::Result<()> {
            tokio::task::yield_now().await;
            Err(io::Error::new(io::ErrorKind::BrokenPipe, "link gone"))
        }
        async fn send(&mut self, _batch: &synack::PacketBatch) -> io::Result<()> {
            Ok(())
        }
        fn mtu(&self) -> usize {
            1500
        }
    }
    let s = NetStack::new(Broken, &[ip(A4)]).expect("stack");
    let r = within("accept", async {
        let l = TcpListener::bind(&s, (ip(A4), 80)).await?;
        l.accept().await.map(|_| ())
    })
    .await;
    let err = r.expect_err("the device failed");
    assert_eq!(err.kind(), io::ErrorKind::BrokenPipe, "{err}");
    let e = s.error().expect("the stack reports why it stopped");
    assert!(e.to_string().contains("link gone"), "{e}");
}
