//! SYN cookies against a real flood (issue 16): a synack echo listener on a TUN device
//! whose kernel side sits in a fresh network namespace, `hping3` flooding it with SYNs
//! from spoofed random sources, and a kernel client in that namespace connecting and
//! getting its echo, again and again, while the flood runs (about 3 s). Every attempt
//! must succeed, and the stack must have answered part of the flood with cookies (so
//! the listener's queue was full and the client got through anyway).
//!
//! Needs root, /dev/net/tun, `ip` and `hping3` (scripts/setup.sh installs it), and
//! skips with a printed reason otherwise. Addresses: 10.216.0.0/24, in a namespace of
//! its own, removed on every exit path.
#![cfg(target_os = "linux")]

mod common;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::time::Duration;
use synack::{IpCidr, NetStack, TcpListener, TunConfig, TunDevice};

/// Why these tests cannot run here, if they cannot.
fn skip_reason() -> Option<String> {
    common::root_skip_reason(&[("ip", "-V"), ("hping3", "--version")])
}

/// A network namespace, deleted on drop.
struct Netns(String);

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}

/// Attempts of the kernel client during the flood.
const ATTEMPTS: usize = 25;

#[test]
fn a_kernel_client_gets_through_a_syn_flood() {
    if let Some(why) = skip_reason() {
        eprintln!("skipped: {why}");
        return;
    }
    let ns = Netns(format!("synflood-{}", std::process::id()));
    for args in [
        vec!["netns", "add", &ns.0],
        vec!["-n", &ns.0, "link", "set", "lo", "up"],
    ] {
        let out = Command::new("ip").args(&args).output().expect("run ip");
        assert!(out.status.success(), "ip {args:?}");
    }
    let path = format!("/run/netns/{}", ns.0);
    let (ok, stats) = std::thread::spawn(move || {
        let file = std::fs::File::open(&path).expect("open netns");
        // SAFETY: a valid namespace descriptor; setns affects this thread only (and
        // the threads and processes it starts).
        assert_eq!(
            unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) },
            0,
            "setns"
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let own = IpCidr::new("10.216.0.2".parse().unwrap(), 24).unwrap();
            let dev = TunDevice::open(&TunConfig::new("synflood0", &[own])).expect("TUN");
            let stack = NetStack::builder().address(own.addr).build(dev).unwrap();
            let to: SocketAddr = "10.216.0.2:7".parse().unwrap();
            let l = TcpListener::bind(&stack, to).await.unwrap();
            tokio::spawn(async move {
                while let Ok((s, _)) = l.accept().await {
                    tokio::spawn(synack::apps::echo(s));
                }
            });
            // Started from this thread: the flood runs in the namespace.
            let mut flood = Command::new("hping3")
                .args([
                    "-S",
                    "-p",
                    "7",
                    "--flood",
                    "--rand-source",
                    "-q",
                    "10.216.0.2",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start hping3");
            std::thread::sleep(Duration::from_millis(300));
            // The client's thread is started from this one, so it is in the namespace.
            let client = std::thread::spawn(move || {
                let mut ok = 0;
                for i in 0..ATTEMPTS {
                    let msg = format!("attempt {i}");
                    let r = (|| -> std::io::Result<()> {
                        let mut s =
                            std::net::TcpStream::connect_timeout(&to, Duration::from_secs(10))?;
                        s.set_read_timeout(Some(Duration::from_secs(10)))?;
                        s.write_all(msg.as_bytes())?;
                        let mut back = vec![0; msg.len()];
                        s.read_exact(&mut back)?;
                        assert_eq!(back, msg.as_bytes());
                        Ok(())
                    })();
                    match r {
                        Ok(()) => ok += 1,
                        Err(e) => eprintln!("{msg}: {e}"),
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                ok
            });
            let ok = tokio::task::spawn_blocking(move || client.join())
                .await
                .unwrap()
                .expect("client thread");
            let _ = flood.kill();
            let _ = flood.wait();
            (ok, stack.stats())
        })
    })
    .join()
    .expect("namespace thread");
    eprintln!(
        "{ok}/{ATTEMPTS} attempts; {} SYN cookies sent, {} accepted; {} packets in",
        stats.syncookies_sent, stats.syncookies_accepted, stats.packets_in
    );
    assert!(
        stats.syncookies_sent > 0,
        "the flood never filled the queue: no cookie was sent"
    );
    assert_eq!(ok, ATTEMPTS, "every attempt during the flood succeeds");
}
