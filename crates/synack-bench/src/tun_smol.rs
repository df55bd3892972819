//! smoltcp's ends of the TUN rows: a smoltcp `Interface` (medium IP, checksums
//! computed and verified) on a plain TUN device (no vnet_hdr: smoltcp has no
//! offloads), in the same kind of fresh namespace and with the same addresses and
//! pattern as synack's ends in `tun.rs`. Its socket buffers are the in-process rows'
//! 256 KiB ([`BUFFER`]): with 4 MiB (synack's earlier fixed size) its window overruns the TUN device's
//! queue (it reads one packet per syscall) and the losses cut its rate to a quarter,
//! so the smaller size is smoltcp's better setting here.
//!
//! The device is a small `phy::Device` over a non-blocking tun-rs `SyncDevice`: one
//! `read` per received packet into a reused buffer, one `write` per sent packet. The
//! loop polls the interface, moves application data, and sleeps in `poll(2)` on the
//! device until a packet arrives or smoltcp's next deadline, whichever is first.

use crate::pattern::Pattern;
use crate::tun::{
    check_count, kernel_receive, kernel_send, named, Netns, CHUNK, KERNEL, OWN, PREFIX, SEED,
    STALL, TUN_NAME,
};
use crate::{Measured, BUFFER};
use smoltcp::iface::{Config as IfaceConfig, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{Device, DeviceCapabilities, Medium, RxToken, TxToken};
use smoltcp::socket::tcp::{RecvError, Socket, SocketBuffer, State};
use smoltcp::time::Instant as SInstant;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};
use std::net::{SocketAddr, SocketAddrV4};
use std::os::fd::AsRawFd;
use std::time::Instant;
use tun_rs::{DeviceBuilder, SyncDevice};

/// MTU of the plain TUN device.
const MTU: usize = 1500;
/// Port of the listening end.
const PORT: u16 = 6002;
/// smoltcp's local port when it connects.
const LOCAL_PORT: u16 = 49_152;

/// A plain TUN device as a smoltcp device.
struct TunPhy {
    dev: SyncDevice,
    rx: Vec<u8>,
    tx: Vec<u8>,
}

struct Rx<'a> {
    packet: &'a [u8],
}

struct Tx<'a> {
    dev: &'a SyncDevice,
    buf: &'a mut Vec<u8>,
}

impl RxToken for Rx<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.packet)
    }
}

impl TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        if self.buf.len() < len {
            self.buf.resize(len, 0);
        }
        let r = f(&mut self.buf[..len]);
        // A refused packet is lost; TCP retransmits it.
        let _ = self.dev.send(&self.buf[..len]);
        r
    }
}

impl Device for TunPhy {
    type RxToken<'a>
        = Rx<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = Tx<'a>
    where
        Self: 'a;

    fn receive(&mut self, _t: SInstant) -> Option<(Rx<'_>, Tx<'_>)> {
        let n = match self.dev.recv(&mut self.rx) {
            Ok(n) if n > 0 => n,
            _ => return None,
        };
        Some((
            Rx {
                packet: &self.rx[..n],
            },
            Tx {
                dev: &self.dev,
                buf: &mut self.tx,
            },
        ))
    }

    fn transmit(&mut self, _t: SInstant) -> Option<Tx<'_>> {
        Some(Tx {
            dev: &self.dev,
            buf: &mut self.tx,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = MTU;
        caps
    }
}

/// One smoltcp host on a TUN device created in the calling thread's namespace.
struct Host {
    phy: TunPhy,
    iface: Interface,
    sockets: SocketSet<'static>,
    sock: SocketHandle,
}

impl Host {
    fn new() -> Result<Host, String> {
        let dev = DeviceBuilder::new()
            .name(TUN_NAME)
            .ipv4(KERNEL, PREFIX, None)
            .mtu(MTU as u16)
            .enable(true)
            .build_sync()
            .map_err(|e| format!("plain TUN device: {e}"))?;
        dev.set_nonblocking(true)
            .map_err(|e| format!("TUN non-blocking: {e}"))?;
        let mut phy = TunPhy {
            dev,
            rx: vec![0u8; 65_536],
            tx: vec![0u8; MTU],
        };
        let mut cfg = IfaceConfig::new(HardwareAddress::Ip);
        cfg.random_seed = 0x5eed_7011;
        let mut iface = Interface::new(cfg, &mut phy, SInstant::now());
        iface.update_ip_addrs(|a| {
            let _ = a.push(IpCidr::new(IpAddress::Ipv4(OWN), PREFIX));
        });
        let mut sockets = SocketSet::new(Vec::new());
        let sock = sockets.add(Socket::new(
            SocketBuffer::new(vec![0u8; BUFFER]),
            SocketBuffer::new(vec![0u8; BUFFER]),
        ));
        Ok(Host {
            phy,
            iface,
            sockets,
            sock,
        })
    }

    fn socket(&mut self) -> &mut Socket<'static> {
        self.sockets.get_mut::<Socket>(self.sock)
    }

    /// Process what arrived and send what is due.
    fn poll(&mut self) {
        self.iface
            .poll(SInstant::now(), &mut self.phy, &mut self.sockets);
    }

    /// Sleep until the device is readable or smoltcp's next deadline (at most 50 ms).
    fn wait(&mut self) {
        let delay = self
            .iface
            .poll_delay(SInstant::now(), &self.sockets)
            .map_or(50, |d| d.total_millis().min(50));
        if delay == 0 {
            return;
        }
        let mut fds = libc::pollfd {
            fd: self.phy.dev.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, and the fd stays open for the call.
        unsafe { libc::poll(&mut fds, 1, delay as libc::c_int) };
    }
}

/// Kernel → smoltcp over a plain TUN device (smoltcp receives and checks).
pub(crate) fn smol_receive(total: u64) -> Result<Measured, String> {
    let ns = Netns::new("k2smol")?;
    ns.run(move || {
        let mut h = Host::new()?;
        h.socket()
            .listen(PORT)
            .map_err(|e| format!("smoltcp listen: {e:?}"))?;
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
            let s = h.socket();
            if start.is_none() && s.state() != State::Listen && s.state() != State::SynReceived {
                start = Some(Instant::now());
            }
            let mut progressed = false;
            let mut finished = false;
            loop {
                match s.recv_slice(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        if !pattern.matches(got, &buf[..n]) {
                            return Err(format!("smoltcp received corrupted data near byte {got}"));
                        }
                        got += n as u64;
                        progressed = true;
                    }
                    Err(RecvError::Finished) => {
                        finished = true;
                        break;
                    }
                    Err(RecvError::InvalidState) => break,
                }
            }
            if finished {
                break start.map(|t| t.elapsed()).unwrap_or_default();
            }
            if sender.is_finished() {
                // The kernel gave up (its error is reported below).
                break start.map(|t| t.elapsed()).unwrap_or_default();
            }
            if progressed {
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
        let mut h = Host::new()?;
        let l = std::net::TcpListener::bind(SocketAddrV4::new(KERNEL, PORT))
            .map_err(|e| format!("kernel listener: {e}"))?;
        let receiver = named("kernel-recv", move || {
            kernel_receive(l, &Pattern::new(SEED))
        })?;
        let cx = h.iface.context();
        let sock = h.sockets.get_mut::<Socket>(h.sock);
        sock.connect(cx, (IpAddress::Ipv4(KERNEL), PORT), LOCAL_PORT)
            .map_err(|e| format!("smoltcp connect: {e:?}"))?;
        let pattern = Pattern::new(SEED);
        let mut sent = 0u64;
        let mut closed = false;
        let mut last = Instant::now();
        while !receiver.is_finished() {
            let s = h.socket();
            let mut progressed = false;
            while sent < total && s.can_send() {
                let w = pattern.window(sent, (total - sent).min(CHUNK as u64) as usize);
                match s.send_slice(w) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        sent += n as u64;
                        progressed = true;
                    }
                }
            }
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
