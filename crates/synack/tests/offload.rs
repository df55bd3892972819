//! TUN offload tests against the real Linux kernel: with vnet_hdr offloads on, a
//! kernel client sends 64 MiB to a synack server, and a synack client sends 64 MiB to
//! a kernel server, each checked with SHA-256, and each checks that super-segments
//! (TSO/GRO frames larger than the MTU) really crossed the device: the engine's
//! counters and the kernel's own interface counters (bytes per packet above the MTU).
//!
//! Each test runs in a fresh network namespace (`ip netns add`), entered by one thread
//! with `setns`; the tokio runtime and the kernel sockets are created on that thread
//! (threads inherit its namespace), so nothing touches the machine's own network. They
//! need root and skip with a printed reason otherwise.
#![cfg(target_os = "linux")]

use sha2::{Digest, Sha256};
use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::time::Duration;
use synack::{IpCidr, NetStack, TcpListener, TcpStream, TunConfig, TunDevice};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Bytes moved per direction.
const TOTAL: usize = 64 << 20;
/// Size of the writes and reads.
const CHUNK: usize = 64 << 10;

/// Why these tests cannot run here, if they cannot.
fn skip_reason() -> Option<String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        return Some(format!("not root (euid {euid}): offload tests need root"));
    }
    if !std::path::Path::new("/dev/net/tun").exists() {
        return Some("/dev/net/tun is missing".into());
    }
    match Command::new("ip").args(["netns", "list"]).output() {
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(format!(
            "`ip netns` does not work here: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Some(format!("the `ip` command (iproute2) is missing: {e}")),
    }
}

/// A named network namespace, deleted when dropped.
struct Netns(String);

impl Netns {
    fn new(tag: &str) -> Netns {
        let name = format!("synoff-{tag}-{}", std::process::id());
        let out = Command::new("ip")
            .args(["netns", "add", &name])
            .output()
            .expect("run ip netns add");
        assert!(
            out.status.success(),
            "ip netns add {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ns = Netns(name);
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// Run `ip -n NS args`.
    fn ip(&self, args: &[&str]) {
        let out = Command::new("ip")
            .args(["-n", &self.0])
            .args(args)
            .output()
            .expect("run ip");
        assert!(
            out.status.success(),
            "ip -n {} {}: {}",
            self.0,
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Run `f` on a new thread that has entered the namespace; every thread it
    /// starts (tokio workers, blocking threads) is in the namespace too.
    fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let path = format!("/run/netns/{}", self.0);
        std::thread::spawn(move || {
            let file = std::fs::File::open(&path).expect("open the namespace");
            // SAFETY: a valid namespace fd; setns changes only this thread.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            f()
        })
        .join()
        .expect("namespace thread")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}

/// `(rx_bytes, rx_packets, tx_bytes, tx_packets)` of interface `name` as the kernel
/// counts them, from /proc/thread-self/net/dev (this thread's namespace). A GSO
/// super-segment counts as one packet.
fn kernel_counters(name: &str) -> (u64, u64, u64, u64) {
    let text = std::fs::read_to_string("/proc/thread-self/net/dev").expect("net/dev");
    for line in text.lines() {
        let Some((ifname, rest)) = line.split_once(':') else {
            continue;
        };
        if ifname.trim() != name {
            continue;
        }
        let v: Vec<u64> = rest
            .split_whitespace()
            .map(|x| x.parse().expect("counter"))
            .collect();
        return (v[0], v[1], v[8], v[9]);
    }
    panic!("interface {name} not in /proc/thread-self/net/dev");
}

/// Deterministic test data: chunk `i` of the stream (xorshift, so not compressible
/// and not periodic within the transfer).
fn chunk(i: usize, out: &mut [u8]) {
    let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ (i as u64).wrapping_mul(0xd1b5_4a32_d192_ed03);
    for w in out.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        w.copy_from_slice(&x.to_le_bytes()[..w.len()]);
    }
}

/// The SHA-256 of the whole test stream.
fn stream_digest() -> Vec<u8> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    for i in 0..TOTAL / CHUNK {
        chunk(i, &mut buf);
        h.update(&buf);
    }
    h.finalize().to_vec()
}

/// Read `s` to its end, returning the byte count and the SHA-256 of what came.
async fn hash_to_end(
    s: &mut (impl tokio::io::AsyncRead + Unpin),
) -> std::io::Result<(usize, Vec<u8>)> {
    let (mut h, mut buf, mut n) = (Sha256::new(), vec![0u8; CHUNK], 0usize);
    loop {
        let k = s.read(&mut buf).await?;
        if k == 0 {
            return Ok((n, h.finalize().to_vec()));
        }
        h.update(&buf[..k]);
        n += k;
    }
}

/// [`hash_to_end`] for a blocking reader (the kernel's side).
fn hash_to_end_blocking(s: &mut impl std::io::Read) -> std::io::Result<(usize, Vec<u8>)> {
    let (mut h, mut buf, mut n) = (Sha256::new(), vec![0u8; CHUNK], 0usize);
    loop {
        let k = s.read(&mut buf)?;
        if k == 0 {
            return Ok((n, h.finalize().to_vec()));
        }
        h.update(&buf[..k]);
        n += k;
    }
}

/// Write `chunks` test chunks starting at chunk `first` to `c`; returns their SHA-256.
async fn send_chunks(
    c: &mut (impl tokio::io::AsyncWrite + Unpin),
    first: usize,
    chunks: usize,
) -> std::io::Result<Vec<u8>> {
    let (mut h, mut buf) = (Sha256::new(), vec![0u8; CHUNK]);
    for i in first..first + chunks {
        chunk(i, &mut buf);
        h.update(&buf);
        c.write_all(&buf).await?;
    }
    Ok(h.finalize().to_vec())
}

/// [`send_chunks`] for a blocking writer (the kernel's side).
fn send_chunks_blocking(
    c: &mut impl std::io::Write,
    first: usize,
    chunks: usize,
) -> std::io::Result<Vec<u8>> {
    let (mut h, mut buf) = (Sha256::new(), vec![0u8; CHUNK]);
    for i in first..first + chunks {
        chunk(i, &mut buf);
        h.update(&buf);
        c.write_all(&buf)?;
    }
    Ok(h.finalize().to_vec())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Open the offloading TUN device `syn0` in the current namespace: synack is
/// 10.77.0.2/24, the kernel 10.77.0.1.
fn open_offload_stack() -> NetStack {
    let own: IpCidr = "10.77.0.2/24".parse().expect("cidr");
    let mut cfg = TunConfig::new("syn0", &[own]);
    cfg.offload = true;
    let dev = TunDevice::open(&cfg).expect("create an offloading TUN device");
    assert!(dev.created() && dev.offload());
    let stack = NetStack::new(dev, &[own.addr]).expect("stack");
    let config = stack.config();
    assert_eq!(config.mtu, 1500, "the MTU stays as configured");
    assert!(
        config.tso_max > 60_000,
        "the runtime turned TSO on: {}",
        config.tso_max
    );
    stack
}

/// Kernel client -> synack server, 64 MiB: the kernel sends GSO super-segments and
/// synack takes each as one packet.
#[test]
fn kernel_to_synack_64mib_with_gro_super_segments() {
    if let Some(why) = skip_reason() {
        println!("skipping offload test: {why}");
        return;
    }
    let ns = Netns::new("k2s");
    ns.run(|| {
        runtime().block_on(async {
            let stack = open_offload_stack();
            let listener = TcpListener::bind(&stack, "10.77.0.2:5001")
                .await
                .expect("bind");
            let server = tokio::spawn(async move {
                let (mut s, _) = listener.accept().await?;
                hash_to_end(&mut s).await
            });
            let target: SocketAddr = "10.77.0.2:5001".parse().expect("addr");
            let client = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
                let mut k = std::net::TcpStream::connect_timeout(&target, Duration::from_secs(10))?;
                k.set_write_timeout(Some(Duration::from_secs(60)))?;
                send_chunks_blocking(&mut k, 0, TOTAL / CHUNK)?;
                k.shutdown(std::net::Shutdown::Write)?;
                Ok(())
            });
            let (n, digest) = tokio::time::timeout(Duration::from_secs(300), server)
                .await
                .expect("transfer in time")
                .expect("join")
                .expect("synack server");
            client.await.expect("join").expect("kernel client");
            assert_eq!(n, TOTAL);
            assert_eq!(digest, stream_digest(), "SHA-256 of what synack received");

            let st = stack.stats();
            let (_, _, tx_bytes, tx_packets) = kernel_counters("syn0");
            println!(
                "synack got {} packets, {} super-segments, largest {} B; kernel sent {} packets, \
                 {} B/packet; bad checksums {}",
                st.packets_in,
                st.super_packets_in,
                st.largest_packet_in,
                tx_packets,
                tx_bytes / tx_packets.max(1),
                st.bad_checksum
            );
            assert!(
                st.super_packets_in > 100,
                "super-segments reached the engine: {st:?}"
            );
            assert!(st.largest_packet_in > 16_000, "{st:?}");
            assert!(
                tx_bytes / tx_packets.max(1) > 1500,
                "the kernel sent frames larger than the MTU: {tx_bytes} B in {tx_packets} packets"
            );
            assert_eq!(st.bad_checksum, 0, "{st:?}");
        });
    });
}

/// synack client -> kernel server, 64 MiB: synack writes TSO super-segments that the
/// kernel takes (and would cut) per the virtio-net header.
#[test]
fn synack_to_kernel_64mib_with_tso_super_segments() {
    if let Some(why) = skip_reason() {
        println!("skipping offload test: {why}");
        return;
    }
    let ns = Netns::new("s2k");
    ns.run(|| {
        runtime().block_on(async {
            let stack = open_offload_stack();
            let kl = std::net::TcpListener::bind("10.77.0.1:5002").expect("kernel listener");
            let kserver = std::thread::spawn(move || -> std::io::Result<(usize, Vec<u8>)> {
                let (mut s, _) = kl.accept()?;
                s.set_read_timeout(Some(Duration::from_secs(60)))?;
                hash_to_end_blocking(&mut s)
            });
            let transfer = async {
                let mut c = TcpStream::connect(&stack, "10.77.0.1:5002").await?;
                send_chunks(&mut c, 0, TOTAL / CHUNK).await?;
                c.shutdown().await?;
                std::io::Result::Ok(())
            };
            tokio::time::timeout(Duration::from_secs(300), transfer)
                .await
                .expect("transfer in time")
                .expect("synack client");
            let (n, digest) = tokio::task::spawn_blocking(move || kserver.join())
                .await
                .expect("join")
                .expect("kernel thread")
                .expect("kernel server");
            assert_eq!(n, TOTAL);
            assert_eq!(
                digest,
                stream_digest(),
                "SHA-256 of what the kernel received"
            );

            let st = stack.stats();
            let (rx_bytes, rx_packets, _, _) = kernel_counters("syn0");
            println!(
                "synack sent {} packets, {} super-segments, largest {} B; kernel got {} packets, \
                 {} B/packet",
                st.packets_out,
                st.super_packets_out,
                st.largest_packet_out,
                rx_packets,
                rx_bytes / rx_packets.max(1)
            );
            assert!(
                st.super_packets_out > 100,
                "synack sent super-segments: {st:?}"
            );
            assert!(st.largest_packet_out > 16_000, "{st:?}");
            assert!(
                rx_bytes / rx_packets.max(1) > 1500,
                "the kernel took frames larger than the MTU: {rx_bytes} B in {rx_packets} packets"
            );
        });
    });
}

/// IPv6 both ways through one offloading device, 8 MiB each way (TCPV6 GSO types).
#[test]
fn ipv6_both_directions_with_offloads() {
    if let Some(why) = skip_reason() {
        println!("skipping offload test: {why}");
        return;
    }
    let ns = Netns::new("v6");
    ns.run(|| {
        if std::fs::read_to_string("/proc/sys/net/ipv6/conf/all/disable_ipv6")
            .map_or(true, |v| v.trim() != "0")
        {
            println!("skipping: IPv6 is disabled in this kernel");
            return;
        }
        runtime().block_on(async {
            let own: IpCidr = "fd77::2/64".parse().expect("cidr");
            let mut cfg = TunConfig::new("syn6", &[own]);
            cfg.offload = true;
            let dev = TunDevice::open(&cfg).expect("create an offloading TUN device");
            let kernel_ip: IpAddr = "fd77::1".parse().expect("ip");
            // Duplicate address detection must finish before the kernel may bind.
            for _ in 0..100 {
                let out = Command::new("ip")
                    .args(["-6", "addr", "show", "dev", "syn6"])
                    .output()
                    .expect("ip");
                let text = String::from_utf8_lossy(&out.stdout);
                if text.contains("fd77::1") && !text.contains("tentative") {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let stack = NetStack::new(dev, &[own.addr]).expect("stack");
            let total = 8 << 20;

            // Kernel -> synack: synack echoes the digest back.
            let listener = TcpListener::bind(&stack, "[fd77::2]:5003")
                .await
                .expect("bind");
            let server = tokio::spawn(async move {
                let (mut s, _) = listener.accept().await?;
                let (_, digest) = hash_to_end(&mut s).await?;
                s.write_all(&digest).await?;
                s.shutdown().await?;
                std::io::Result::Ok(())
            });
            let target = SocketAddr::new(own.addr, 5003);
            let (sent, echoed) = tokio::task::spawn_blocking(move || {
                let mut k = std::net::TcpStream::connect_timeout(&target, Duration::from_secs(10))?;
                k.set_read_timeout(Some(Duration::from_secs(60)))?;
                let sent = send_chunks_blocking(&mut k, 0, total / CHUNK)?;
                k.shutdown(std::net::Shutdown::Write)?;
                let mut back = Vec::new();
                k.read_to_end(&mut back)?;
                std::io::Result::Ok((sent, back))
            })
            .await
            .expect("join")
            .expect("kernel client");
            server.await.expect("join").expect("synack server");
            assert_eq!(sent, echoed, "synack's SHA-256 of the IPv6 stream");

            // synack -> kernel.
            let kl = std::net::TcpListener::bind(SocketAddr::new(kernel_ip, 5004))
                .expect("kernel listener");
            let kserver = std::thread::spawn(move || -> std::io::Result<Vec<u8>> {
                let (mut s, _) = kl.accept()?;
                s.set_read_timeout(Some(Duration::from_secs(60)))?;
                Ok(hash_to_end_blocking(&mut s)?.1)
            });
            let send = async {
                let mut c = TcpStream::connect(&stack, SocketAddr::new(kernel_ip, 5004)).await?;
                let sent = send_chunks(&mut c, 1000, total / CHUNK).await?;
                c.shutdown().await?;
                std::io::Result::Ok(sent)
            };
            let sent = tokio::time::timeout(Duration::from_secs(120), send)
                .await
                .expect("in time")
                .expect("synack client");
            let got = tokio::task::spawn_blocking(move || kserver.join())
                .await
                .expect("join")
                .expect("kernel thread")
                .expect("kernel server");
            assert_eq!(got, sent, "kernel's SHA-256");
            let st = stack.stats();
            println!("IPv6: {st:?}");
            assert!(
                st.super_packets_in > 0 && st.super_packets_out > 0,
                "{st:?}"
            );
            assert_eq!(st.bad_checksum, 0);
        });
    });
}
