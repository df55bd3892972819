//! smoltcp's ends of the WAN rows: a smoltcp `Interface` (medium IP) on side B of the
//! emulated path, in process. Its device sends into the link's ingress and receives
//! from a channel the link releases into; the loop polls the interface, moves
//! application data and waits on the channel until a packet comes or smoltcp's next
//! deadline. Socket buffers are 256 KiB each way ([`BUFFER`], synack's default size).

use crate::pattern::Pattern;
use crate::tun::SEED;
use crate::wan::{
    join, kernel_inproc_path, kernel_receive_for, kernel_send_until, spawn_in, WanRun, ADDR_A,
    ADDR_B, PORT, STALL,
};
use crate::BUFFER;
use smoltcp::iface::{Config as IfaceConfig, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{Device, DeviceCapabilities, Medium, RxToken, TxToken};
use smoltcp::socket::tcp::{RecvError, Socket, SocketBuffer, State};
use smoltcp::time::Instant as SInstant;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};
use std::net::{SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use synack_link::{Egress, Ingress};
use synack_sim::profiles::{Profile, MTU};

/// smoltcp's local port when it connects.
const LOCAL_PORT: u16 = 49_153;
/// Size of each application read or write.
const CHUNK: usize = 64 << 10;

/// Released packets into a std channel (smoltcp's loop waits on it with a timeout).
struct ToChannel(mpsc::Sender<Vec<u8>>);

impl Egress for ToChannel {
    fn deliver(&mut self, packet: &[u8]) {
        let _ = self.0.send(packet.to_vec());
    }
}

/// The link's side B as a smoltcp device.
struct LinkPhy {
    ingress: Ingress,
    rx: mpsc::Receiver<Vec<u8>>,
    /// A packet taken while waiting, handed out by the next `receive`.
    held: Option<Vec<u8>>,
    tx: Vec<u8>,
}

struct Rx {
    packet: Vec<u8>,
}

struct Tx<'a> {
    ingress: &'a Ingress,
    buf: &'a mut Vec<u8>,
}

impl RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.packet)
    }
}

impl TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        if self.buf.len() < len {
            self.buf.resize(len, 0);
        }
        let r = f(&mut self.buf[..len]);
        self.ingress.send(&self.buf[..len]);
        r
    }
}

impl Device for LinkPhy {
    type RxToken<'a>
        = Rx
    where
        Self: 'a;
    type TxToken<'a>
        = Tx<'a>
    where
        Self: 'a;

    fn receive(&mut self, _t: SInstant) -> Option<(Rx, Tx<'_>)> {
        let packet = self.held.take().or_else(|| self.rx.try_recv().ok())?;
        Some((
            Rx { packet },
            Tx {
                ingress: &self.ingress,
                buf: &mut self.tx,
            },
        ))
    }

    fn transmit(&mut self, _t: SInstant) -> Option<Tx<'_>> {
        Some(Tx {
            ingress: &self.ingress,
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

/// One smoltcp host at side B's address.
struct Host {
    phy: LinkPhy,
    iface: Interface,
    sockets: SocketSet<'static>,
    sock: SocketHandle,
}

impl Host {
    fn new(ingress: Ingress, rx: mpsc::Receiver<Vec<u8>>) -> Host {
        let mut phy = LinkPhy {
            ingress,
            rx,
            held: None,
            tx: vec![0u8; MTU],
        };
        let mut cfg = IfaceConfig::new(HardwareAddress::Ip);
        cfg.random_seed = 0x5eed_7012;
        let mut iface = Interface::new(cfg, &mut phy, SInstant::now());
        iface.update_ip_addrs(|a| {
            let _ = a.push(IpCidr::new(IpAddress::Ipv4(ADDR_B), 24));
        });
        let mut sockets = SocketSet::new(Vec::new());
        let sock = sockets.add(Socket::new(
            SocketBuffer::new(vec![0u8; BUFFER]),
            SocketBuffer::new(vec![0u8; BUFFER]),
        ));
        Host {
            phy,
            iface,
            sockets,
            sock,
        }
    }

    fn socket(&mut self) -> &mut Socket<'static> {
        self.sockets.get_mut::<Socket>(self.sock)
    }

    fn poll(&mut self) {
        self.iface
            .poll(SInstant::now(), &mut self.phy, &mut self.sockets);
    }

    /// Wait for a packet or smoltcp's next deadline (at most 10 ms).
    fn wait(&mut self) {
        if self.phy.held.is_some() {
            return;
        }
        let delay = self
            .iface
            .poll_delay(SInstant::now(), &self.sockets)
            .map_or(10_000, |d| d.total_micros().min(10_000));
        if delay == 0 {
            return;
        }
        if let Ok(p) = self.phy.rx.recv_timeout(Duration::from_micros(delay)) {
            self.phy.held = Some(p);
        }
    }
}

/// Kernel (CUBIC) → smoltcp over `profile`.
pub(crate) fn kernel_to_smoltcp(p: &Profile, secs: f64) -> Result<WanRun, String> {
    let (tx, rx) = mpsc::channel();
    let (path, ingress) = kernel_inproc_path(p, Box::new(ToChannel(tx)))?;
    let mut h = Host::new(ingress, rx);
    h.socket()
        .listen(PORT)
        .map_err(|e| format!("smoltcp listen: {e:?}"))?;
    let stop = Arc::new(AtomicBool::new(false));
    let st = stop.clone();
    let to = SocketAddr::V4(SocketAddrV4::new(ADDR_B, PORT));
    let sender = spawn_in(&path.ns[0], "kernel-send", move || {
        kernel_send_until(to, "cubic", &st)
    })?;
    let pattern = Pattern::new(SEED);
    let mut buf = vec![0u8; CHUNK];
    let mut got = 0u64;
    let mut start = None;
    let span = Duration::from_secs_f64(secs);
    let mut last = Instant::now();
    let result = loop {
        h.poll();
        let s = h.socket();
        if start.is_none() && !matches!(s.state(), State::Listen | State::SynReceived) {
            start = Some(Instant::now());
        }
        if let Some(t) = start {
            if t.elapsed() >= span {
                break Ok(got as f64 * 8.0 / t.elapsed().as_secs_f64() / 1e6);
            }
        }
        let mut progressed = false;
        loop {
            match s.recv_slice(&mut buf) {
                Ok(0) | Err(RecvError::InvalidState) => break,
                Ok(n) => {
                    if !pattern.matches(got, &buf[..n]) {
                        stop.store(true, Ordering::Relaxed);
                        return Err(format!("smoltcp received corrupted data near byte {got}"));
                    }
                    got += n as u64;
                    progressed = true;
                }
                Err(RecvError::Finished) => {
                    break;
                }
            }
        }
        if sender.is_finished() {
            break Err(format!("the kernel sender ended at byte {got}"));
        }
        if progressed {
            last = Instant::now();
            continue;
        }
        if last.elapsed() > STALL {
            break Err(format!("smoltcp receive stalled at byte {got}"));
        }
        h.wait();
    };
    stop.store(true, Ordering::Relaxed);
    h.socket().abort();
    h.poll();
    let sent = join(sender);
    let mbps = result?;
    sent?;
    Ok(WanRun {
        mbps,
        rtt_ms: rtt_ms(&path),
    })
}

fn rtt_ms(path: &crate::wan::Path) -> f64 {
    use synack_link::Side;
    (path.link.timing(Side::A).mean_transit_us() + path.link.timing(Side::B).mean_transit_us())
        / 1000.0
}

/// smoltcp → kernel (CUBIC) over `profile`.
pub(crate) fn smoltcp_to_kernel(p: &Profile, secs: f64) -> Result<WanRun, String> {
    let (tx, rx) = mpsc::channel();
    let (path, ingress) = kernel_inproc_path(p, Box::new(ToChannel(tx)))?;
    let mut h = Host::new(ingress, rx);
    let l = join(spawn_in(&path.ns[0], "bind", move || {
        std::net::TcpListener::bind(SocketAddrV4::new(ADDR_A, PORT))
            .map_err(|e| format!("bind: {e}"))
    })?)?;
    let stop = Arc::new(AtomicBool::new(false));
    let st = stop.clone();
    let receiver = std::thread::spawn(move || kernel_receive_for(l, secs, &st));
    let cx = h.iface.context();
    let sock = h.sockets.get_mut::<Socket>(h.sock);
    sock.connect(cx, (IpAddress::Ipv4(ADDR_A), PORT), LOCAL_PORT)
        .map_err(|e| format!("smoltcp connect: {e:?}"))?;
    let pattern = Pattern::new(SEED);
    let mut sent = 0u64;
    let mut last = Instant::now();
    let mut failure = None;
    while !stop.load(Ordering::Relaxed) {
        let s = h.socket();
        let mut progressed = false;
        while s.can_send() {
            match s.send_slice(pattern.window(sent, CHUNK)) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    sent += n as u64;
                    progressed = true;
                }
            }
        }
        if s.state() == State::Closed && sent > 0 {
            break;
        }
        h.poll();
        if progressed {
            last = Instant::now();
            continue;
        }
        if h.socket().can_send() {
            continue;
        }
        if last.elapsed() > STALL {
            failure = Some(format!("smoltcp send stalled at byte {sent}"));
            break;
        }
        h.wait();
    }
    h.socket().abort();
    h.poll();
    let mbps = receiver
        .join()
        .map_err(|_| "kernel receiver panicked".to_string())?;
    if let Some(f) = failure {
        return Err(f);
    }
    Ok(WanRun {
        mbps: mbps?,
        rtt_ms: rtt_ms(&path),
    })
}
