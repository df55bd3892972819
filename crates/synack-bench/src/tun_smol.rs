//! smoltcp's ends of the TUN rows: a smoltcp `Interface` (medium IP, checksums
//! computed and verified) on a plain TUN device (no vnet_hdr: smoltcp has no
//! offloads), in the same kind of fresh namespace and with the same addresses and
//! pattern as synack's ends in `tun.rs`. Its socket buffers are the in-process rows'
//! 256 KiB ([`BUFFER`]): with 4 MiB (synack's earlier fixed size) its window overruns the TUN device's
//! queue (it reads one packet per syscall) and the losses cut its rate to a quarter,
//! so the smaller size is smoltcp's better setting here.
//!
//! The host is smol_host.rs's over a non-blocking tun-rs `SyncDevice`: one `read` per
//! received packet into a reused buffer, one `write` per sent packet. The loop polls
//! the interface, moves application data, and sleeps in `poll(2)` on the device until
//! a packet arrives or smoltcp's next deadline, whichever is first.

use crate::pattern::Pattern;
use crate::smol_host::{PacketOut, Phy, SmolHost};
use crate::tun::{
    check_count, kernel_receive, kernel_send, named, Netns, CHUNK, KERNEL, OWN, PREFIX, SEED,
    STALL, TUN_NAME,
};
use crate::Measured;
use smoltcp::socket::tcp::State;
use std::net::{SocketAddr, SocketAddrV4};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};
use tun_rs::{DeviceBuilder, SyncDevice};

/// MTU of the plain TUN device.
const MTU: usize = 1500;
/// Port of the listening end.
const PORT: u16 = 6002;
/// smoltcp's local port when it connects.
const LOCAL_PORT: u16 = 49_152;

/// A plain TUN device under smoltcp.
struct TunPhy {
    dev: TunOut,
    rx: Vec<u8>,
    tx: Vec<u8>,
}

struct TunOut(SyncDevice);

impl PacketOut for TunOut {
    fn send_packet(&self, packet: &[u8]) {
        let _ = self.0.send(packet);
    }
}

impl Phy for TunPhy {
    type Out = TunOut;
    const MAX_WAIT: Duration = Duration::from_millis(50);

    fn recv_packet(&mut self) -> Option<usize> {
        match self.dev.0.recv(&mut self.rx) {
            Ok(n) if n > 0 => Some(n),
            _ => None,
        }
    }

    fn parts(&mut self) -> (&[u8], &TunOut, &mut Vec<u8>) {
        (&self.rx, &self.dev, &mut self.tx)
    }

    /// Sleep in `poll(2)` until the device is readable, in whole milliseconds (under
    /// one, the loop goes on at once).
    fn wait(&mut self, max: Duration) {
        let ms = max.as_millis();
        if ms == 0 {
            return;
        }
        let mut fds = libc::pollfd {
            fd: self.dev.0.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, and the fd stays open for the call.
        unsafe { libc::poll(&mut fds, 1, ms as libc::c_int) };
    }

    fn mtu(&self) -> usize {
        MTU
    }
}

/// A smoltcp host on a TUN device created in the calling thread's namespace.
fn host() -> Result<SmolHost<TunPhy>, String> {
    let dev = DeviceBuilder::new()
        .name(TUN_NAME)
        .ipv4(KERNEL, PREFIX, None)
        .mtu(MTU as u16)
        .enable(true)
        .build_sync()
        .map_err(|e| format!("plain TUN device: {e}"))?;
    dev.set_nonblocking(true)
        .map_err(|e| format!("TUN non-blocking: {e}"))?;
    let phy = TunPhy {
        dev: TunOut(dev),
        rx: vec![0u8; 65_536],
        tx: vec![0u8; MTU],
    };
    Ok(SmolHost::new(phy, OWN, PREFIX, 0x5eed_7011))
}

/// Kernel → smoltcp over a plain TUN device (smoltcp receives and checks).
pub(crate) fn smol_receive(total: u64) -> Result<Measured, String> {
    let ns = Netns::new("k2smol")?;
    ns.run(move || {
        let mut h = host()?;
        h.listen(PORT)?;
        let to = SocketAddr::V4(SocketAddrV4::new(OWN, PORT));
        let sender = named("kernel-send", move || {
            kernel_send(to, total, &Pattern::new(SEED))
        })?;
        let pattern = Pattern::new(SEED);
        let mut buf = vec![0u8; CHUNK];
        let mut got = 0u64;
        let mut start = None;
        let mut last = Instant::now();
        let elapsed = loop {
            h.poll();
            if start.is_none() && h.started() {
                start = Some(Instant::now());
            }
            let r = h.recv_checked(&pattern, &mut got, &mut buf)?;
            // At the end of the stream, or when the kernel gave up (its error is
            // reported below).
            if r.finished || sender.is_finished() {
                break start.map(|t| t.elapsed()).unwrap_or_default();
            }
            if r.progressed {
                last = Instant::now();
                continue;
            }
            if last.elapsed() > STALL {
                return Err(format!("smoltcp receive stalled at byte {got}"));
            }
            h.wait();
        };
        // Close our side so the kernel sender sees the end, and keep the interface
        // running until it has.
        h.socket().close();
        let deadline = Instant::now() + STALL;
        while !sender.is_finished() && Instant::now() < deadline {
            h.poll();
            h.wait();
        }
        if !sender.is_finished() {
            return Err("kernel sender did not finish".into());
        }
        sender
            .join()
            .map_err(|_| "kernel sender panicked".to_string())??;
        check_count(
            "smoltcp",
            Measured {
                elapsed,
                bytes: got,
            },
            total,
        )
    })
}

/// smoltcp → kernel over a plain TUN device (the kernel receives and checks).
pub(crate) fn smol_send(total: u64) -> Result<Measured, String> {
    let ns = Netns::new("smol2k")?;
    ns.run(move || {
        let mut h = host()?;
        let l = std::net::TcpListener::bind(SocketAddrV4::new(KERNEL, PORT))
            .map_err(|e| format!("kernel listener: {e}"))?;
        let receiver = named("kernel-recv", move || {
            kernel_receive(l, &Pattern::new(SEED))
        })?;
        h.connect((KERNEL, PORT), LOCAL_PORT)?;
        let pattern = Pattern::new(SEED);
        let mut sent = 0u64;
        let mut closed = false;
        let mut last = Instant::now();
        while !receiver.is_finished() {
            let progressed = h.send_pattern(&pattern, &mut sent, total, CHUNK);
            let s = h.socket();
            if sent == total && !closed {
                s.close();
                closed = true;
            }
            if s.state() == State::Closed && !closed {
                break;
            }
            h.poll();
            if progressed {
                last = Instant::now();
                continue;
            }
            if sent < total && h.socket().can_send() {
                // ACKs freed room in the send buffer: fill it before sleeping.
                continue;
            }
            if last.elapsed() > STALL {
                return Err(format!("smoltcp send stalled at byte {sent}"));
            }
            h.wait();
        }
        let got = receiver
            .join()
            .map_err(|_| "kernel receiver panicked".to_string())??;
        check_count("kernel", got, total)
    })
}
