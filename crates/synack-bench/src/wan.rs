//! The WAN rows (`synack bench --only wan`): goodput over the emulated paths of
//! `synack_sim::profiles` (P1–P6), through the `synack-link` emulator in real time,
//! with every peer measured in the same run: kernel → kernel with CUBIC and with BBR,
//! kernel → synack, synack → kernel, kernel → smoltcp, smoltcp → kernel.
//!
//! This file owns the paths and the kernel's and synack's ends; smoltcp's ends are in
//! `wan_smol.rs`. A path is the emulator between side A, always a kernel in a fresh
//! namespace holding a plain TUN device (10.93.0.1/24, MTU 1500; the emulator keeps
//! the device's descriptor), and side B: either a second such namespace (10.93.0.2)
//! or an in-process stack at 10.93.0.2 on a channel. Each kernel sender picks its
//! congestion control on its socket (`TCP_CONGESTION`: a namespace other than the
//! initial one may only take a default from `net.ipv4.tcp_allowed_congestion_control`,
//! which here lacks CUBIC); the kernel senders that face synack or smoltcp use CUBIC,
//! Linux's usual default. synack runs with its runtime's defaults (nothing tuned: the
//! point is to measure them).
//!
//! A transfer lasts a fixed time: the sender writes the bench's pattern until the
//! receiver, `secs` after accepting, stops counting, sets a shared flag and closes.
//! Goodput is the bytes the receiver read and checked over that time (slow start
//! included). The mean RTT under load is the emulator's own figure: the mean time a
//! packet spent crossing the link (queueing included) one way plus the other.

use crate::pattern::Pattern;
use crate::report::{Baseline, Figure, Row};
use crate::tun::{
    accept_within, connect_retry, io_err, sweep_stale, timed_out, unavailable, Netns, SEED,
};
use crate::wan_smol;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use synack::{NetStack, TcpListener, TcpStream};
use synack_core::cc::Algorithm;
use synack_link::{open_plain_tun, Egress, Ingress, Link, Reader, Side, TunPort};
use synack_sim::profiles::{self, Profile, MTU};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The kernel's address on side A.
pub(crate) const ADDR_A: Ipv4Addr = Ipv4Addr::new(10, 93, 0, 1);
/// Side B's address (a kernel or an in-process stack).
pub(crate) const ADDR_B: Ipv4Addr = Ipv4Addr::new(10, 93, 0, 2);
/// The second in-process end of the sharing profile, on side B too.
const ADDR_C: Ipv4Addr = Ipv4Addr::new(10, 93, 0, 3);
/// Port of every receiver.
pub(crate) const PORT: u16 = 6101;
/// Size of each application read or write.
const CHUNK: usize = 64 << 10;
/// Longest a transfer may stall before it counts as failed.
pub(crate) const STALL: Duration = Duration::from_secs(20);
/// Seed of the emulator's random decisions (the same losses every run); on the
/// profiles that draw at random, repetition `i` uses `LINK_SEED + i` ([`WanPlan::seeds`]).
const LINK_SEED: u64 = 0x3a7_5eed;

/// What one WAN transfer measured.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WanRun {
    /// Goodput at the receiver, Mbit/s.
    pub(crate) mbps: f64,
    /// Mean RTT under load as the link saw it, ms.
    pub(crate) rtt_ms: f64,
}

/// A path under test: stopped in order when dropped (TUN readers, then the link's
/// release threads, then the namespaces with their devices).
pub(crate) struct Path {
    readers: Vec<Reader>,
    pub(crate) link: Link,
    pub(crate) ns: Vec<Netns>,
}

impl Path {
    fn rtt_ms(&self) -> f64 {
        (self.link.timing(Side::A).mean_transit_us() + self.link.timing(Side::B).mean_transit_us())
            / 1000.0
    }
}

impl Drop for Path {
    fn drop(&mut self) {
        if std::env::var_os("SYNACK_WAN_TRACE").is_some() {
            // What the emulator did to each direction (queue drops, random losses).
            eprintln!("link A->B: {:?}", self.link.stats(Side::A));
            eprintln!("link B->A: {:?}", self.link.stats(Side::B));
        }
        self.readers.clear();
        self.link.stop();
    }
}

/// A namespace with a plain TUN device at `addr`/24; returns the namespace and the
/// device's port (for the link to hold).
fn kernel_end(tag: &str, addr: Ipv4Addr) -> Result<(Netns, TunPort), String> {
    let ns = Netns::with_cc(tag, None)?;
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dev_name = format!("swan{}-{}", std::process::id() % 100_000, n % 1000);
    let dev = open_plain_tun(&dev_name, MTU as u16).map_err(io_err("TUN device"))?;
    let ns_name = ns.name().to_string();
    let cidr = format!("{addr}/24");
    for args in [
        vec!["link", "set", &dev_name, "netns", &ns_name],
        vec!["-n", &ns_name, "addr", "add", &cidr, "dev", &dev_name],
        vec!["-n", &ns_name, "link", "set", &dev_name, "up"],
    ] {
        crate::tun::ip(&args)?;
    }
    Ok((ns, TunPort::new(dev)))
}

/// A kernel on each side of `profile`.
pub(crate) fn kernel_kernel_path(p: &Profile, seed: u64) -> Result<Path, String> {
    let (ns_a, port_a) = kernel_end("wa", ADDR_A)?;
    let (ns_b, port_b) = kernel_end("wb", ADDR_B)?;
    let mut link = Link::new(p.forward.clone(), p.reverse.clone(), seed);
    link.start(port_a.egress(), port_b.egress())
        .map_err(io_err("link"))?;
    let readers = vec![
        port_a
            .start_reader(link.ingress(Side::A), MTU, "wan-read-a")
            .map_err(io_err("reader"))?,
        port_b
            .start_reader(link.ingress(Side::B), MTU, "wan-read-b")
            .map_err(io_err("reader"))?,
    ];
    Ok(Path {
        readers,
        link,
        ns: vec![ns_a, ns_b],
    })
}

/// Who sends the data over a kernel ↔ in-process path.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum DataFrom {
    /// The kernel (side A): a download to the in-process stack.
    Kernel,
    /// The in-process stack (side B): an upload to the kernel.
    InProcess,
}

/// A kernel on side A, and side B's packets delivered to `to_b`; returns the
/// path and the ingress through which side B sends.
///
/// The data direction gets the profile's forward impairments and the random
/// draws that kernel → kernel's data direction (A → B, [`kernel_kernel_path`])
/// gets, whichever side sends: with an upload crossing B → A on B → A's own draws,
/// the few random losses of P3 (about four in six seconds) fell at other packets
/// than the kernel's, and synack's first came at the end of slow start where the
/// kernel's came 1.2 s later.
pub(crate) fn kernel_inproc_path(
    p: &Profile,
    to_b: Box<dyn Egress>,
    data: DataFrom,
    seed: u64,
) -> Result<(Path, Ingress), String> {
    let (ns_a, port_a) = kernel_end("wa", ADDR_A)?;
    let mut link = match data {
        DataFrom::Kernel => Link::new(p.forward.clone(), p.reverse.clone(), seed),
        DataFrom::InProcess => {
            Link::with_streams(p.reverse.clone(), p.forward.clone(), seed, [1, 0])
        }
    };
    link.start(port_a.egress(), to_b).map_err(io_err("link"))?;
    let readers = vec![port_a
        .start_reader(link.ingress(Side::A), MTU, "wan-read-a")
        .map_err(io_err("reader"))?];
    let ingress = link.ingress(Side::B);
    Ok((
        Path {
            readers,
            link,
            ns: vec![ns_a],
        },
        ingress,
    ))
}

/// Starts `f` on a thread inside namespace `ns`.
pub(crate) fn spawn_in<T: Send + 'static>(
    ns: &Netns,
    name: &str,
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<std::thread::JoinHandle<Result<T, String>>, String> {
    let path = format!("/run/netns/{}", ns.name());
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let file = std::fs::File::open(&path).map_err(|e| format!("open {path}: {e}"))?;
            // SAFETY: a valid namespace fd; setns changes only the calling thread.
            if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                return Err(format!("setns: {}", std::io::Error::last_os_error()));
            }
            f()
        })
        .map_err(io_err("spawn"))
}

pub(crate) fn join<T>(h: std::thread::JoinHandle<Result<T, String>>) -> Result<T, String> {
    h.join().map_err(|_| "a WAN thread panicked".to_string())?
}

/// Sets the congestion control of one kernel socket (`TCP_CONGESTION`). Per socket
/// rather than per namespace: a namespace other than the initial one may only pick
/// a default from `net.ipv4.tcp_allowed_congestion_control`, which need not hold
/// CUBIC, while root may give any available algorithm to a socket.
pub(crate) fn set_cc(s: &std::net::TcpStream, cc: &str) -> Result<(), String> {
    // SAFETY: a valid socket and a buffer of the given length.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_CONGESTION,
            cc.as_ptr().cast(),
            cc.len() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(format!(
            "TCP_CONGESTION {cc}: {}",
            std::io::Error::last_os_error()
        ))
    }
}

/// A kernel sender with congestion control `cc`: write the pattern to `to` until
/// `stop` is set (a write error after that is the receiver closing, not a failure).
pub(crate) fn kernel_send_until(
    to: SocketAddr,
    cc: &str,
    stop: &AtomicBool,
) -> Result<u64, String> {
    let mut s = connect_retry(to)?;
    set_cc(&s, cc)?;
    s.set_write_timeout(Some(Duration::from_millis(200)))
        .map_err(io_err("kernel"))?;
    let pattern = Pattern::new(SEED);
    let mut sent = 0u64;
    let mut last = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        match s.write(pattern.window(sent, CHUNK)) {
            Ok(n) => {
                sent += n as u64;
                last = Instant::now();
            }
            Err(e) if timed_out(&e) => {
                if last.elapsed() > STALL {
                    return Err(format!("kernel send stalled at byte {sent}"));
                }
            }
            Err(_) if stop.load(Ordering::Relaxed) => break,
            Err(e) => return Err(format!("kernel send: {e}")),
        }
    }
    Ok(sent)
}

/// A kernel receiver: accept one connection, read and check it for `secs`, then set
/// `stop` and close; returns Mbit/s.
pub(crate) fn kernel_receive_for(
    l: std::net::TcpListener,
    secs: f64,
    stop: &AtomicBool,
) -> Result<f64, String> {
    let mut s = accept_within(&l).inspect_err(|_| stop.store(true, Ordering::Relaxed))?;
    s.set_read_timeout(Some(Duration::from_millis(50)))
        .map_err(io_err("kernel"))?;
    let pattern = Pattern::new(SEED);
    let start = Instant::now();
    let span = Duration::from_secs_f64(secs);
    let mut buf = vec![0u8; CHUNK];
    let mut got = 0u64;
    let mut last = Instant::now();
    let trace = std::env::var_os("SYNACK_WAN_TRACE").is_some();
    let mut next_tick = 0.0f64;
    let result = loop {
        if trace && start.elapsed().as_secs_f64() >= next_tick {
            eprintln!("rx {:.1} {}", next_tick, got);
            next_tick += 0.2;
        }
        if start.elapsed() >= span {
            break Ok(got as f64 * 8.0 / start.elapsed().as_secs_f64() / 1e6);
        }
        match s.read(&mut buf) {
            Ok(0) => break Err(format!("kernel receive: the sender closed at byte {got}")),
            Ok(k) => {
                if !pattern.matches(got, &buf[..k]) {
                    break Err(format!("kernel received corrupted data near byte {got}"));
                }
                got += k as u64;
                last = Instant::now();
            }
            Err(e) if timed_out(&e) => {
                if last.elapsed() > STALL {
                    break Err(format!("kernel receive stalled at byte {got}"));
                }
            }
            Err(e) => break Err(format!("kernel receive: {e}")),
        }
    };
    stop.store(true, Ordering::Relaxed);
    drop(s);
    result
}

/// Kernel → kernel over `profile` with congestion control `cc`.
pub(crate) fn kernel_to_kernel(
    p: &Profile,
    cc: &str,
    secs: f64,
    seed: u64,
) -> Result<WanRun, String> {
    let path = kernel_kernel_path(p, seed)?;
    let l = {
        let to = SocketAddrV4::new(ADDR_B, PORT);
        join(spawn_in(&path.ns[1], "bind", move || {
            std::net::TcpListener::bind(to).map_err(io_err("bind"))
        })?)?
    };
    let stop = Arc::new(AtomicBool::new(false));
    let st = stop.clone();
    let receiver = std::thread::spawn(move || kernel_receive_for(l, secs, &st));
    let st = stop.clone();
    let to = SocketAddr::V4(SocketAddrV4::new(ADDR_B, PORT));
    let cc = cc.to_string();
    let sender = spawn_in(&path.ns[0], "kernel-send", move || {
        kernel_send_until(to, &cc, &st)
    })?;
    let mbps = receiver
        .join()
        .map_err(|_| "receiver panicked".to_string())?;
    stop.store(true, Ordering::Relaxed);
    let sent = join(sender);
    let mbps = mbps?;
    sent?;
    Ok(WanRun {
        mbps,
        rtt_ms: path.rtt_ms(),
    })
}

/// A tokio runtime of one thread for synack's end (driver and application together).
fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(io_err("tokio runtime"))
}

/// synack at `addr` on a channel end of the link, with the runtime's defaults but for
/// the congestion control `cc`.
fn synack_stack(
    ingress: Ingress,
    rx: tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>,
    addr: Ipv4Addr,
    cc: &Algorithm,
) -> Result<NetStack, String> {
    NetStack::builder()
        .config(synack_core::Config {
            congestion: cc.clone(),
            ..synack_core::Config::default()
        })
        .address(addr.into())
        .build(synack_link::StackPort::new(ingress, rx, MTU))
        .map_err(io_err("synack stack"))
}

/// synack's receiving end: accept, read and check for `secs`, then set `stop`.
async fn synack_receive_for(stack: &NetStack, secs: f64, stop: &AtomicBool) -> Result<f64, String> {
    let l = TcpListener::bind(stack, SocketAddrV4::new(ADDR_B, PORT))
        .await
        .map_err(io_err("synack bind"))?;
    let (mut s, _) = tokio::time::timeout(STALL, l.accept())
        .await
        .map_err(|_| "synack accept timed out".to_string())?
        .map_err(io_err("synack accept"))?;
    let pattern = Pattern::new(SEED);
    let start = Instant::now();
    let span = Duration::from_secs_f64(secs);
    let mut buf = vec![0u8; CHUNK];
    let mut got = 0u64;
    let result = loop {
        let left = span.saturating_sub(start.elapsed());
        if left.is_zero() {
            break Ok(got as f64 * 8.0 / start.elapsed().as_secs_f64() / 1e6);
        }
        match tokio::time::timeout(left.min(STALL), s.read(&mut buf)).await {
            Err(_) if start.elapsed() >= span => {}
            Err(_) => break Err(format!("synack receive stalled at byte {got}")),
            Ok(Ok(0)) => break Err(format!("synack receive: the sender closed at byte {got}")),
            Ok(Ok(k)) => {
                if !pattern.matches(got, &buf[..k]) {
                    break Err(format!("synack received corrupted data near byte {got}"));
                }
                got += k as u64;
            }
            Ok(Err(e)) => break Err(format!("synack receive: {e}")),
        }
    };
    stop.store(true, Ordering::Relaxed);
    drop(s);
    result
}

/// synack's sending end: write the pattern to `to` until `stop`.
async fn synack_send_until(
    stack: &NetStack,
    to: SocketAddrV4,
    stop: &AtomicBool,
) -> Result<u64, String> {
    let mut c = tokio::time::timeout(STALL, TcpStream::connect(stack, to))
        .await
        .map_err(|_| "synack connect timed out".to_string())?
        .map_err(io_err("synack connect"))?;
    let pattern = Pattern::new(SEED);
    let mut sent = 0u64;
    let mut last = Instant::now();
    let trace = std::env::var_os("SYNACK_WAN_TRACE").is_some();
    let start = Instant::now();
    let mut next_tick = 0.0f64;
    while !stop.load(Ordering::Relaxed) {
        if trace && start.elapsed().as_secs_f64() >= next_tick {
            if let Ok(i) = c.info() {
                eprintln!(
                    "tx {next_tick:.1} wnd {} sq {} buf {} cwnd {} ssthresh {} srtt_ms {:.1} acked {} rtx {} fast {} rto {} lostrtx {} spurious {} dsacks {}",
                    i.snd_wnd,
                    i.send_queue,
                    i.buffer_bytes,
                    i.cwnd,
                    i.ssthresh,
                    i.srtt.map_or(0.0, |d| d.as_micros() as f64 / 1000.0),
                    i.stats.bytes_acked,
                    i.stats.segs_retransmitted,
                    i.stats.fast_retransmits,
                    i.stats.timeouts,
                    i.stats.lost_retransmits,
                    i.stats.spurious_recoveries,
                    i.stats.dsacks_received
                );
            }
            next_tick += 0.1;
        }
        match tokio::time::timeout(
            Duration::from_millis(100),
            c.write(pattern.window(sent, CHUNK)),
        )
        .await
        {
            Ok(Ok(n)) => {
                sent += n as u64;
                last = Instant::now();
            }
            Ok(Err(_)) if stop.load(Ordering::Relaxed) => break,
            Ok(Err(e)) => return Err(format!("synack send: {e}")),
            Err(_) if last.elapsed() > STALL => {
                return Err(format!("synack send stalled at byte {sent}"))
            }
            Err(_) => {}
        }
    }
    if trace {
        eprintln!("synack sender: {:?}", c.info());
    }
    Ok(sent)
}

/// Kernel → synack over `profile`, the kernel sending with `cc` (a Linux name).
pub(crate) fn kernel_to_synack(
    p: &Profile,
    secs: f64,
    cc: &'static str,
    seed: u64,
) -> Result<WanRun, String> {
    let (to_b, rx) = synack_link::channel();
    let (path, ingress) = kernel_inproc_path(p, Box::new(to_b), DataFrom::Kernel, seed)?;
    let stop = Arc::new(AtomicBool::new(false));
    let st = stop.clone();
    let to = SocketAddr::V4(SocketAddrV4::new(ADDR_B, PORT));
    let st2 = stop.clone();
    let mbps = runtime()?.block_on(async move {
        let stack = synack_stack(ingress, rx, ADDR_B, &Algorithm::default())?;
        let sender = spawn_in(&path.ns[0], "kernel-send", move || {
            kernel_send_until(to, cc, &st2)
        })?;
        let r = synack_receive_for(&stack, secs, &st).await;
        st.store(true, Ordering::Relaxed);
        let sent = tokio::task::spawn_blocking(move || join(sender))
            .await
            .map_err(|_| "join".to_string())?;
        let mbps = r?;
        sent?;
        Ok::<_, String>((mbps, path))
    });
    stop.store(true, Ordering::Relaxed);
    let (mbps, path) = mbps?;
    Ok(WanRun {
        mbps,
        rtt_ms: path.rtt_ms(),
    })
}

/// synack → kernel over `profile`, synack's sender running `cc`.
pub(crate) fn synack_to_kernel(
    p: &Profile,
    secs: f64,
    cc: &Algorithm,
    seed: u64,
) -> Result<WanRun, String> {
    let (to_b, rx) = synack_link::channel();
    let (path, ingress) = kernel_inproc_path(p, Box::new(to_b), DataFrom::InProcess, seed)?;
    let l = join(spawn_in(&path.ns[0], "bind", move || {
        std::net::TcpListener::bind(SocketAddrV4::new(ADDR_A, PORT)).map_err(io_err("bind"))
    })?)?;
    let stop = Arc::new(AtomicBool::new(false));
    let st = stop.clone();
    let receiver = std::thread::spawn(move || kernel_receive_for(l, secs, &st));
    let st = stop.clone();
    let cc = cc.clone();
    let sent = runtime()?.block_on(async move {
        let stack = synack_stack(ingress, rx, ADDR_B, &cc)?;
        synack_send_until(&stack, SocketAddrV4::new(ADDR_A, PORT), &st).await
    });
    stop.store(true, Ordering::Relaxed);
    let mbps = receiver
        .join()
        .map_err(|_| "receiver panicked".to_string())??;
    sent?;
    Ok(WanRun {
        mbps,
        rtt_ms: path.rtt_ms(),
    })
}

/// Delivers side B's packets to a kernel's TUN device or to an in-process stack, by
/// destination address (the sharing profile has both on side B).
struct Split {
    kernel: Box<dyn Egress>,
    stack: Box<dyn Egress>,
}

impl Egress for Split {
    fn deliver(&mut self, packet: &[u8]) {
        if packet.len() >= 20 && packet[0] >> 4 == 4 && packet[16..20] == ADDR_C.octets() {
            self.stack.deliver(packet);
        } else {
            self.kernel.deliver(packet);
        }
    }
}

/// P6: one synack flow and one Linux CUBIC flow, both sending from side B to kernel
/// receivers on side A through the same bottleneck for `secs`; returns (synack Mbit/s,
/// CUBIC Mbit/s, mean RTT).
pub(crate) fn sharing(p: &Profile, secs: f64) -> Result<(f64, f64, f64), String> {
    let (ns_a, port_a) = kernel_end("sa", ADDR_A)?;
    let (ns_b, port_b) = kernel_end("sb", ADDR_B)?;
    let (to_stack, rx) = synack_link::channel();
    let mut link = Link::new(p.forward.clone(), p.reverse.clone(), LINK_SEED);
    link.start(
        port_a.egress(),
        Box::new(Split {
            kernel: port_b.egress(),
            stack: Box::new(to_stack),
        }),
    )
    .map_err(io_err("link"))?;
    let readers = vec![
        port_a
            .start_reader(link.ingress(Side::A), MTU, "wan-read-a")
            .map_err(io_err("reader"))?,
        port_b
            .start_reader(link.ingress(Side::B), MTU, "wan-read-b")
            .map_err(io_err("reader"))?,
    ];
    let ingress = link.ingress(Side::B);
    let path = Path {
        readers,
        link,
        ns: vec![ns_a, ns_b],
    };
    let (l1, l2) = join(spawn_in(&path.ns[0], "bind", || {
        let l1 =
            std::net::TcpListener::bind(SocketAddrV4::new(ADDR_A, PORT)).map_err(io_err("bind"))?;
        let l2 = std::net::TcpListener::bind(SocketAddrV4::new(ADDR_A, PORT + 1))
            .map_err(io_err("bind"))?;
        Ok((l1, l2))
    })?)?;
    let (stop_s, stop_k) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let st = stop_s.clone();
    let recv_synack = std::thread::spawn(move || kernel_receive_for(l1, secs, &st));
    let st = stop_k.clone();
    let recv_kernel = std::thread::spawn(move || kernel_receive_for(l2, secs, &st));
    let st = stop_k.clone();
    let to = SocketAddr::V4(SocketAddrV4::new(ADDR_A, PORT + 1));
    let kernel_sender = spawn_in(&path.ns[1], "kernel-send", move || {
        kernel_send_until(to, "cubic", &st)
    })?;
    let st = stop_s.clone();
    let sent = runtime()?.block_on(async move {
        let stack = synack_stack(ingress, rx, ADDR_C, &Algorithm::default())?;
        synack_send_until(&stack, SocketAddrV4::new(ADDR_A, PORT), &st).await
    });
    stop_s.store(true, Ordering::Relaxed);
    let synack = recv_synack
        .join()
        .map_err(|_| "receiver panicked".to_string())?;
    let kernel = recv_kernel
        .join()
        .map_err(|_| "receiver panicked".to_string())?;
    stop_k.store(true, Ordering::Relaxed);
    let k_sent = join(kernel_sender);
    sent?;
    k_sent?;
    Ok((synack?, kernel?, path.rtt_ms()))
}

/// Jain's fairness index of the shares `x`: 1 when equal, 1/n when one takes all.
pub(crate) fn jain(x: &[f64]) -> f64 {
    let sum: f64 = x.iter().sum();
    let sq: f64 = x.iter().map(|v| v * v).sum();
    if sq <= 0.0 {
        0.0
    } else {
        sum * sum / (x.len() as f64 * sq)
    }
}

/// Whether a link of `p` draws at random (loss, jitter, duplication, reordering,
/// corruption): then one seed of the draws is one sample of the path, and a figure
/// is the median over [`WanPlan::seeds`] of them.
fn draws_at_random(p: &Profile) -> bool {
    [&p.forward, &p.reverse].iter().any(|c| {
        c.loss > 0.0
            || c.burst_loss.is_some()
            || !c.jitter.is_zero()
            || c.duplicate > 0.0
            || c.reorder > 0.0
            || c.corrupt > 0.0
    })
}

/// The median by goodput of `first` and `rest` (the run it picks keeps its own RTT);
/// a failure in any of them is the result.
fn median_run<'a>(
    first: &'a Result<WanRun, String>,
    rest: impl Iterator<Item = &'a Result<WanRun, String>>,
) -> Result<WanRun, String> {
    let mut ok = Vec::new();
    for r in std::iter::once(first).chain(rest) {
        ok.push(r.clone()?);
    }
    ok.sort_by(|a, b| a.mbps.total_cmp(&b.mbps));
    Ok(ok[ok.len() / 2])
}

/// The emulator's own capacity: kernel → kernel (CUBIC) through a link with 1 ms of
/// delay each way and no rate limit, so the emulator (and the two kernels) are the
/// only limit.
fn capacity(secs: f64) -> Result<WanRun, String> {
    let clean =
        synack_sim::LinkConfig::with_latency(synack_core::time::Duration::from_millis(1)).mtu(MTU);
    let p = Profile {
        id: "cap",
        name: "capacity",
        rtt: synack_core::time::Duration::from_millis(2),
        rate_bps: 0,
        forward: clean.clone(),
        reverse: clean,
    };
    kernel_to_kernel(&p, "cubic", secs, LINK_SEED)
}

/// Durations of the WAN transfers and synack's senders.
#[derive(Clone, Debug)]
pub(crate) struct WanPlan {
    /// Seconds per single-flow transfer.
    pub(crate) secs: f64,
    /// Seconds of the sharing profile.
    pub(crate) share_secs: f64,
    /// synack's congestion controls in the synack → kernel rows, one row each.
    pub(crate) synack_cc: Vec<Algorithm>,
    /// Profile ids to run (`"P1"` … `"P6"`); empty: every profile.
    pub(crate) profiles: Vec<String>,
    /// Seeds of the link's random draws per single-flow profile that draws at random
    /// (P2, P3, P5): one seed is one sample of such a path (where its losses fall
    /// decides a CUBIC flow's figure), so each figure is the median over this many
    /// seeds, every transfer of the profile run once per seed.
    pub(crate) seeds: usize,
}

impl WanPlan {
    /// Whether the profile `id` is to be measured.
    fn wants(&self, id: &str) -> bool {
        self.profiles.is_empty() || self.profiles.iter().any(|p| p.eq_ignore_ascii_case(id))
    }
}

fn cell(r: &Result<WanRun, String>) -> Figure {
    match r {
        Ok(w) => Figure::Value(w.mbps),
        Err(e) => Figure::NotRun(format!("failed: {e}")),
    }
}

fn short(r: &Result<WanRun, String>, with_rtt: bool) -> String {
    match r {
        Ok(w) if with_rtt => format!("{:.1} Mbit/s (mean RTT {:.1} ms)", w.mbps, w.rtt_ms),
        Ok(w) => format!("{:.1}", w.mbps),
        Err(e) => format!("failed ({e})"),
    }
}

fn rtt(r: &Result<WanRun, String>) -> String {
    match r {
        Ok(w) => format!("{:.1} ms", w.rtt_ms),
        Err(_) => "-".into(),
    }
}

/// Row names.
fn row_name(p: &Profile, dir: &str) -> String {
    format!("WAN {} {}, {dir}", p.id, p.name)
}

/// The direction of a synack → kernel row with synack's sender running `cc`.
fn upload(cc: &Algorithm) -> String {
    format!("synack → kernel, {}", cc.name().to_uppercase())
}

/// The kernel's congestion controls in the kernel → synack (and kernel → smoltcp)
/// rows: CUBIC, and BBR (a download from a BBR server, the default of this kernel and
/// of many large senders).
const KERNEL_SENDERS: [&str; 2] = ["cubic", "bbr"];

/// The direction of a row where the kernel sends to `to` with `cc` (CUBIC's rows keep
/// their original names).
fn download(to: &str, cc: &str) -> String {
    if cc == "cubic" {
        format!("kernel → {to}")
    } else {
        format!("kernel → {to}, kernel {}", cc.to_uppercase())
    }
}

/// The sharing profile's row name.
fn sharing_name() -> String {
    row_name(
        &profiles::p6_sharing(),
        "synack and Linux CUBIC sending at once",
    )
}

/// The WAN rows' names, in order.
fn row_names(synack_cc: &[Algorithm]) -> Vec<String> {
    let mut names = Vec::new();
    for p in profiles::single_flow() {
        names.extend(KERNEL_SENDERS.map(|cc| row_name(&p, &download("synack", cc))));
        names.extend(synack_cc.iter().map(|cc| row_name(&p, &upload(cc))));
    }
    names.push(sharing_name());
    names
}

/// Everything measured on one profile.
struct ProfileRuns {
    /// Kernel → kernel per congestion control (CUBIC and BBR always, then any other
    /// that a synack sender runs), by Linux name.
    kernel: Vec<(&'static str, Result<WanRun, String>)>,
    /// Kernel → synack per [`KERNEL_SENDERS`].
    k2s: [Result<WanRun, String>; 2],
    /// synack → kernel per congestion control of synack's sender.
    s2k: Vec<(Algorithm, Result<WanRun, String>)>,
    /// Kernel → smoltcp per [`KERNEL_SENDERS`].
    k2smol: [Result<WanRun, String>; 2],
    smol2k: Result<WanRun, String>,
}

impl ProfileRuns {
    /// Run every transfer of `p`, reporting each with `say`: once, or on a profile
    /// that draws at random, once per seed of [`WanPlan::seeds`], each figure then
    /// the median over the seeds.
    fn measure(
        p: &Profile,
        plan: &WanPlan,
        say: &dyn Fn(&str, &Result<WanRun, String>),
    ) -> ProfileRuns {
        let seeds = if draws_at_random(p) {
            plan.seeds.max(1)
        } else {
            1
        };
        let runs: Vec<ProfileRuns> = (0..seeds)
            .map(|i| {
                let tag = if seeds > 1 {
                    format!(" (draws {}/{seeds})", i + 1)
                } else {
                    String::new()
                };
                ProfileRuns::measure_once(p, plan, LINK_SEED + i as u64, &tag, say)
            })
            .collect();
        ProfileRuns::median(runs)
    }

    /// Every transfer of `p` once, with the link's random draws from `seed`.
    fn measure_once(
        p: &Profile,
        plan: &WanPlan,
        seed: u64,
        tag: &str,
        say: &dyn Fn(&str, &Result<WanRun, String>),
    ) -> ProfileRuns {
        let mut kernel_cc = vec!["cubic", "bbr"];
        for cc in &plan.synack_cc {
            if !kernel_cc.contains(&cc.name()) {
                kernel_cc.push(cc.name());
            }
        }
        let run = |what: String, r: Result<WanRun, String>| {
            say(&format!("{} {what}{tag}", p.id), &r);
            r
        };
        let secs = plan.secs;
        let kernel = kernel_cc
            .into_iter()
            .map(|cc| {
                let what = format!("kernel → kernel {}", cc.to_uppercase());
                (cc, run(what, kernel_to_kernel(p, cc, secs, seed)))
            })
            .collect();
        let k2s = KERNEL_SENDERS
            .map(|cc| run(download("synack", cc), kernel_to_synack(p, secs, cc, seed)));
        let s2k = plan
            .synack_cc
            .iter()
            .map(|cc| {
                let r = run(upload(cc), synack_to_kernel(p, secs, cc, seed));
                (cc.clone(), r)
            })
            .collect();
        let k2smol = KERNEL_SENDERS.map(|cc| {
            run(
                download("smoltcp", cc),
                wan_smol::kernel_to_smoltcp(p, secs, cc, seed),
            )
        });
        let smol2k = run(
            "smoltcp → kernel".into(),
            wan_smol::smoltcp_to_kernel(p, secs, seed),
        );
        ProfileRuns {
            kernel,
            k2s,
            s2k,
            k2smol,
            smol2k,
        }
    }

    /// Each figure's median over `runs` (all measured alike, on different draws).
    fn median(mut runs: Vec<ProfileRuns>) -> ProfileRuns {
        let mut first = runs.remove(0);
        if runs.is_empty() {
            return first;
        }
        for (i, (_, r)) in first.kernel.iter_mut().enumerate() {
            *r = median_run(r, runs.iter().map(|x| &x.kernel[i].1));
        }
        for (i, r) in first.k2s.iter_mut().enumerate() {
            *r = median_run(r, runs.iter().map(|x| &x.k2s[i]));
        }
        for (i, (_, r)) in first.s2k.iter_mut().enumerate() {
            *r = median_run(r, runs.iter().map(|x| &x.s2k[i].1));
        }
        for (i, r) in first.k2smol.iter_mut().enumerate() {
            *r = median_run(r, runs.iter().map(|x| &x.k2smol[i]));
        }
        first.smol2k = median_run(&first.smol2k, runs.iter().map(|x| &x.smol2k));
        first
    }

    fn kernel(&self, cc: &str) -> Option<&Result<WanRun, String>> {
        self.kernel.iter().find(|(c, _)| *c == cc).map(|(_, r)| r)
    }

    /// One row: synack's figure `ours` against smoltcp's `peer`, with kernel → kernel
    /// running `base_cc` as the baseline; the note gives the profile, every kernel →
    /// kernel figure, and on the bufferbloat profile the mean RTTs under load.
    fn row(
        &self,
        p: &Profile,
        dir: &str,
        ours: &Result<WanRun, String>,
        peer: &Result<WanRun, String>,
        base_cc: &str,
    ) -> Row {
        let kernels = self
            .kernel
            .iter()
            .map(|(cc, r)| format!("{} {}", cc.to_uppercase(), short(r, false)))
            .collect::<Vec<_>>()
            .join(", ");
        let mut note = format!("{}; kernel → kernel: {kernels} Mbit/s", p.describe());
        if p.id == "P4" {
            let kernel_rtts = self
                .kernel
                .iter()
                .map(|(cc, r)| format!("{} {}", cc.to_uppercase(), rtt(r)))
                .collect::<Vec<_>>()
                .join(", ");
            note += &format!(
                "; mean RTT under load: synack's flow {}, smoltcp's {}, {kernel_rtts}",
                rtt(ours),
                rtt(peer)
            );
        }
        let ours_fig = cell(ours);
        let base_fig = self
            .kernel(base_cc)
            .map_or_else(|| Figure::NotRun("not measured".into()), cell);
        let base = Baseline::new(
            format!("kernel → kernel, {}", base_cc.to_uppercase()),
            base_fig,
            &ours_fig,
        );
        Row::new(row_name(p, dir), "Mbit/s", true, ours_fig, cell(peer), note).with_baseline(base)
    }

    /// The profile's rows: kernel → synack with the kernel sending CUBIC, then BBR
    /// (baseline kernel → kernel with the same one, peer kernel → smoltcp with the
    /// same one), then synack → kernel per congestion control of synack's (baseline
    /// kernel → kernel with the same one, peer smoltcp → kernel).
    fn rows(&self, p: &Profile) -> Vec<Row> {
        let mut rows: Vec<Row> = KERNEL_SENDERS
            .iter()
            .zip(self.k2s.iter().zip(&self.k2smol))
            .map(|(cc, (ours, peer))| self.row(p, &download("synack", cc), ours, peer, cc))
            .collect();
        for (cc, r) in &self.s2k {
            rows.push(self.row(p, &upload(cc), r, &self.smol2k, cc.name()));
        }
        rows
    }
}

/// The WAN rows: per profile P1–P5, two rows kernel → synack, the kernel sending with
/// CUBIC and with BBR (peer: kernel → smoltcp with the same one),
/// and one synack → kernel per congestion control of synack's sender (peer:
/// smoltcp → kernel), each with kernel → kernel as the baseline; then P6.
pub(crate) fn rows(plan: WanPlan, progress: bool) -> (Vec<Row>, Vec<String>) {
    if let Some(why) = unavailable() {
        return (not_run(&why, &plan.synack_cc), Vec::new());
    }
    sweep_stale();
    let say = |what: &str, r: &Result<WanRun, String>| {
        if progress {
            eprintln!("  WAN {what}: {}", short(r, true));
        }
    };
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    let cap = capacity(plan.secs.min(3.0));
    say("emulator capacity (kernel → kernel, no rate limit)", &cap);
    for p in profiles::single_flow() {
        if plan.wants(p.id) {
            rows.extend(ProfileRuns::measure(&p, &plan, &say).rows(&p));
        }
    }
    let p6 = profiles::p6_sharing();
    if !plan.wants(p6.id) {
        notes.extend(wan_notes(&plan, &cap));
        return (rows, notes);
    }
    let shared = sharing(&p6, plan.share_secs);
    let row = match &shared {
        Ok((s, k, rtt)) => {
            if progress {
                eprintln!("  WAN P6 sharing: synack {s:.1}, CUBIC {k:.1} Mbit/s");
            }
            Row::new(
                sharing_name(),
                "Mbit/s",
                true,
                Figure::Value(*s),
                Figure::Value(*k),
                format!(
                    "{}; peer column: the Linux CUBIC flow; synack's share {:.0}%, Jain's fairness index {:.3}, mean RTT under load {rtt:.1} ms, {} s",
                    p6.describe(),
                    100.0 * s / (s + k).max(1e-9),
                    jain(&[*s, *k]),
                    plan.share_secs
                ),
            )
        }
        Err(e) => {
            let why = || Figure::NotRun(format!("failed: {e}"));
            Row::new(sharing_name(), "Mbit/s", true, why(), why(), "")
        }
    };
    rows.push(row);
    notes.extend(wan_notes(&plan, &cap));
    (rows, notes)
}

/// The notes under the WAN rows: how they were measured, and the emulator's capacity.
fn wan_notes(plan: &WanPlan, cap: &Result<WanRun, String>) -> Vec<String> {
    let mut notes = Vec::new();
    let senders = plan
        .synack_cc
        .iter()
        .map(|cc| cc.name().to_uppercase())
        .collect::<Vec<_>>()
        .join(" and ");
    notes.push(format!(
        "WAN rows: goodput in Mbit/s at the receiver over {} s per transfer (slow start included), every byte checked; the path is the synack-link emulator (the simulator's link model on the wall clock) between a kernel in a namespace on a plain TUN device (MTU 1500) and the other end; kernel ends sending to synack or smoltcp use CUBIC, and BBR in the rows that say so; synack runs its runtime's defaults on a current-thread tokio runtime, its sender once with each of {senders}; smoltcp has 256 KiB buffers each way (synack's default size) and sends with its CUBIC (feature `socket-tcp-cubic`; its default sender has no congestion control); each row's baseline is kernel → kernel in the same run with the congestion control of the row's sender (the kernel's in the kernel → synack rows); the peer column of P6 is the Linux CUBIC flow sharing the bottleneck; {}",
        plan.secs,
        if plan.seeds > 1 {
            format!("on the profiles whose link draws at random (loss, jitter), every transfer ran once on each of {} seeds of the draws and each figure is the median", plan.seeds)
        } else {
            "the link's random draws come from one fixed seed".to_string()
        }
    ));
    notes.push(format!(
        "WAN emulator capacity: kernel → kernel through the emulator with no rate limit (2 ms RTT): {}",
        short(cap, false) + " Mbit/s"
    ));
    notes
}

/// Every WAN row, not run, saying why.
pub(crate) fn not_run(why: &str, synack_cc: &[Algorithm]) -> Vec<Row> {
    row_names(synack_cc)
        .into_iter()
        .map(|n| Row::not_run(n, "Mbit/s", true, why))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jain_index_is_one_when_equal_and_half_when_one_takes_all() {
        assert!((jain(&[50.0, 50.0]) - 1.0).abs() < 1e-12);
        assert!((jain(&[100.0, 0.0]) - 0.5).abs() < 1e-12);
        assert!((jain(&[60.0, 40.0]) - 100.0 * 100.0 / (2.0 * (3600.0 + 1600.0))).abs() < 1e-12);
    }

    #[test]
    fn only_the_profiles_with_random_draws_take_several_seeds() {
        let random: Vec<&str> = profiles::single_flow()
            .iter()
            .filter(|p| draws_at_random(p))
            .map(|p| p.id)
            .collect();
        assert_eq!(random, ["P2", "P3", "P5"]);
    }

    #[test]
    fn a_figure_over_seeds_is_the_median_run_and_any_failure_fails_it() {
        let at = |mbps: f64| -> Result<WanRun, String> {
            Ok(WanRun {
                mbps,
                rtt_ms: mbps + 100.0,
            })
        };
        let m = median_run(&at(9.0), [at(2.0), at(5.0)].iter()).unwrap();
        assert_eq!((m.mbps, m.rtt_ms), (5.0, 105.0));
        let failed: Result<WanRun, String> = Err("stalled".into());
        assert_eq!(
            median_run(&at(9.0), [failed, at(5.0)].iter()).unwrap_err(),
            "stalled"
        );
    }

    #[test]
    fn rows_that_cannot_run_cover_every_profile() {
        let rows = not_run("needs root: test", &[Algorithm::Cubic, Algorithm::Bbr]);
        assert_eq!(rows.len(), 5 * 4 + 1);
        assert_eq!(
            rows[1].scenario,
            "WAN P1 broadband, kernel → synack, kernel BBR"
        );
        assert_eq!(rows[3].scenario, "WAN P1 broadband, synack → kernel, BBR");
        assert!(rows
            .iter()
            .all(|r| r.synack == Figure::NotRun("needs root: test".into())));
    }

    #[test]
    fn split_routes_by_destination() {
        use std::sync::mpsc;
        struct To(mpsc::Sender<u8>, u8);
        impl Egress for To {
            fn deliver(&mut self, _packet: &[u8]) {
                let _ = self.0.send(self.1);
            }
        }
        let (tx, rx) = mpsc::channel();
        let mut split = Split {
            kernel: Box::new(To(tx.clone(), 1)),
            stack: Box::new(To(tx, 2)),
        };
        let mut pkt = [0u8; 20];
        pkt[0] = 0x45;
        pkt[16..20].copy_from_slice(&ADDR_C.octets());
        split.deliver(&pkt);
        pkt[16..20].copy_from_slice(&ADDR_B.octets());
        split.deliver(&pkt);
        split.deliver(&[0x60; 40]);
        assert_eq!(rx.try_iter().collect::<Vec<_>>(), vec![2, 1, 1]);
    }
}
