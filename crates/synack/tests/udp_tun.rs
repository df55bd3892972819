//! UDP and ICMP echo against the real Linux kernel (issue 15): a TUN device whose
//! kernel side sits in a fresh network namespace, synack on the other end. The
//! kernel's UDP sockets get their datagrams echoed by a synack `UdpSocket` (IPv4 and
//! IPv6, up to the largest payload one packet carries), `ping` gets replies from the
//! stack's addresses, and a datagram to a closed port makes the kernel's connected
//! socket fail with ECONNREFUSED (the stack's ICMP port unreachable); a synack socket
//! connected to a closed kernel port fails the same way; and the UDP intercept answers
//! as the address the kernel sent to, or refuses it.
//!
//! Needs root (or CAP_NET_ADMIN + CAP_SYS_ADMIN), /dev/net/tun, `ip` and `ping`, and
//! skips with a printed reason otherwise. Addresses: 10.215.N.0/24 and fd15:0:0:N::/64,
//! N unique per process; the namespace and the device are removed on every exit path.
#![cfg(target_os = "linux")]

mod common;

use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::time::Duration;
use synack::{interface_exists, IpCidr, NetStack, TunConfig, TunDevice, UdpIntercept, UdpSocket};

/// Why these tests cannot run here, if they cannot.
fn skip_reason() -> Option<String> {
    common::root_skip_reason(&[("ip", "-V"), ("ping", "-V")])
}

fn ip(args: &str) {
    let out = Command::new("ip")
        .args(args.split_whitespace())
        .output()
        .expect("run ip");
    assert!(
        out.status.success(),
        "ip {args}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A network namespace and the TUN interface in it, both deleted on drop.
struct Netns {
    name: String,
    link: String,
}

/// Runs `f` on a new thread inside namespace `name` and waits for it.
fn in_netns<T: Send + 'static>(name: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/run/netns/{name}");
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).expect("open netns");
        // SAFETY: a valid namespace descriptor; setns affects this thread only.
        assert_eq!(
            unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) },
            0,
            "setns"
        );
        f()
    })
    .join()
    .expect("namespace thread")
}

impl Netns {
    fn ping(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.name, "ping"])
            .args(args)
            .output()
            .expect("run ping");
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.success(), text)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
        if interface_exists(&self.link) {
            let _ = Command::new("ip")
                .args(["link", "del", &self.link])
                .output();
        }
    }
}

/// A TUN device created by synack (with vnet_hdr offloads or without), its kernel
/// side moved into a new namespace with 10.215.N.1/24 and fd15:0:0:N::1/64; synack
/// holds .2 of both.
fn setup(offload: bool) -> (Netns, TunDevice, u8) {
    let pid = std::process::id();
    let n = (pid % 120) as u8 * 2 + 1 + u8::from(offload);
    let link = format!("su{}{}", if offload { 'o' } else { 'd' }, pid % 100_000);
    let ns = Netns {
        name: format!("synudp-{pid}-{offload}"),
        link: link.clone(),
    };
    ip(&format!("netns add {}", ns.name));
    let own: IpCidr = format!("10.215.{n}.2/24").parse().expect("cidr");
    let mut cfg = TunConfig::new(link.clone(), &[own]);
    cfg.offload = offload;
    let dev = TunDevice::open(&cfg).expect("create TUN");
    // The descriptor keeps working after the interface moves (its addresses do not
    // move with it).
    ip(&format!("link set {link} netns {}", ns.name));
    ip(&format!("-n {} link set lo up", ns.name));
    ip(&format!(
        "-n {} addr add 10.215.{n}.1/24 dev {link}",
        ns.name
    ));
    ip(&format!(
        "-n {} -6 addr add fd15:0:0:{n}::1/64 dev {link} nodad",
        ns.name
    ));
    ip(&format!("-n {} link set {link} up", ns.name));
    (ns, dev, n)
}

/// Kernel-side UDP exchange run inside the namespace: each payload is sent to
/// `server` and must come back unchanged.
fn kernel_echo(server: SocketAddr, sizes: Vec<usize>) -> std::io::Result<usize> {
    let bind: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0".parse().unwrap()
    } else {
        "[::]:0".parse().unwrap()
    };
    let s = std::net::UdpSocket::bind(bind)?;
    s.set_read_timeout(Some(Duration::from_secs(1)))?;
    s.connect(server)?;
    let mut buf = vec![0u8; 65536];
    for (i, &len) in sizes.iter().enumerate() {
        let msg: Vec<u8> = (0..len).map(|k| (k * 7 + i) as u8).collect();
        // UDP may lose a datagram (a loaded machine, an address still settling):
        // send again after a second of silence, five times at most. An echo of an
        // earlier datagram (a late copy) is skipped; a wrong payload fails.
        let mut echoed = false;
        'attempts: for _attempt in 0..5 {
            s.send(&msg)?;
            loop {
                match s.recv(&mut buf) {
                    Ok(n) if buf[..n] == msg[..] => {
                        echoed = true;
                        break 'attempts;
                    }
                    // A late copy of an earlier echo: keep reading.
                    Ok(_) => {}
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                        continue 'attempts;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        assert!(
            echoed,
            "datagram {i} of {len} bytes: no matching echo after 5 tries"
        );
    }
    Ok(sizes.len())
}

/// A kernel socket connected to a port nobody holds: the second call sees the ICMP
/// error as ECONNREFUSED.
fn kernel_refused(server: SocketAddr) -> std::io::Result<ErrorKind> {
    let bind: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0".parse().unwrap()
    } else {
        "[::]:0".parse().unwrap()
    };
    let s = std::net::UdpSocket::bind(bind)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.connect(server)?;
    s.send(b"anyone there?")?;
    let mut buf = [0u8; 64];
    Ok(match s.recv(&mut buf) {
        Ok(_) => panic!("a reply from a closed port"),
        Err(e) => e.kind(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kernel_udp_echo_ping_and_port_unreachable() {
    kernel_interop(false).await;
}

/// The same over a device with vnet_hdr offloads: the kernel marks the datagrams it
/// sends `NEEDS_CSUM` (only the pseudo-header summed) and the stack takes them as
/// trusted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kernel_udp_echo_ping_and_port_unreachable_with_offloads() {
    kernel_interop(true).await;
}

async fn kernel_interop(offload: bool) {
    if let Some(why) = skip_reason() {
        println!("skipping UDP TUN test: {why}");
        return;
    }
    let (ns, dev, n) = setup(offload);
    assert_eq!(dev.offload(), offload);
    let own4: IpAddr = format!("10.215.{n}.2").parse().unwrap();
    let own6: IpAddr = format!("fd15:0:0:{n}::2").parse().unwrap();
    let stack = NetStack::new(dev, &[own4, own6]).expect("stack");

    // A synack echo server on both families.
    let mut servers = Vec::new();
    for own in [own4, own6] {
        let sock = UdpSocket::bind(&stack, SocketAddr::new(own, 7))
            .await
            .expect("bind");
        servers.push(tokio::spawn(async move {
            let mut buf = vec![0u8; 2048];
            loop {
                let (k, from) = sock.recv_from(&mut buf).await?;
                sock.send_to(&buf[..k], from).await?;
            }
            #[allow(unreachable_code)]
            std::io::Result::Ok(())
        }));
    }

    // Kernel -> synack -> kernel, every size up to one full packet (MTU 1500).
    for (own, max) in [(own4, 1500 - 28), (own6, 1500 - 48)] {
        let mut sizes: Vec<usize> = (0..40).map(|i| i * 37).collect();
        sizes.extend([0, 1, max - 1, max]);
        let server = SocketAddr::new(own, 7);
        let count = sizes.len();
        let name = ns.name.clone();
        let done = tokio::task::spawn_blocking(move || {
            in_netns(&name, move || kernel_echo(server, sizes))
        })
        .await
        .expect("join")
        .expect("kernel echo");
        assert_eq!(done, count);
    }

    // The kernel pings the stack (v4 and v6, small and near-MTU payloads).
    for (addr, size) in [(own4, "56"), (own4, "1400"), (own6, "56"), (own6, "1400")] {
        let a = addr.to_string();
        let (ok, text) = tokio::task::block_in_place(|| {
            ns.ping(&["-n", "-c", "3", "-i", "0.2", "-W", "3", "-s", size, &a])
        });
        assert!(ok, "ping {a} -s {size}:\n{text}");
        assert!(text.contains(" 3 received"), "three replies:\n{text}");
    }

    // A closed port: the kernel socket gets ECONNREFUSED from the ICMP error.
    for own in [own4, own6] {
        let target = SocketAddr::new(own, 9);
        let name = ns.name.clone();
        let kind =
            tokio::task::spawn_blocking(move || in_netns(&name, move || kernel_refused(target)))
                .await
                .expect("join")
                .expect("kernel socket");
        assert_eq!(kind, ErrorKind::ConnectionRefused, "to {target}");
    }
    // synack -> a closed kernel port: the kernel's ICMP error refuses the socket.
    for own in [own4, own6] {
        let kernel = if own.is_ipv4() {
            format!("10.215.{n}.1:9")
        } else {
            format!("[fd15:0:0:{n}::1]:9")
        };
        let c = UdpSocket::bind(&stack, SocketAddr::new(own, 0))
            .await
            .unwrap();
        c.connect(kernel.as_str()).await.unwrap();
        c.send(b"hello kernel").await.unwrap();
        let mut buf = [0u8; 16];
        let e = tokio::time::timeout(Duration::from_secs(10), c.recv(&mut buf))
            .await
            .expect("the kernel's port unreachable arrives")
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "from {kernel}");
    }
    // The intercept: the kernel's datagrams to addresses synack does not own (on the
    // device's subnet) come out with their original destination; an address whose
    // last byte is 0x50 (10.215.N.80, fd15:0:0:N::50) echoes as itself, the others
    // refuse.
    let intercept = std::sync::Arc::new(UdpIntercept::new(&stack).await.expect("intercept"));
    let responder = tokio::spawn({
        let intercept = intercept.clone();
        async move {
            loop {
                let (payload, src, dst) = intercept.recv().await?;
                let last = match dst.ip() {
                    IpAddr::V4(a) => a.octets()[3],
                    IpAddr::V6(a) => a.octets()[15],
                };
                if last == 0x50 {
                    intercept.send_as(dst, src, &payload).await?;
                } else {
                    intercept.refuse(src, dst, &payload)?;
                }
            }
            #[allow(unreachable_code)]
            std::io::Result::Ok(())
        }
    });
    let targets = [
        (format!("10.215.{n}.80:5000"), format!("10.215.{n}.81:5000")),
        (
            format!("[fd15:0:0:{n}::50]:5000"),
            format!("[fd15:0:0:{n}::51]:5000"),
        ),
    ];
    for (echoing, refusing) in targets {
        let (echoing, refusing): (SocketAddr, SocketAddr) =
            (echoing.parse().unwrap(), refusing.parse().unwrap());
        let name = ns.name.clone();
        let got = tokio::task::spawn_blocking(move || {
            in_netns(&name, move || {
                let echoed = kernel_echo(echoing, vec![10, 1000, 1]);
                (echoed, kernel_refused(refusing))
            })
        })
        .await
        .expect("join");
        assert_eq!(got.0.expect("echo as the original destination"), 3);
        assert_eq!(
            got.1.expect("kernel socket"),
            ErrorKind::ConnectionRefused,
            "refused as {refusing}"
        );
    }
    assert_eq!(intercept.flow_count(), 2, "the two echoing flows remain");
    responder.abort();

    let st = stack.stats().udp;
    assert_eq!(st.icmp_errors_applied, 2);
    assert_eq!(st.port_unreachable_sent, 4);
    assert!(st.echo_replies >= 12, "{st:?}");
    assert_eq!((st.bad_checksum, st.malformed), (0, 0), "{st:?}");
    for s in servers {
        s.abort();
    }
}
