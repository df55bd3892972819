//! One smoltcp host for the rows where smoltcp faces the Linux kernel: an `Interface`
//! (medium IP) with one TCP socket of [`BUFFER`] each way, over any packet device
//! that can also wait for input. The TUN rows put it on a plain TUN device
//! (tun_smol.rs), the WAN rows on the emulated link (wan_smol.rs); this module owns
//! what they share: the smoltcp `Device` glue (a received packet lent as a slice, a
//! transmit buffer reused for every packet), the wait for a packet or smoltcp's next
//! deadline, and the checked receive and pattern send of their loops.

use crate::pattern::Pattern;
use crate::BUFFER;
use smoltcp::iface::{Config as IfaceConfig, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{Device, DeviceCapabilities, Medium, RxToken, TxToken};
use smoltcp::socket::tcp::{CongestionControl, RecvError, Socket, SocketBuffer, State};
use smoltcp::time::Instant as SInstant;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};
use std::net::Ipv4Addr;
use std::time::Duration;

/// Where a host's packets go out.
pub(crate) trait PacketOut {
    /// Send one IP packet (a refused one is lost; TCP retransmits it).
    fn send_packet(&self, packet: &[u8]);
}

/// A packet device a [`SmolHost`] runs on.
pub(crate) trait Phy {
    /// The outgoing side.
    type Out: PacketOut;
    /// Longest single wait, so the loop looks at its stop conditions now and then.
    const MAX_WAIT: Duration;
    /// Take the next received packet into the device's receive buffer; its length.
    fn recv_packet(&mut self) -> Option<usize>;
    /// The receive buffer, the outgoing side and the transmit buffer, borrowed at
    /// once.
    fn parts(&mut self) -> (&[u8], &Self::Out, &mut Vec<u8>);
    /// Block until a packet may have arrived or `max` has passed.
    fn wait(&mut self, max: Duration);
    /// The device's MTU.
    fn mtu(&self) -> usize;
}

/// A received packet, lent to smoltcp.
pub(crate) struct Rx<'a>(&'a [u8]);

/// A packet smoltcp writes into the reused buffer, then sent.
pub(crate) struct Tx<'a, O: PacketOut> {
    out: &'a O,
    buf: &'a mut Vec<u8>,
}

impl RxToken for Rx<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.0)
    }
}

impl<O: PacketOut> TxToken for Tx<'_, O> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        if self.buf.len() < len {
            self.buf.resize(len, 0);
        }
        let r = f(&mut self.buf[..len]);
        self.out.send_packet(&self.buf[..len]);
        r
    }
}

/// A [`Phy`] as smoltcp's `Device`.
pub(crate) struct Dev<P>(pub(crate) P);

impl<P: Phy> Device for Dev<P> {
    type RxToken<'a>
        = Rx<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = Tx<'a, P::Out>
    where
        Self: 'a;

    fn receive(&mut self, _t: SInstant) -> Option<(Rx<'_>, Tx<'_, P::Out>)> {
        let n = self.0.recv_packet()?;
        let (rx, out, buf) = self.0.parts();
        Some((Rx(&rx[..n]), Tx { out, buf }))
    }

    fn transmit(&mut self, _t: SInstant) -> Option<Tx<'_, P::Out>> {
        let (_, out, buf) = self.0.parts();
        Some(Tx { out, buf })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = self.0.mtu();
        caps
    }
}

/// What one pass of [`SmolHost::recv_checked`] found.
pub(crate) struct Received {
    /// Data was read.
    pub(crate) progressed: bool,
    /// The peer closed its side and everything was read.
    pub(crate) finished: bool,
}

/// One smoltcp host with one TCP socket.
pub(crate) struct SmolHost<P: Phy> {
    pub(crate) dev: Dev<P>,
    pub(crate) iface: Interface,
    pub(crate) sockets: SocketSet<'static>,
    pub(crate) sock: SocketHandle,
}

impl<P: Phy> SmolHost<P> {
    /// A host at `addr`/`prefix` on `phy`; `seed` is smoltcp's random seed.
    pub(crate) fn new(phy: P, addr: Ipv4Addr, prefix: u8, seed: u64) -> SmolHost<P> {
        let mut dev = Dev(phy);
        let mut cfg = IfaceConfig::new(HardwareAddress::Ip);
        cfg.random_seed = seed;
        let mut iface = Interface::new(cfg, &mut dev, SInstant::now());
        iface.update_ip_addrs(|a| {
            let _ = a.push(IpCidr::new(IpAddress::Ipv4(addr), prefix));
        });
        let mut sockets = SocketSet::new(Vec::new());
        let mut socket = Socket::new(
            SocketBuffer::new(vec![0u8; BUFFER]),
            SocketBuffer::new(vec![0u8; BUFFER]),
        );
        // smoltcp's default: no congestion control (the `socket-tcp-cubic` feature,
        // on for the WAN rows' sender, would otherwise make CUBIC the default).
        socket.set_congestion_control(CongestionControl::None);
        let sock = sockets.add(socket);
        SmolHost {
            dev,
            iface,
            sockets,
            sock,
        }
    }

    pub(crate) fn socket(&mut self) -> &mut Socket<'static> {
        self.sockets.get_mut::<Socket>(self.sock)
    }

    /// Listen on `port`.
    pub(crate) fn listen(&mut self, port: u16) -> Result<(), String> {
        self.socket()
            .listen(port)
            .map_err(|e| format!("smoltcp listen: {e:?}"))
    }

    /// Connect to `to` from `local_port`.
    pub(crate) fn connect(&mut self, to: (Ipv4Addr, u16), local_port: u16) -> Result<(), String> {
        let cx = self.iface.context();
        let sock = self.sockets.get_mut::<Socket>(self.sock);
        sock.connect(cx, (IpAddress::Ipv4(to.0), to.1), local_port)
            .map_err(|e| format!("smoltcp connect: {e:?}"))
    }

    /// Process what arrived and send what is due.
    pub(crate) fn poll(&mut self) {
        self.iface
            .poll(SInstant::now(), &mut self.dev, &mut self.sockets);
    }

    /// Wait for a packet or smoltcp's next deadline, at most [`Phy::MAX_WAIT`].
    pub(crate) fn wait(&mut self) {
        let max = P::MAX_WAIT;
        let delay = self
            .iface
            .poll_delay(SInstant::now(), &self.sockets)
            .map_or(max, |d| Duration::from_micros(d.total_micros()).min(max));
        if !delay.is_zero() {
            self.dev.0.wait(delay);
        }
    }

    /// The connection is past the handshake (the receiver's clock starts).
    pub(crate) fn started(&mut self) -> bool {
        !matches!(self.socket().state(), State::Listen | State::SynReceived)
    }

    /// Read everything readable into `buf`, checking it against `pattern` from byte
    /// `*got` on; an error names the first corrupted stretch.
    pub(crate) fn recv_checked(
        &mut self,
        pattern: &Pattern,
        got: &mut u64,
        buf: &mut [u8],
    ) -> Result<Received, String> {
        let s = self.socket();
        let mut r = Received {
            progressed: false,
            finished: false,
        };
        loop {
            match s.recv_slice(buf) {
                Ok(0) | Err(RecvError::InvalidState) => return Ok(r),
                Ok(n) => {
                    if !pattern.matches(*got, &buf[..n]) {
                        return Err(format!("smoltcp received corrupted data near byte {got}"));
                    }
                    *got += n as u64;
                    r.progressed = true;
                }
                Err(RecvError::Finished) => {
                    r.finished = true;
                    return Ok(r);
                }
            }
        }
    }

    /// Write `pattern` from byte `*sent` on, up to byte `limit`, in writes of at most
    /// `chunk` bytes, while the socket takes it; true when anything was written.
    pub(crate) fn send_pattern(
        &mut self,
        pattern: &Pattern,
        sent: &mut u64,
        limit: u64,
        chunk: usize,
    ) -> bool {
        let s = self.socket();
        let mut progressed = false;
        while *sent < limit && s.can_send() {
            let len = (limit - *sent).min(chunk as u64) as usize;
            match s.send_slice(pattern.window(*sent, len)) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    *sent += n as u64;
                    progressed = true;
                }
            }
        }
        progressed
    }
}
