//! TUN ends of the link: a plain TUN device (no `vnet_hdr`, so no offload
//! super-frames: every packet the kernel hands over is at most one MTU, and loss and
//! rate apply per packet as on a real link), a reader thread per device that feeds
//! its packets into the link, and an [`Egress`] that writes released packets back.
//!
//! The reader waits in `poll(2)` with a timeout so it notices [`TunLink`] being
//! dropped; writes go straight to the device (a TUN write hands the packet to the
//! kernel and does not block).

use crate::emulator::{Egress, Ingress, Link, Side};
use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use tun_rs::{DeviceBuilder, SyncDevice};

/// Packets a TUN device queues for its reader ([`open_plain_tun`] sets it). The
/// default of 500 drops packets of a sender's unpaced bursts (a CUBIC sender in slow
/// start hands the kernel a whole window at once) before the emulator has read
/// them: losses that belong to the host, not to the emulated path.
pub const TX_QUEUE_LEN: u32 = 10_000;

/// Opens (creating it if needed) a plain TUN device called `name` with an MTU of
/// `mtu` and a transmit queue of [`TX_QUEUE_LEN`] packets, without addresses and
/// without offloads. The caller configures it (for example after moving it to
/// another network namespace with `ip link set NAME netns NS`: the descriptor stays
/// valid).
pub fn open_plain_tun(name: &str, mtu: u16) -> io::Result<SyncDevice> {
    DeviceBuilder::new()
        .name(name)
        .mtu(mtu)
        .with(|b| {
            b.tx_queue_len(TX_QUEUE_LEN);
        })
        .build_sync()
        .map_err(|e| io::Error::other(format!("TUN device {name}: {e}")))
}

/// One TUN device as an end of a link: [`egress`](TunPort::egress) writes what the
/// link releases to it, [`start_reader`](TunPort::start_reader) feeds what its kernel
/// sends into the link.
#[derive(Clone)]
pub struct TunPort {
    dev: Arc<SyncDevice>,
    write_errors: Arc<AtomicU64>,
}

impl TunPort {
    /// The port of `dev`.
    pub fn new(dev: SyncDevice) -> TunPort {
        TunPort {
            dev: Arc::new(dev),
            write_errors: Arc::new(AtomicU64::new(0)),
        }
    }

    /// An egress writing to the device (failed writes are counted in
    /// [`write_errors`](TunPort::write_errors)).
    pub fn egress(&self) -> Box<dyn Egress> {
        Box::new(TunEgress {
            dev: self.dev.clone(),
            errors: self.write_errors.clone(),
        })
    }

    /// Writes to the device that failed.
    pub fn write_errors(&self) -> u64 {
        self.write_errors.load(Ordering::Relaxed)
    }

    /// Starts a thread reading every packet of the device into `ingress`; it stops
    /// when the returned [`Reader`] is stopped or dropped. `mtu` sizes its buffer.
    pub fn start_reader(&self, ingress: Ingress, mtu: usize, name: &str) -> io::Result<Reader> {
        let stop = Arc::new(AtomicBool::new(false));
        let (dev, flag) = (self.dev.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || pump(&dev, &ingress, &flag, mtu))?;
        Ok(Reader {
            stop,
            thread: Some(thread),
        })
    }
}

/// A TUN reader thread; stopped and joined when dropped.
pub struct Reader {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl Reader {
    /// True once the thread has ended (its device failed).
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Stops the thread; returns its error, if it had one.
    pub fn stop(mut self) -> io::Result<()> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> io::Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take().map(JoinHandle::join) {
            None | Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(e))) => Err(e),
            Some(Err(_)) => Err(io::Error::other("a TUN reader panicked")),
        }
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

/// Writes released packets to a TUN device, counting the writes that failed.
struct TunEgress {
    dev: Arc<SyncDevice>,
    errors: Arc<AtomicU64>,
}

impl Egress for TunEgress {
    fn deliver(&mut self, packet: &[u8]) {
        if self.dev.send(packet).is_err() {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Reads every packet of `dev` into `ingress` until `stop`.
fn pump(dev: &SyncDevice, ingress: &Ingress, stop: &AtomicBool, mtu: usize) -> io::Result<()> {
    dev.set_nonblocking(true)?;
    let mut buf = vec![0u8; mtu.max(1500) + 64];
    let mut pfd = libc::pollfd {
        fd: dev.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    while !stop.load(Ordering::Relaxed) {
        match dev.recv(&mut buf) {
            Ok(n) if n > 0 => ingress.send(&buf[..n]),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                // SAFETY: one valid pollfd for the duration of the call.
                let rc = unsafe { libc::poll(&mut pfd, 1, 100) };
                if rc < 0 {
                    let e = io::Error::last_os_error();
                    if e.kind() != io::ErrorKind::Interrupted {
                        return Err(e);
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A running link between two TUN devices; stops (threads joined) when dropped.
pub struct TunLink {
    /// Declared first: the readers stop before the link.
    readers: Vec<Reader>,
    ports: [TunPort; 2],
    link: Link,
}

impl TunLink {
    /// Joins `a` and `b` with `link`: what `a`'s kernel sends goes through the A → B
    /// direction and is written to `b`, and the other way round. `mtu` sizes the read
    /// buffers.
    pub fn start(mut link: Link, a: SyncDevice, b: SyncDevice, mtu: usize) -> io::Result<TunLink> {
        let ports = [TunPort::new(a), TunPort::new(b)];
        link.start(ports[0].egress(), ports[1].egress())?;
        let readers = vec![
            ports[0].start_reader(link.ingress(Side::A), mtu, "link-read-a")?,
            ports[1].start_reader(link.ingress(Side::B), mtu, "link-read-b")?,
        ];
        Ok(TunLink {
            readers,
            ports,
            link,
        })
    }

    /// The link (for its counters).
    pub fn link(&self) -> &Link {
        &self.link
    }

    /// Writes to a device that failed.
    pub fn write_errors(&self) -> u64 {
        self.ports.iter().map(TunPort::write_errors).sum()
    }

    /// True once a reader thread has ended (its device failed).
    pub fn reader_failed(&self) -> bool {
        self.readers.iter().any(Reader::is_finished)
    }

    /// Stops the readers and the link; returns the first reader error, if any.
    pub fn stop(mut self) -> io::Result<()> {
        let mut result = Ok(());
        for r in self.readers.drain(..) {
            let e = r.stop();
            if result.is_ok() {
                result = e;
            }
        }
        self.link.stop();
        result
    }
}
