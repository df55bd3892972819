//! `TunDevice::from_fd` on a descriptor handed over (issue 15 item 4). Without root:
//! one end of a Unix socket pair stands in for the TUN descriptor (declared offload
//! state, since `TUNGETIFF` cannot describe a socket), packets with and without the
//! virtio-net header. As root: a real TUN descriptor opened with `IFF_VNET_HDR`,
//! whose offload state is detected.
#![cfg(target_os = "linux")]

use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;
use synack::{NetStack, TcpListener, TunDevice};
use synack_wire::{parse_packet, IpRepr, Packet, TcpFlags, TcpOptions, TcpRepr, PROTO_TCP};

fn socket_pair() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: fds is a writable array of two descriptors.
    let r = unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET, 0, fds.as_mut_ptr()) };
    assert_eq!(r, 0, "socketpair");
    // SAFETY: both descriptors were just created and are owned here.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

fn syn(src: SocketAddr, dst: SocketAddr) -> Vec<u8> {
    let tcp = TcpRepr {
        src_port: src.port(),
        dst_port: dst.port(),
        seq: 1000,
        ack: 0,
        flags: TcpFlags::SYN,
        window: 65535,
        urgent: 0,
        options: TcpOptions {
            mss: Some(1460),
            ..TcpOptions::default()
        },
    };
    let ip = IpRepr {
        src: src.ip(),
        dst: dst.ip(),
        protocol: PROTO_TCP,
        ttl: 64,
        payload_len: tcp.header_len(),
    };
    let mut buf = vec![0u8; 100];
    let n = synack_wire::emit_tcp_packet(&mut buf, &ip, &tcp, 0).unwrap();
    buf.truncate(n);
    buf
}

/// Send a SYN to the stack through `peer` and read its answer.
async fn handshake_through(peer: OwnedFd, vnet: bool) -> Vec<u8> {
    // SAFETY: the OwnedFd stays open and the same for as long as the AsyncFd owns it.
    let peer = unsafe { tokio::io::unix::AsyncFd::register(peer) }
        .map_err(std::io::Error::from)
        .unwrap();
    let mut p = if vnet { vec![0u8; 10] } else { Vec::new() };
    p.extend(syn(
        "10.0.0.1:40000".parse().unwrap(),
        "10.0.0.2:80".parse().unwrap(),
    ));
    // SAFETY: a live descriptor and a readable buffer.
    let n = unsafe { libc::write(peer.as_raw_fd(), p.as_ptr().cast(), p.len()) };
    assert_eq!(n as usize, p.len());
    let mut buf = vec![0u8; 2048];
    loop {
        let mut g = tokio::time::timeout(Duration::from_secs(5), peer.readable())
            .await
            .expect("an answer")
            .unwrap();
        // SAFETY: a live descriptor and a writable buffer.
        let n = unsafe {
            libc::recv(
                peer.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if n > 0 {
            buf.truncate(n as usize);
            return buf;
        }
        g.clear_ready();
    }
}

#[tokio::test]
async fn a_descriptor_with_declared_framing_carries_packets() {
    for vnet in [false, true] {
        let (ours, peer) = socket_pair();
        let dev = TunDevice::from_fd(ours, 1500, Some(vnet)).unwrap();
        assert_eq!(dev.offload(), vnet);
        let stack = NetStack::new(dev, &["10.0.0.2".parse().unwrap()]).unwrap();
        let _l = TcpListener::bind(&stack, "10.0.0.2:80").await.unwrap();
        let answer = handshake_through(peer, vnet).await;
        let packet = if vnet {
            assert!(
                answer[..10].iter().all(|&b| b == 0),
                "a plain virtio-net header"
            );
            &answer[10..]
        } else {
            &answer[..]
        };
        match parse_packet(packet, true).unwrap() {
            Packet::Tcp(p) => {
                assert_eq!(p.tcp.flags, TcpFlags::SYN | TcpFlags::ACK);
                assert_eq!(p.tcp.ack, 1001);
                assert_eq!(p.tcp.dst_port, 40000);
            }
            other => panic!("expected the SYN-ACK, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn an_undescribed_descriptor_needs_its_framing_declared() {
    let (ours, _peer) = socket_pair();
    let e = TunDevice::from_fd(ours, 1500, None).unwrap_err();
    assert!(e.to_string().contains("declare its offload state"), "{e}");
}

/// IFF_TUN | IFF_NO_PI | IFF_VNET_HDR, opened by hand as a helper process would.
#[tokio::test]
async fn a_real_tun_descriptor_has_its_offloads_detected() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 || !std::path::Path::new("/dev/net/tun").exists() {
        println!("skipped: needs root and /dev/net/tun to open a TUN device");
        return;
    }
    let name = format!("s7fd{}", std::process::id() % 100_000);
    for vnet in [false, true] {
        // SAFETY: open with a NUL-terminated path.
        let raw = unsafe { libc::open(c"/dev/net/tun".as_ptr(), libc::O_RDWR) };
        assert!(raw >= 0, "open /dev/net/tun");
        // SAFETY: just opened, owned here.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: zeroed ifreq is valid; the name fits (at most 15 bytes).
        let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
        for (d, s) in req.ifr_name.iter_mut().zip(name.bytes()) {
            *d = s as libc::c_char;
        }
        let flags = libc::IFF_TUN | libc::IFF_NO_PI | if vnet { libc::IFF_VNET_HDR } else { 0 };
        req.ifr_ifru.ifru_flags = flags as libc::c_short;
        // SAFETY: TUNSETIFF on the descriptor with a valid ifreq.
        let r = unsafe { libc::ioctl(fd.as_raw_fd(), 0x4004_54ca as _, &req) };
        assert_eq!(r, 0, "TUNSETIFF: {}", std::io::Error::last_os_error());
        let dev = TunDevice::from_fd(fd, 1500, None).unwrap();
        assert_eq!(dev.offload(), vnet);
        assert_eq!(dev.name(), name);
    }
}
