//! A TUN device handed over as a file descriptor (issue 15 item 4): Android's
//! `VpnService.Builder.establish()`, a privileged helper that opened the device and
//! passed it over a Unix socket, a descriptor inherited from a parent. The descriptor
//! must carry plain IP packets (`IFF_TUN | IFF_NO_PI`); whether packets cross it
//! behind a virtio-net header (`IFF_VNET_HDR`) is read from the kernel with
//! `TUNGETIFF`, or declared by the caller when the descriptor is not a TUN device the
//! kernel can describe (a socket pair in tests, a sandbox that forbids the ioctl).
//!
//! tun-rs adopts descriptors only without `IFF_VNET_HDR` (it cannot learn the framing
//! from them), so this module does its I/O on the descriptor itself through tokio's
//! `AsyncFd`: `read`/`readv`/`write`/`writev`, each one packet.

use super::{TunDevice, TunIo};
use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, OwnedFd};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// `TUNGETIFF`: `_IOR('T', 210, unsigned int)`.
const TUNGETIFF: libc::c_ulong = 0x8004_54d2;
/// `TUNSETOFFLOAD`: `_IOW('T', 208, unsigned int)`.
const TUNSETOFFLOAD: libc::c_ulong = 0x4004_54d0;
/// `TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6`.
const OFFLOADS: libc::c_ulong = 0x01 | 0x02 | 0x04;
/// `IFF_VNET_HDR`.
const IFF_VNET_HDR: libc::c_short = 0x4000;

/// What `TUNGETIFF` says of a descriptor: its interface name and flags.
fn tun_getiff(fd: &OwnedFd) -> io::Result<(String, libc::c_short)> {
    // SAFETY: ifreq is plain C storage; zeroed is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    // SAFETY: a live descriptor and writable request storage of the size the ioctl
    // writes (struct ifreq).
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), TUNGETIFF as _, &mut req) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: TUNGETIFF succeeded, so ifr_name is NUL-terminated and the flags are set.
    let name = unsafe { std::ffi::CStr::from_ptr(req.ifr_name.as_ptr()) }
        .to_string_lossy()
        .into_owned();
    // SAFETY: as above.
    let flags = unsafe { req.ifr_ifru.ifru_flags };
    Ok((name, flags))
}

impl TunDevice {
    /// Use an open TUN descriptor (taken over: it is closed when the device is
    /// dropped). `offload`: `None` asks the kernel (`TUNGETIFF`) whether the
    /// descriptor has `IFF_VNET_HDR` and, if so, enables the TCP offloads on it
    /// (`TUNSETOFFLOAD`: CSUM, TSO4, TSO6; see the module docs of [`TunDevice`]);
    /// `Some(b)` declares it, for a descriptor the kernel cannot describe. `mtu` is
    /// the device's MTU (the largest packet synack sends without offloads). The
    /// descriptor must deliver packets without the 4-byte packet information header
    /// (`IFF_NO_PI`, what Android and tun-rs use), which `TUNGETIFF` cannot report.
    /// Must run inside a tokio runtime.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// use std::os::fd::{FromRawFd, OwnedFd};
    /// use synack::{NetStack, TunDevice};
    /// // A descriptor from a VPN service or a privileged helper (here: number 3).
    /// // SAFETY: descriptor 3 is an open TUN device this process owns.
    /// let fd = unsafe { OwnedFd::from_raw_fd(3) };
    /// let dev = TunDevice::from_fd(fd, 1500, None)?;
    /// let stack = NetStack::new(dev, &["10.0.0.2".parse().unwrap()])?;
    /// # drop(stack);
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_fd(fd: OwnedFd, mtu: usize, offload: Option<bool>) -> io::Result<TunDevice> {
        let described = tun_getiff(&fd);
        let (name, vnet) = match (&described, offload) {
            (Ok((name, flags)), None) => (name.clone(), flags & IFF_VNET_HDR != 0),
            (Ok((name, _)), Some(b)) => (name.clone(), b),
            (Err(_), Some(b)) => (format!("fd {}", fd.as_raw_fd()), b),
            (Err(e), None) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!(
                        "fd {} is not a TUN device the kernel can describe (TUNGETIFF: {e}); \
                         declare its offload state to use it anyway",
                        fd.as_raw_fd()
                    ),
                ))
            }
        };
        if vnet && described.is_ok() {
            // SAFETY: a live TUN descriptor; the argument is passed by value.
            let r = unsafe { libc::ioctl(fd.as_raw_fd(), TUNSETOFFLOAD as _, OFFLOADS) };
            if r < 0 {
                let e = io::Error::last_os_error();
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    format!("TUN {name}: the kernel refused TUNSETOFFLOAD (CSUM/TSO4/TSO6): {e}"),
                ));
            }
        }
        set_nonblocking(&fd)?;
        // SAFETY: an OwnedFd stays open, and is the same descriptor, for as long as
        // the AsyncFd owns it.
        let fd = unsafe { AsyncFd::register(fd) }.map_err(io::Error::from)?;
        Ok(TunDevice {
            dev: TunIo::Fd(fd),
            name,
            created: false,
            kernel: Vec::new(),
            mtu,
            send_errors: 0,
            offload: vnet,
        })
    }
}

fn set_nonblocking(fd: &OwnedFd) -> io::Result<()> {
    // SAFETY: fcntl on a live descriptor with integer arguments.
    unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// One `read`/`readv`/`write`/`writev` on the descriptor; `WouldBlock` clears tokio's
/// readiness so the next `readable`/`writable` waits for the kernel.
pub(super) fn recv_vectored(
    fd: &AsyncFd<OwnedFd>,
    bufs: &mut [IoSliceMut<'_>],
) -> io::Result<usize> {
    fd.try_io(Interest::READABLE, |fd| {
        // SAFETY: IoSliceMut is ABI-compatible with iovec; the slices are writable for
        // their lengths during the call.
        let n = unsafe {
            libc::readv(
                fd.as_raw_fd(),
                bufs.as_mut_ptr().cast::<libc::iovec>(),
                bufs.len() as libc::c_int,
            )
        };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    })
}

/// See [`recv_vectored`].
pub(super) fn send_vectored(fd: &AsyncFd<OwnedFd>, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    fd.try_io(Interest::WRITABLE, |fd| {
        // SAFETY: IoSlice is ABI-compatible with iovec; the slices are readable for
        // their lengths during the call.
        let n = unsafe {
            libc::writev(
                fd.as_raw_fd(),
                bufs.as_ptr().cast::<libc::iovec>(),
                bufs.len() as libc::c_int,
            )
        };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    })
}
