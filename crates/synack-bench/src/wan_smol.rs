//! smoltcp's ends of the WAN rows: smol_host.rs's host (medium IP) on side B of the
//! emulated path, in process. Its device sends into the link's ingress and receives
//! from a channel the link releases into; the loop polls the interface, moves
//! application data and waits on the channel until a packet comes or smoltcp's next
//! deadline. Socket buffers are 256 KiB each way ([`BUFFER`](crate::BUFFER), synack's
//! default size).

use crate::pattern::Pattern;
use crate::smol_host::{PacketOut, Phy, SmolHost};
use crate::tun::SEED;
use crate::wan::{
    join, kernel_inproc_path, kernel_receive_for, kernel_send_until, spawn_in, DataFrom, WanRun,
    ADDR_A, ADDR_B, PORT, STALL,
};
use smoltcp::socket::tcp::{CongestionControl, State};
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

impl PacketOut for Ingress {
    fn send_packet(&self, packet: &[u8]) {
        self.send(packet);
    }
}

/// The link's side B under smoltcp.
struct LinkPhy {
    ingress: Ingress,
    rx: mpsc::Receiver<Vec<u8>>,
    /// A packet taken while waiting, handed out by the next `recv_packet`.
    held: Option<Vec<u8>>,
    /// The packet being received.
    cur: Vec<u8>,
    tx: Vec<u8>,
}

impl Phy for LinkPhy {
    type Out = Ingress;
    const MAX_WAIT: Duration = Duration::from_millis(10);

    fn recv_packet(&mut self) -> Option<usize> {
        self.cur = self.held.take().or_else(|| self.rx.try_recv().ok())?;
        Some(self.cur.len())
    }

    fn parts(&mut self) -> (&[u8], &Ingress, &mut Vec<u8>) {
        (&self.cur, &self.ingress, &mut self.tx)
    }

    fn wait(&mut self, max: Duration) {
        if self.held.is_some() {
            return;
        }
        if let Ok(p) = self.rx.recv_timeout(max) {
            self.held = Some(p);
        }
    }

    fn mtu(&self) -> usize {
        MTU
    }
}

/// A smoltcp host at side B's address.
fn host(ingress: Ingress, rx: mpsc::Receiver<Vec<u8>>) -> SmolHost<LinkPhy> {
    let phy = LinkPhy {
        ingress,
        rx,
        held: None,
        cur: Vec::new(),
        tx: vec![0u8; MTU],
    };
    let mut host = SmolHost::new(phy, ADDR_B, 24, 0x5eed_7012);
    // Over a WAN path smoltcp's sender runs its CUBIC, the congestion control it
    // offers: its default has none, and on the lossy profile an uncontrolled sender
    // is not a peer a loss-based algorithm can be compared with (it moved 2.3 to 6.7
    // Mbit/s there, against 3.5 for Linux's CUBIC; with its CUBIC, about 1).
    host.socket()
        .set_congestion_control(CongestionControl::Cubic);
    host
}

/// Kernel → smoltcp over `profile`, the kernel sending with `cc` (a Linux name).
pub(crate) fn kernel_to_smoltcp(
    p: &Profile,
    secs: f64,
    cc: &'static str,
    seed: u64,
) -> Result<WanRun, String> {
    let (tx, rx) = mpsc::channel();
    let (path, ingress) = kernel_inproc_path(p, Box::new(ToChannel(tx)), DataFrom::Kernel, seed)?;
    let mut h = host(ingress, rx);
    h.listen(PORT)?;
    let stop = Arc::new(AtomicBool::new(false));
    let st = stop.clone();
    let to = SocketAddr::V4(SocketAddrV4::new(ADDR_B, PORT));
    let sender = spawn_in(&path.ns[0], "kernel-send", move || {
        kernel_send_until(to, cc, &st)
    })?;
    let pattern = Pattern::new(SEED);
    let mut buf = vec![0u8; CHUNK];
    let mut got = 0u64;
    let mut start = None;
    let span = Duration::from_secs_f64(secs);
    let mut last = Instant::now();
    let result = loop {
        h.poll();
        if start.is_none() && h.started() {
            start = Some(Instant::now());
        }
        if let Some(t) = start {
            if t.elapsed() >= span {
                break Ok(got as f64 * 8.0 / t.elapsed().as_secs_f64() / 1e6);
            }
        }
        let r = match h.recv_checked(&pattern, &mut got, &mut buf) {
            Ok(r) => r,
            Err(e) => {
                stop.store(true, Ordering::Relaxed);
                return Err(e);
            }
        };
        if sender.is_finished() {
            break Err(format!("the kernel sender ended at byte {got}"));
        }
        if r.progressed {
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
pub(crate) fn smoltcp_to_kernel(p: &Profile, secs: f64, seed: u64) -> Result<WanRun, String> {
    let (tx, rx) = mpsc::channel();
    let (path, ingress) =
        kernel_inproc_path(p, Box::new(ToChannel(tx)), DataFrom::InProcess, seed)?;
    let mut h = host(ingress, rx);
    let l = join(spawn_in(&path.ns[0], "bind", move || {
        std::net::TcpListener::bind(SocketAddrV4::new(ADDR_A, PORT))
            .map_err(|e| format!("bind: {e}"))
    })?)?;
    let stop = Arc::new(AtomicBool::new(false));
    let st = stop.clone();
    let receiver = std::thread::spawn(move || kernel_receive_for(l, secs, &st));
    h.connect((ADDR_A, PORT), LOCAL_PORT)?;
    let pattern = Pattern::new(SEED);
    let mut sent = 0u64;
    let mut last = Instant::now();
    let mut failure = None;
    while !stop.load(Ordering::Relaxed) {
        let progressed = h.send_pattern(&pattern, &mut sent, u64::MAX, CHUNK);
        if h.socket().state() == State::Closed && sent > 0 {
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
