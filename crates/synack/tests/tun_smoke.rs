//! TUN smoke tests against the real Linux kernel: a kernel `std::net::TcpStream`
//! talks to a synack listener through a TUN device, and synack connects to a kernel
//! listener. They need root (or CAP_NET_ADMIN) and /dev/net/tun, and skip with a
//! printed reason otherwise. Each uses a unique interface name and a unique
//! 10.213.N.0/24 subnet (all traffic stays on this machine, between the kernel and the
//! TUN device), and deletes the interface on every exit path (a `Drop` guard).
#![cfg(target_os = "linux")]

mod common;

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Command;
use std::time::Duration;
use synack::{interface_exists, IpCidr, NetStack, TcpListener, TcpStream, TunConfig, TunDevice};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Why these tests cannot run here, if they cannot.
fn skip_reason() -> Option<String> {
    common::root_skip_reason(&[("ip", "-V")])
}

/// Deletes the interface when dropped, whatever happened.
struct LinkGuard(String);

impl Drop for LinkGuard {
    fn drop(&mut self) {
        if interface_exists(&self.0) {
            let _ = Command::new("ip").args(["link", "del", &self.0]).output();
        }
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

/// A free interface name and a /24 nobody routes yet, unique per process and test.
fn unique(tag: u32) -> (String, u8) {
    let routes = Command::new("ip")
        .args(["-4", "route", "show"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let pid = std::process::id();
    for k in 0..250u32 {
        let n = ((pid + tag * 97 + k) % 250) as u8;
        let name = format!("skt{}x{n}", pid % 100_000);
        if !routes.contains(&format!("10.213.{n}.")) && !interface_exists(&name) {
            return (name, n);
        }
    }
    panic!("no free 10.213.N.0/24 subnet");
}

/// Kernel client -> synack listener, and synack client -> kernel listener, over a TUN
/// device that synack creates (kernel side gets the first host address).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn created_tun_echo_both_directions() {
    if let Some(why) = skip_reason() {
        println!("skipping TUN smoke test: {why}");
        return;
    }
    let (name, n) = unique(1);
    let _guard = LinkGuard(name.clone());
    let own: IpCidr = format!("10.213.{n}.2/24").parse().expect("cidr");
    let dev = TunDevice::open(&TunConfig::new(name.clone(), &[own])).expect("create TUN");
    assert!(dev.created());
    let kernel_ip = IpAddr::V4(Ipv4Addr::new(10, 213, n, 1));
    assert_eq!(
        dev.kernel_addrs()
            .iter()
            .map(|c| c.addr)
            .collect::<Vec<_>>(),
        vec![kernel_ip]
    );
    let stack = NetStack::new(dev, &[own.addr]).expect("stack");

    // Kernel -> synack.
    let listener = TcpListener::bind(&stack, SocketAddr::new(own.addr, 7777))
        .await
        .expect("bind");
    let server = tokio::spawn(async move {
        let (mut s, peer) = listener.accept().await?;
        let mut buf = vec![0u8; 4096];
        loop {
            let k = s.read(&mut buf).await?;
            if k == 0 {
                s.shutdown().await?;
                return std::io::Result::Ok(peer);
            }
            s.write_all(&buf[..k]).await?;
        }
    });
    let target = SocketAddr::new(own.addr, 7777);
    let client = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
        let mut k = std::net::TcpStream::connect_timeout(&target, Duration::from_secs(10))?;
        k.set_read_timeout(Some(Duration::from_secs(30)))?;
        let msg: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        k.write_all(&msg)?;
        k.shutdown(std::net::Shutdown::Write)?;
        let mut back = Vec::new();
        k.read_to_end(&mut back)?;
        Ok(back)
    });
    let back = client.await.expect("join").expect("kernel client");
    let want: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(back, want, "echo through the TUN device");
    let peer = server.await.expect("join").expect("synack server");
    assert_eq!(
        peer.ip(),
        kernel_ip,
        "the kernel connected from its TUN address"
    );

    // synack -> kernel.
    let kl = std::net::TcpListener::bind(SocketAddr::new(kernel_ip, 0)).expect("kernel listener");
    let kaddr = kl.local_addr().expect("addr");
    let kserver = std::thread::spawn(move || -> std::io::Result<Vec<u8>> {
        let (mut s, _) = kl.accept()?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut got = Vec::new();
        s.read_to_end(&mut got)?;
        s.write_all(b"kernel says hi")?;
        Ok(got)
    });
    let mut c = tokio::time::timeout(Duration::from_secs(30), TcpStream::connect(&stack, kaddr))
        .await
        .expect("connect in time")
        .expect("synack connects to the kernel");
    c.write_all(b"synack says hi").await.expect("write");
    c.shutdown().await.expect("shutdown");
    let mut reply = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), c.read_to_end(&mut reply))
        .await
        .expect("reply in time")
        .expect("read");
    assert_eq!(reply, b"kernel says hi");
    assert_eq!(
        kserver.join().expect("join").expect("kernel server"),
        b"synack says hi"
    );
}

/// An existing device (made with `ip tuntap add`, kernel side configured by hand) is
/// attached and left as configured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attached_tun_kernel_client() {
    if let Some(why) = skip_reason() {
        println!("skipping TUN smoke test: {why}");
        return;
    }
    let (name, n) = unique(2);
    let _guard = LinkGuard(name.clone());
    ip(&["tuntap", "add", "dev", &name, "mode", "tun"]);
    ip(&["addr", "add", &format!("10.213.{n}.1/24"), "dev", &name]);
    ip(&["link", "set", &name, "mtu", "1400", "up"]);
    let own: IpCidr = format!("10.213.{n}.2/24").parse().expect("cidr");
    let dev = TunDevice::open(&TunConfig::new(name.clone(), &[own])).expect("attach TUN");
    assert!(!dev.created());
    assert!(dev.kernel_addrs().is_empty());
    let stack = NetStack::new(dev, &[own.addr]).expect("stack");
    assert_eq!(
        stack.config().mtu,
        1400,
        "the stack follows the device's MTU"
    );

    let listener = TcpListener::bind(&stack, "0.0.0.0:7000")
        .await
        .expect("bind");
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await?;
        s.write_all(b"hello from synack").await?;
        s.shutdown().await?;
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).await?;
        std::io::Result::Ok(rest)
    });
    let target = SocketAddr::new(own.addr, 7000);
    let got = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
        let mut k = std::net::TcpStream::connect_timeout(&target, Duration::from_secs(10))?;
        k.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut got = Vec::new();
        k.read_to_end(&mut got)?;
        k.write_all(b"bye")?;
        Ok(got)
    })
    .await
    .expect("join")
    .expect("kernel client");
    assert_eq!(got, b"hello from synack");
    let rest = server.await.expect("join").expect("server");
    assert_eq!(rest, b"bye");

    // tun2socks shape: the kernel connects to another address of the TUN's prefix
    // (not synack's own); the intercepting listener takes it and reports the
    // original destination.
    let catch_all = TcpListener::intercept(&stack).await.expect("intercept");
    let dst = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 213, n, 77)), 443);
    let kernel = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
        let mut k = std::net::TcpStream::connect_timeout(&dst, Duration::from_secs(10))?;
        k.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut got = Vec::new();
        k.read_to_end(&mut got)?;
        Ok(got)
    });
    let (mut s, _) = tokio::time::timeout(Duration::from_secs(30), catch_all.accept())
        .await
        .expect("accept in time")
        .expect("accept");
    assert_eq!(s.local_addr().expect("local"), dst, "original destination");
    s.write_all(s.local_addr().expect("local").to_string().as_bytes())
        .await
        .expect("write");
    s.shutdown().await.expect("shutdown");
    let said = kernel.await.expect("join").expect("kernel client");
    assert_eq!(said, dst.to_string().as_bytes());
    assert!(
        interface_exists(&name),
        "an attached device is left in place"
    );
}

/// Without permission, opening a TUN device fails with PermissionDenied and a message
/// that names what is missing. As root, the test re-runs itself as `nobody` (via
/// setpriv) to see that error; as a non-root user it checks directly.
#[test]
fn without_permission_the_error_says_what_is_missing() {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if !std::path::Path::new("/dev/net/tun").exists() {
        println!("skipping: /dev/net/tun is missing");
        return;
    }
    if euid != 0 {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let _enter = rt.enter();
        let cfg = TunConfig::new(
            format!("sknp{}", std::process::id() % 100_000),
            &["10.213.254.2/24".parse().expect("cidr")],
        );
        let err = TunDevice::open(&cfg).expect_err("must not be allowed");
        assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied, "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains("root") && msg.contains("CAP_NET_ADMIN"),
            "{msg}"
        );
        println!("unprivileged open fails as expected: {msg}");
        return;
    }
    if Command::new("setpriv").arg("--version").output().is_err() {
        println!("skipping: running as root and setpriv is missing to drop privileges");
        return;
    }
    let exe = std::env::current_exe().expect("test binary");
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(&exe)
        .args([
            "--exact",
            "without_permission_the_error_says_what_is_missing",
            "--nocapture",
        ])
        .output()
        .expect("run setpriv");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    if !out.status.success() && text.contains("Permission denied") && !text.contains("test result")
    {
        println!("skipping: the test binary cannot run as nobody here: {text}");
        return;
    }
    assert!(out.status.success(), "unprivileged run failed:\n{text}");
    assert!(
        text.contains("1 passed"),
        "the unprivileged run ran the check:\n{text}"
    );
}

/// IPv6 through a created device: the kernel's end gets the first host of the /64.
/// (A private fd53:7e57:N::/64 prefix, so no route of the machine is shadowed.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn created_tun_ipv6_kernel_client() {
    if let Some(why) = skip_reason() {
        println!("skipping TUN smoke test: {why}");
        return;
    }
    if std::fs::read_to_string("/proc/sys/net/ipv6/conf/all/disable_ipv6")
        .map_or(true, |v| v.trim() != "0")
    {
        println!("skipping: IPv6 is disabled in this kernel");
        return;
    }
    let (name, n) = unique(3);
    let _guard = LinkGuard(name.clone());
    let own: IpCidr = format!("fd53:7e57:{n}::2/64").parse().expect("cidr");
    let dev = TunDevice::open(&TunConfig::new(name.clone(), &[own])).expect("create TUN");
    let kernel_ip: IpAddr = format!("fd53:7e57:{n}::1").parse().expect("ip");
    assert_eq!(
        dev.kernel_addrs()
            .iter()
            .map(|c| c.addr)
            .collect::<Vec<_>>(),
        vec![kernel_ip]
    );
    // Wait (bounded) for duplicate address detection to finish on the kernel's end.
    for _ in 0..100 {
        let out = Command::new("ip")
            .args(["-6", "addr", "show", "dev", &name])
            .output()
            .expect("ip");
        let text = String::from_utf8_lossy(&out.stdout);
        if text.contains(&kernel_ip.to_string()) && !text.contains("tentative") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stack = NetStack::new(dev, &[own.addr]).expect("stack");
    let listener = TcpListener::bind(&stack, "[::]:7001").await.expect("bind");
    let server = tokio::spawn(async move {
        let (mut s, peer) = listener.accept().await?;
        let mut got = Vec::new();
        s.read_to_end(&mut got).await?;
        s.write_all(&got).await?;
        s.shutdown().await?;
        std::io::Result::Ok(peer)
    });
    let target = SocketAddr::new(own.addr, 7001);
    let back = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
        let mut k = std::net::TcpStream::connect_timeout(&target, Duration::from_secs(10))?;
        k.set_read_timeout(Some(Duration::from_secs(30)))?;
        k.write_all(b"six")?;
        k.shutdown(std::net::Shutdown::Write)?;
        let mut back = Vec::new();
        k.read_to_end(&mut back)?;
        Ok(back)
    })
    .await
    .expect("join")
    .expect("kernel client over IPv6");
    assert_eq!(back, b"six");
    let peer = server.await.expect("join").expect("server");
    assert_eq!(peer.ip(), kernel_ip);
}
