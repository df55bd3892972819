//! Bulk TCP throughput between the Linux kernel and synack over a TUN device, with and
//! without vnet_hdr offloads (TSO/GRO), next to kernel <-> kernel over a veth pair.
//!
//! Needs root (it creates network namespaces; nothing touches the machine's own
//! network). Run with
//! `cargo run --release -p synack --example tun_throughput [MiB [BUFFER_KIB]]`
//! (default 1024 MiB per run; BUFFER_KIB sets synack's send and receive buffers,
//! default the engine's 256 KiB). Each run gets a fresh namespace: the receiver times
//! from accepting the connection to reading the end of the stream.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::process::Command;
use std::time::{Duration, Instant};
use synack::{Config, IpCidr, NetStack, StackStats, TcpListener, TcpStream, TunConfig, TunDevice};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Size of each write and read.
const CHUNK: usize = 256 << 10;

/// A named network namespace, deleted when dropped.
struct Netns(String);

impl Netns {
    fn new(tag: &str) -> Netns {
        let name = format!("synbench-{tag}-{}", std::process::id());
        ip(&["netns", "add", &name]);
        let ns = Netns(name);
        ip(&["-n", &ns.0, "link", "set", "lo", "up"]);
        ns
    }

    /// Run `f` on a thread inside the namespace (threads it starts are inside too).
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

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// A kernel sender: connect to `to` and write `total` bytes.
fn kernel_send(to: SocketAddr, total: usize) -> std::io::Result<()> {
    let mut s = std::net::TcpStream::connect_timeout(&to, Duration::from_secs(10))?;
    let buf = vec![0x5au8; CHUNK];
    let mut left = total;
    while left > 0 {
        let n = left.min(CHUNK);
        s.write_all(&buf[..n])?;
        left -= n;
    }
    s.shutdown(std::net::Shutdown::Write)?;
    // Wait for the receiver to close, so the sender outlives the transfer.
    let mut rest = Vec::new();
    s.read_to_end(&mut rest)?;
    Ok(())
}

/// A kernel receiver: accept one connection, read to the end; the time it took.
fn kernel_receive(l: std::net::TcpListener) -> std::io::Result<(usize, Duration)> {
    let (mut s, _) = l.accept()?;
    let start = Instant::now();
    let mut buf = vec![0u8; CHUNK];
    let mut n = 0;
    loop {
        let k = s.read(&mut buf)?;
        if k == 0 {
            break;
        }
        n += k;
    }
    Ok((n, start.elapsed()))
}

/// synack's send and receive buffer size in bytes (0: the engine's default).
fn buffer_size() -> usize {
    std::env::args()
        .nth(2)
        .map_or(0, |a| a.parse::<usize>().expect("buffer size in KiB") << 10)
}

fn open_stack(offload: bool) -> NetStack {
    let own: IpCidr = "10.79.0.2/24".parse().expect("cidr");
    let mut cfg = TunConfig::new("synb0", &[own]);
    cfg.offload = offload;
    let dev = TunDevice::open(&cfg).expect("create the TUN device");
    let mut config = Config::default();
    if buffer_size() > 0 {
        config.send_buffer = buffer_size();
        config.recv_buffer = buffer_size();
    }
    NetStack::builder()
        .config(config)
        .address(own.addr)
        .build(dev)
        .expect("stack")
}

/// Kernel -> synack over TUN.
fn kernel_to_synack(offload: bool, total: usize) -> (f64, StackStats) {
    let ns = Netns::new("k2s");
    ns.run(move || {
        runtime().block_on(async move {
            let stack = open_stack(offload);
            let l = TcpListener::bind(&stack, "10.79.0.2:6001")
                .await
                .expect("bind");
            let to: SocketAddr = "10.79.0.2:6001".parse().expect("addr");
            let sender = tokio::task::spawn_blocking(move || kernel_send(to, total));
            let (mut s, _) = l.accept().await.expect("accept");
            let start = Instant::now();
            let mut buf = vec![0u8; CHUNK];
            let mut n = 0;
            loop {
                let k = s.read(&mut buf).await.expect("read");
                if k == 0 {
                    break;
                }
                n += k;
            }
            let took = start.elapsed();
            drop(s);
            sender.await.expect("join").expect("kernel sender");
            assert_eq!(n, total);
            (gbits(total, took), stack.stats())
        })
    })
}

/// synack -> kernel over TUN.
fn synack_to_kernel(offload: bool, total: usize) -> (f64, StackStats) {
    let ns = Netns::new("s2k");
    ns.run(move || {
        runtime().block_on(async move {
            let stack = open_stack(offload);
            let l = std::net::TcpListener::bind("10.79.0.1:6002").expect("kernel listener");
            let receiver = std::thread::spawn(move || kernel_receive(l));
            let mut c = TcpStream::connect(&stack, "10.79.0.1:6002")
                .await
                .expect("connect");
            let buf = vec![0x5au8; CHUNK];
            let mut left = total;
            while left > 0 {
                let n = left.min(CHUNK);
                c.write_all(&buf[..n]).await.expect("write");
                left -= n;
            }
            c.shutdown().await.expect("shutdown");
            let (n, took) = tokio::task::spawn_blocking(move || receiver.join())
                .await
                .expect("join")
                .expect("receiver thread")
                .expect("kernel receiver");
            assert_eq!(n, total);
            (gbits(total, took), stack.stats())
        })
    })
}

/// Kernel -> kernel over a veth pair between two namespaces.
fn kernel_veth(total: usize) -> f64 {
    let a = Netns::new("va");
    let b = Netns::new("vb");
    ip(&[
        "link", "add", "veth-a", "netns", &a.0, "type", "veth", "peer", "name", "veth-b", "netns",
        &b.0,
    ]);
    ip(&["-n", &a.0, "addr", "add", "10.80.0.1/24", "dev", "veth-a"]);
    ip(&["-n", &b.0, "addr", "add", "10.80.0.2/24", "dev", "veth-b"]);
    ip(&["-n", &a.0, "link", "set", "veth-a", "up"]);
    ip(&["-n", &b.0, "link", "set", "veth-b", "up"]);
    let l = b.run(|| std::net::TcpListener::bind("10.80.0.2:6003").expect("listener"));
    let receiver = std::thread::spawn(move || kernel_receive(l));
    let to: SocketAddr = "10.80.0.2:6003".parse().expect("addr");
    a.run(move || kernel_send(to, total))
        .expect("kernel sender");
    let (n, took) = receiver.join().expect("join").expect("kernel receiver");
    assert_eq!(n, total);
    gbits(total, took)
}

fn gbits(bytes: usize, took: Duration) -> f64 {
    bytes as f64 * 8.0 / took.as_secs_f64() / 1e9
}

fn main() {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("tun_throughput needs root (network namespaces and TUN devices)");
        std::process::exit(2);
    }
    let mib: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("size in MiB"))
        .unwrap_or(1024);
    let total = mib << 20;
    let buffers = match buffer_size() {
        0 => "default".to_string(),
        b => format!("{} KiB", b >> 10),
    };
    println!("{mib} MiB per run, synack buffers {buffers}; Gbit/s measured at the receiver\n");
    println!(
        "{:<28} {:>9} {:>10} {:>12}",
        "path", "offload", "Gbit/s", "super-segs"
    );
    for offload in [false, true] {
        let (g, st) = kernel_to_synack(offload, total);
        println!(
            "{:<28} {:>9} {:>10.2} {:>12}",
            "kernel -> synack (TUN)",
            if offload { "on" } else { "off" },
            g,
            st.super_packets_in
        );
        let (g, st) = synack_to_kernel(offload, total);
        println!(
            "{:<28} {:>9} {:>10.2} {:>12}",
            "synack -> kernel (TUN)",
            if offload { "on" } else { "off" },
            g,
            st.super_packets_out
        );
    }
    let g = kernel_veth(total);
    println!(
        "{:<28} {:>9} {:>10.2} {:>12}",
        "kernel -> kernel (veth)", "(kernel)", g, "-"
    );
}
