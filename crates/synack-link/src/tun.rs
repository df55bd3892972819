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

/// Opens (creating it if needed) a plain TUN device called `name` with an MTU of
/// `mtu`, without addresses and without offloads. The caller configures it (for
/// example after moving it to another network namespace with `ip link set NAME netns
/// NS`: the descriptor stays valid).
pub fn open_plain_tun(name: &str, mtu: u16) -> io::Result<SyncDevice> {
    DeviceBuilder::new()
        .name(name)
        .mtu(mtu)
        .build_sync()
        .map_err(|e| io::Error::other(format!("TUN device {name}: {e}")))
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
    link: Link,
    stop: Arc<AtomicBool>,
    readers: Vec<JoinHandle<io::Result<()>>>,
    write_errors: Arc<AtomicU64>,
}

impl TunLink {
    /// Joins `a` and `b` with `link`: what `a`'s kernel sends goes through the A → B
    /// direction and is written to `b`, and the other way round. `mtu` sizes the read
    /// buffers.
    pub fn start(mut link: Link, a: SyncDevice, b: SyncDevice, mtu: usize) -> io::Result<TunLink> {
        let (a, b) = (Arc::new(a), Arc::new(b));
        let write_errors = Arc::new(AtomicU64::new(0));
        let egress = |dev: &Arc<SyncDevice>| -> Box<dyn Egress> {
            Box::new(TunEgress {
                dev: dev.clone(),
                errors: write_errors.clone(),
            })
        };
        link.start(egress(&a), egress(&b))?;
        let stop = Arc::new(AtomicBool::new(false));
        let mut readers = Vec::new();
        for (dev, side, name) in [(a, Side::A, "link-read-a"), (b, Side::B, "link-read-b")] {
            let ingress = link.ingress(side);
            let stop = stop.clone();
            readers.push(
                std::thread::Builder::new()
                    .name(name.into())
                    .spawn(move || pump(&dev, &ingress, &stop, mtu))?,
            );
        }
        Ok(TunLink {
            link,
            stop,
            readers,
            write_errors,
        })
    }

    /// The link (for its counters).
    pub fn link(&self) -> &Link {
        &self.link
    }

    /// Writes to a device that failed.
    pub fn write_errors(&self) -> u64 {
        self.write_errors.load(Ordering::Relaxed)
    }

    /// True once a reader thread has ended (its device failed).
    pub fn reader_failed(&self) -> bool {
        self.readers.iter().any(|r| r.is_finished())
    }

    /// Stops the readers and the link; returns the first reader error, if any.
    pub fn stop(mut self) -> io::Result<()> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> io::Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        let mut result = Ok(());
        for r in self.readers.drain(..) {
            match r.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    if result.is_ok() {
                        result = Err(e);
                    }
                }
                Err(_) => result = Err(io::Error::other("a TUN reader panicked")),
            }
        }
        self.link.stop();
        result
    }
}

impl Drop for TunLink {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}
