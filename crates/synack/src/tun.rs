//! [`TunDevice`]: a Linux TUN device (IP packets, no link header) as a [`Device`],
//! built on the tun-rs crate.
//!
//! The TUN convention: the addresses given are **synack's own**. If the
//! device already exists it is attached and left exactly as configured (addresses,
//! MTU, up/down). If it does not exist it is created, given the MTU, brought up, and
//! the kernel's end gets the first host address of each prefix (`10.0.0.1/24` when
//! synack is `10.0.0.2/24`, `fd00::1/64` for `fd00::2/64`) unless a kernel address is
//! given. A created device disappears when the `TunDevice` is dropped.
//!
//! Reads and writes are batched: after one wakeup every packet the kernel has queued
//! is read (up to the batch size), and a whole batch is written per call.
//!
//! ## Offloads ([`TunConfig::offload`])
//!
//! With offloads the device is opened with `IFF_VNET_HDR` and `TUNSETOFFLOAD`
//! (`TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6`, through tun-rs `offload(true)`). Every
//! packet then crosses the file descriptor behind a 10-byte `struct virtio_net_hdr`
//! (Linux `include/uapi/linux/virtio_net.h`), read and written with one vectored
//! syscall per packet, so nothing is copied to add or strip it:
//!
//! - **receive**: the kernel's TCP hands over TSO/GRO super-segments of up to 64 KiB
//!   (`gso_type` TCPV4/TCPV6). Each goes to the engine whole, as one packet (no
//!   splitting into MTU-sized packets). Packets marked `NEEDS_CSUM` (kernel
//!   generated: only the pseudo-header sum is in the TCP checksum field) or
//!   `DATA_VALID` (kernel verified) are handed over as trusted, so the engine does
//!   not verify their checksum.
//! - **send**: the engine builds TCP super-segments of up to [`Device::tso_max`]
//!   payload bytes (the runtime sets `Config::tso_max`). Each is written with
//!   `gso_type` TCPV4/TCPV6, `gso_size` = the connection's segment payload (from the
//!   engine), `hdr_len` = IP + TCP header, `NEEDS_CSUM` with `csum_start` = IP header
//!   length and `csum_offset` = 16, and the TCP checksum field replaced by the
//!   pseudo-header sum (not complemented), which is what Linux expects of a
//!   `CHECKSUM_PARTIAL` packet. The kernel delivers it locally as one packet or
//!   segments it if it forwards it (and puts PSH/FIN only on the last segment).
//!   Other packets go with an all-zero header and their full checksum.
//!
//! The device's MTU stays as configured (1500 by default): only the kernel and
//! synack exchange super-segments.

use crate::cidr::IpCidr;
use crate::device::{Device, PacketBatch};
use std::io::{self, IoSlice, IoSliceMut};
use std::net::IpAddr;
use std::path::Path;
use tun_rs::{AsyncDevice, DeviceBuilder};

mod fd;

/// Where a [`TunDevice`]'s packets cross: a device tun-rs opened, or a descriptor
/// handed over ([`TunDevice::from_fd`], tun/fd.rs).
enum TunIo {
    Tun(AsyncDevice),
    Fd(tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>),
}

impl TunIo {
    fn try_recv_vectored(&self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        match self {
            TunIo::Tun(d) => d.try_recv_vectored(bufs),
            TunIo::Fd(f) => fd::recv_vectored(f, bufs),
        }
    }

    fn try_recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            TunIo::Tun(d) => d.try_recv(buf),
            TunIo::Fd(f) => fd::recv_vectored(f, &mut [IoSliceMut::new(buf)]),
        }
    }

    fn try_send_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            TunIo::Tun(d) => d.try_send_vectored(bufs),
            TunIo::Fd(f) => fd::send_vectored(f, bufs),
        }
    }

    fn try_send(&self, buf: &[u8]) -> io::Result<usize> {
        match self {
            TunIo::Tun(d) => d.try_send(buf),
            TunIo::Fd(f) => fd::send_vectored(f, &[IoSlice::new(buf)]),
        }
    }

    async fn readable(&self) -> io::Result<()> {
        match self {
            TunIo::Tun(d) => d.readable().await,
            TunIo::Fd(f) => f.readable().await.map(|mut g| g.retain_ready()),
        }
    }

    async fn writable(&self) -> io::Result<()> {
        match self {
            TunIo::Tun(d) => d.writable().await,
            TunIo::Fd(f) => f.writable().await.map(|mut g| g.retain_ready()),
        }
    }
}

/// Largest packet read from the device: an IPv4 packet is at most 65,535 bytes, an
/// IPv6 one 40 more (a GSO super-segment stays within the same limits).
const MAX_READ: usize = 65_535 + 40;

/// Largest TCP payload of a super-segment synack writes with offloads: the largest
/// TCP header (60) plus the IP header still fit the 16-bit IPv4 total length and
/// IPv6 payload length.
const TSO_MAX: usize = 65_535 - 60 - 60;

/// What to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunConfig {
    /// Interface name (at most 15 bytes), e.g. `synack0`.
    pub name: String,
    /// synack's own addresses with their prefixes (`10.0.0.2/24`, `fd00::2/64`); at
    /// most one IPv4 address. Used to configure a device synack creates.
    pub addrs: Vec<IpCidr>,
    /// The kernel's addresses on a created device, per family, overriding the "first
    /// host of the prefix" rule (`--host-addr`).
    pub kernel_addrs: Vec<IpAddr>,
    /// MTU of a created device (default 1500).
    pub mtu: u16,
    /// Use vnet_hdr offloads (TSO/GRO and checksum offload, see the module docs):
    /// receive and send TCP super-segments of up to 64 KiB. Default `false`.
    pub offload: bool,
}

impl TunConfig {
    /// A config for device `name` with synack's own addresses `addrs`.
    pub fn new(name: impl Into<String>, addrs: &[IpCidr]) -> TunConfig {
        TunConfig {
            name: name.into(),
            addrs: addrs.to_vec(),
            kernel_addrs: Vec::new(),
            mtu: 1500,
            offload: false,
        }
    }

    /// The kernel's end for each of synack's addresses on a created device.
    pub fn kernel_side(&self) -> io::Result<Vec<IpCidr>> {
        self.addrs
            .iter()
            .map(|own| {
                match self
                    .kernel_addrs
                    .iter()
                    .find(|k| k.is_ipv4() == own.addr.is_ipv4())
                {
                    Some(k) => IpCidr::new(*k, own.prefix),
                    None => own.peer_host(),
                }
            })
            .collect()
    }
}

/// A Linux TUN device.
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// use synack::{IpCidr, NetStack, TcpListener, TunConfig, TunDevice};
/// // Needs root or CAP_NET_ADMIN. synack is 10.0.0.2; a created device gives the
/// // kernel 10.0.0.1/24.
/// let own: IpCidr = "10.0.0.2/24".parse().unwrap();
/// let mut cfg = TunConfig::new("synack0", &[own]);
/// cfg.offload = true; // TSO/GRO super-segments with the kernel
/// let dev = TunDevice::open(&cfg)?;
/// let stack = NetStack::new(dev, &[own.addr])?;
/// let listener = TcpListener::bind(&stack, "10.0.0.2:80").await?;
/// let (_stream, peer) = listener.accept().await?; // e.g. curl http://10.0.0.2/
/// println!("connection from {peer}");
/// # Ok(())
/// # }
/// ```
pub struct TunDevice {
    dev: TunIo,
    name: String,
    created: bool,
    kernel: Vec<IpCidr>,
    mtu: usize,
    send_errors: u64,
    /// Packets cross the fd behind a virtio-net header.
    offload: bool,
}

impl std::fmt::Debug for TunDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TunDevice")
            .field("name", &self.name)
            .field("created", &self.created)
            .field("kernel", &self.kernel)
            .field("mtu", &self.mtu)
            .field("offload", &self.offload)
            .finish()
    }
}

/// True if a network interface called `name` exists in the calling thread's network
/// namespace.
pub fn interface_exists(name: &str) -> bool {
    // if_nametoindex asks the kernel through a socket of the current namespace
    // (/sys/class/net would show the namespace sysfs was mounted in).
    let Ok(c) = std::ffi::CString::new(name) else {
        return false;
    };
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call.
    unsafe { libc::if_nametoindex(c.as_ptr()) != 0 }
}

impl TunDevice {
    /// Attach to the TUN device `cfg.name` if it exists, otherwise create it (see the
    /// module docs). Must run inside a tokio runtime.
    ///
    /// Errors say what is missing: `/dev/net/tun` (the tun module / a container's
    /// device), the permission (root or CAP_NET_ADMIN), or kernel support for the
    /// offloads when [`TunConfig::offload`] is set.
    pub fn open(cfg: &TunConfig) -> io::Result<TunDevice> {
        if cfg.name.is_empty() || cfg.name.len() > 15 || cfg.name.contains('/') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{:?} is not a valid interface name (1 to 15 bytes)",
                    cfg.name
                ),
            ));
        }
        if cfg.addrs.iter().filter(|a| a.addr.is_ipv4()).count() > 1 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "at most one IPv4 address per TUN device",
            ));
        }
        if !Path::new("/dev/net/tun").exists() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "/dev/net/tun does not exist: load the tun kernel module (modprobe tun), or \
                 in a container pass the device in (e.g. --device /dev/net/tun)",
            ));
        }
        let exists = interface_exists(&cfg.name);
        let mut builder = DeviceBuilder::new()
            .name(cfg.name.clone())
            .offload(cfg.offload);
        let mut kernel = Vec::new();
        if exists {
            builder = builder.inherit_enable_state();
        } else {
            kernel = cfg.kernel_side()?;
            builder = builder.mtu(cfg.mtu).enable(true);
            for k in &kernel {
                builder = match k.addr {
                    IpAddr::V4(a) => builder.ipv4(a, k.prefix, None),
                    IpAddr::V6(a) => builder.ipv6(a, k.prefix),
                };
            }
        }
        let dev = builder
            .build_async()
            .map_err(|e| explain(e, &cfg.name, exists, cfg.offload))?;
        if cfg.offload && !dev.tcp_gso() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!(
                    "TUN device {}: the kernel did not enable the vnet_hdr TCP offloads; \
                     open it without offloads",
                    cfg.name
                ),
            ));
        }
        let mtu = usize::from(dev.mtu().unwrap_or(cfg.mtu));
        Ok(TunDevice {
            dev: TunIo::Tun(dev),
            name: cfg.name.clone(),
            created: !exists,
            kernel,
            mtu,
            send_errors: 0,
            offload: cfg.offload,
        })
    }

    /// The interface name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// True if this call created the device (it goes away when dropped).
    pub fn created(&self) -> bool {
        self.created
    }

    /// The kernel's addresses this device was given (empty when attached).
    pub fn kernel_addrs(&self) -> &[IpCidr] {
        &self.kernel
    }

    /// Packets the kernel refused on write (dropped; TCP retransmits).
    pub fn send_errors(&self) -> u64 {
        self.send_errors
    }

    /// True if packets cross with virtio-net headers (TSO/GRO and checksum offload).
    pub fn offload(&self) -> bool {
        self.offload
    }
}

/// Add what is missing to an error from opening the device.
fn explain(e: io::Error, name: &str, exists: bool, offload: bool) -> io::Error {
    let what = if exists { "attach to" } else { "create" };
    if offload
        && matches!(
            e.raw_os_error(),
            Some(libc::EINVAL) | Some(libc::EOPNOTSUPP) | Some(libc::ENOTTY)
        )
    {
        return io::Error::new(
            io::ErrorKind::Unsupported,
            format!(
                "cannot {what} TUN device {name} with offloads: the kernel refused \
                 IFF_VNET_HDR or TUNSETOFFLOAD (TSO4/TSO6/CSUM) ({e}); open it without \
                 offloads"
            ),
        );
    }
    match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "cannot {what} TUN device {name}: permission denied; this needs root or the \
                 CAP_NET_ADMIN capability (e.g. sudo setcap cap_net_admin+ep on the binary)"
            ),
        ),
        Some(libc::ENOENT) | Some(libc::ENODEV) => io::Error::new(
            io::ErrorKind::NotFound,
            format!("cannot {what} TUN device {name}: /dev/net/tun is unusable ({e}); load the tun module"),
        ),
        Some(libc::EBUSY) | Some(libc::EINVAL) if exists => io::Error::new(
            e.kind(),
            format!(
                "cannot attach to {name}: it is in use or not a TUN device without packet \
                 information / multi-queue ({e})"
            ),
        ),
        _ => io::Error::new(e.kind(), format!("cannot {what} TUN device {name}: {e}")),
    }
}

impl TunDevice {
    /// Read one packet into `batch` without waiting: `Ok(0)` when none was ready
    /// (or it was empty). With offloads the virtio-net header is read into its own
    /// buffer (one `readv`) and turned into the packet's checksum mark.
    fn try_read(&self, batch: &mut PacketBatch) -> io::Result<usize> {
        if !self.offload {
            return batch.push_with(MAX_READ, |buf| self.dev.try_recv(buf));
        }
        let mut hdr = [0u8; vnet::HDR_LEN];
        let n = batch.push_with(MAX_READ, |buf| {
            let mut iov = [IoSliceMut::new(&mut hdr), IoSliceMut::new(buf)];
            let n = self.dev.try_recv_vectored(&mut iov)?;
            Ok(n.saturating_sub(vnet::HDR_LEN))
        })?;
        if n > 0 {
            batch.set_last_checksum_trusted(vnet::RecvHeader::parse(&hdr).checksum_trusted());
        }
        Ok(n)
    }

    /// Write one packet (with its virtio-net header when offloading).
    fn try_write(&self, p: &[u8], segment_size: Option<u16>) -> io::Result<usize> {
        if !self.offload {
            return self.dev.try_send(p);
        }
        match segment_size.and_then(|seg| vnet::Tso::prepare(p, seg)) {
            Some(tso) => {
                let (head, rest) = p.split_at(tso.csum_at);
                let tail = rest.get(2..).unwrap_or_default();
                let iov = [
                    IoSlice::new(&tso.header),
                    IoSlice::new(head),
                    IoSlice::new(&tso.partial_csum),
                    IoSlice::new(tail),
                ];
                self.dev.try_send_vectored(&iov)
            }
            None => {
                let iov = [IoSlice::new(&[0u8; vnet::HDR_LEN]), IoSlice::new(p)];
                self.dev.try_send_vectored(&iov)
            }
        }
    }
}

impl Device for TunDevice {
    async fn recv(&mut self, batch: &mut PacketBatch) -> io::Result<()> {
        // Wait for the first packet. `readable` is cancel safe and the reads do not
        // wait, so a dropped future loses no packet.
        loop {
            self.dev.readable().await?;
            match self.try_read(batch) {
                Ok(n) if n > 0 => break,
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
        // Then take everything else already queued.
        while !batch.is_full() {
            match self.try_read(batch) {
                Ok(n) if n > 0 => {}
                // An error here surfaces on the next call; deliver what we have.
                _ => break,
            }
        }
        Ok(())
    }

    async fn send(&mut self, batch: &PacketBatch) -> io::Result<()> {
        for (i, p) in batch.iter().enumerate() {
            let segment_size = batch.segment_size(i);
            loop {
                match self.try_write(p, segment_size) {
                    Ok(_) => break,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.dev.writable().await?,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        // The kernel refused this packet (bad header, no buffer): drop it.
                        self.send_errors += 1;
                        tracing::debug!("TUN {}: packet dropped on write: {e}", self.name);
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    fn mtu(&self) -> usize {
        self.mtu
    }

    fn tso_max(&self) -> usize {
        if self.offload {
            TSO_MAX
        } else {
            0
        }
    }
}

/// The Linux virtio-net header (`include/uapi/linux/virtio_net.h`) as TUN uses it:
/// 10 bytes, fields in native byte order (a legacy header: `TUNSETVNETLE` unset).
mod vnet {
    /// Size of `struct virtio_net_hdr` (TUN's default `TUNSETVNETHDRSZ`).
    pub(super) const HDR_LEN: usize = 10;
    /// `VIRTIO_NET_HDR_F_NEEDS_CSUM`: checksum from `csum_start`, stored at
    /// `csum_start + csum_offset`, still to be completed (`CHECKSUM_PARTIAL`).
    pub(super) const F_NEEDS_CSUM: u8 = 1;
    /// `VIRTIO_NET_HDR_F_DATA_VALID`: the checksum was verified.
    pub(super) const F_DATA_VALID: u8 = 2;
    /// `VIRTIO_NET_HDR_GSO_TCPV4`.
    pub(super) const GSO_TCPV4: u8 = 1;
    /// `VIRTIO_NET_HDR_GSO_TCPV6`.
    pub(super) const GSO_TCPV6: u8 = 4;
    /// `VIRTIO_NET_HDR_GSO_ECN`: the super-segment has CWR set (first segment only).
    pub(super) const GSO_ECN: u8 = 0x80;
    /// Offset of the checksum field in the TCP header (RFC 9293 §3.1).
    const TCP_CSUM_OFFSET: usize = 16;

    /// The fields of a received header that matter here.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(super) struct RecvHeader {
        pub(super) flags: u8,
        pub(super) gso_type: u8,
        pub(super) gso_size: u16,
    }

    impl RecvHeader {
        pub(super) fn parse(h: &[u8; HDR_LEN]) -> RecvHeader {
            RecvHeader {
                flags: h[0],
                gso_type: h[1],
                gso_size: u16::from_ne_bytes([h[4], h[5]]),
            }
        }

        /// The kernel generated (`NEEDS_CSUM`) or verified (`DATA_VALID`) the
        /// checksums: the engine must not check them (a partial checksum would fail).
        pub(super) fn checksum_trusted(&self) -> bool {
            self.flags & (F_NEEDS_CSUM | F_DATA_VALID) != 0
        }
    }

    /// How to write one TCP super-segment with TSO.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(super) struct Tso {
        /// The virtio-net header to write first.
        pub(super) header: [u8; HDR_LEN],
        /// Offset of the TCP checksum field in the packet.
        pub(super) csum_at: usize,
        /// What goes in that field instead: the pseudo-header sum, folded and not
        /// complemented (Linux `CHECKSUM_PARTIAL`, as `tcp_v4_send_check` leaves it).
        pub(super) partial_csum: [u8; 2],
    }

    impl Tso {
        /// The TSO header for `p`, an IPv4/IPv6 TCP packet to cut into segments of
        /// `seg` payload bytes. `None` if `p` is not such a packet (it is then written
        /// as it is).
        pub(super) fn prepare(p: &[u8], seg: u16) -> Option<Tso> {
            let version = p.first()? >> 4;
            let (ip_len, gso_type) = match version {
                4 => {
                    let ihl = usize::from(p[0] & 0x0f) * 4;
                    if ihl < 20 || *p.get(9)? != 6 {
                        return None;
                    }
                    (ihl, GSO_TCPV4)
                }
                // The engine writes no IPv6 extension headers.
                6 if *p.get(6)? == 6 => (40, GSO_TCPV6),
                _ => return None,
            };
            let tcp_len = p.len().checked_sub(ip_len)?;
            let tcp_hdr = usize::from(p.get(ip_len + 12)? >> 4) * 4;
            if tcp_hdr < 20 || tcp_hdr > tcp_len || seg == 0 {
                return None;
            }
            let cwr = p.get(ip_len + 13)? & 0x80 != 0;
            let sum = pseudo_header_sum(p, version, u32::try_from(tcp_len).ok()?)?;
            let hdr_len = u16::try_from(ip_len + tcp_hdr).ok()?;
            let mut header = [0u8; HDR_LEN];
            header[0] = F_NEEDS_CSUM;
            header[1] = gso_type | if cwr { GSO_ECN } else { 0 };
            header[2..4].copy_from_slice(&hdr_len.to_ne_bytes());
            header[4..6].copy_from_slice(&seg.to_ne_bytes());
            header[6..8].copy_from_slice(&(ip_len as u16).to_ne_bytes());
            header[8..10].copy_from_slice(&(TCP_CSUM_OFFSET as u16).to_ne_bytes());
            Some(Tso {
                header,
                csum_at: ip_len + TCP_CSUM_OFFSET,
                partial_csum: sum.to_be_bytes(),
            })
        }
    }

    /// The one's-complement sum of the TCP pseudo-header (RFC 9293 §3.1 for IPv4,
    /// RFC 8200 §8.1 for IPv6) with TCP length `tcp_len`, folded to 16 bits.
    fn pseudo_header_sum(p: &[u8], version: u8, tcp_len: u32) -> Option<u16> {
        let addrs = match version {
            4 => p.get(12..20)?,
            _ => p.get(8..40)?,
        };
        let mut sum: u32 = addrs
            .chunks_exact(2)
            .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
            .sum();
        sum += 6; // protocol / next header: TCP
        sum += (tcp_len >> 16) + (tcp_len & 0xffff);
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        Some(sum as u16)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        /// An IPv4 TCP packet 10.0.0.2:80 -> 10.0.0.1:5000 with `payload` bytes.
        fn v4_packet(payload: usize, flags: u8) -> Vec<u8> {
            let total = 20 + 32 + payload;
            let mut p = vec![0u8; total];
            p[0] = 0x45;
            p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
            p[8] = 64;
            p[9] = 6;
            p[12..16].copy_from_slice(&[10, 0, 0, 2]);
            p[16..20].copy_from_slice(&[10, 0, 0, 1]);
            p[20..22].copy_from_slice(&80u16.to_be_bytes());
            p[22..24].copy_from_slice(&5000u16.to_be_bytes());
            p[32] = 8 << 4; // data offset: 32 bytes
            p[33] = flags;
            p
        }

        /// Full TCP checksum of an IPv4 packet, computed the plain way.
        fn full_checksum_ok(p: &[u8]) -> bool {
            let mut sum: u64 = 0;
            for w in p[12..20].chunks(2) {
                sum += u64::from(u16::from_be_bytes([w[0], w[1]]));
            }
            sum += 6 + (p.len() - 20) as u64;
            for w in p[20..].chunks(2) {
                let hi = w[0];
                let lo = w.get(1).copied().unwrap_or(0);
                sum += u64::from(u16::from_be_bytes([hi, lo]));
            }
            while sum > 0xffff {
                sum = (sum & 0xffff) + (sum >> 16);
            }
            sum == 0xffff
        }

        #[test]
        fn tso_header_for_an_ipv4_super_segment() {
            let p = v4_packet(4000, 0x18);
            let t = Tso::prepare(&p, 1448).expect("a TCP packet");
            assert_eq!(t.header[0], F_NEEDS_CSUM);
            assert_eq!(t.header[1], GSO_TCPV4);
            assert_eq!(
                u16::from_ne_bytes([t.header[2], t.header[3]]),
                52,
                "hdr_len"
            );
            assert_eq!(u16::from_ne_bytes([t.header[4], t.header[5]]), 1448);
            assert_eq!(u16::from_ne_bytes([t.header[6], t.header[7]]), 20);
            assert_eq!(u16::from_ne_bytes([t.header[8], t.header[9]]), 16);
            assert_eq!(t.csum_at, 36);
            // Completing the partial sum over the TCP bytes (as the kernel does from
            // csum_start) gives a valid checksum.
            let mut q = p.clone();
            q[36..38].copy_from_slice(&t.partial_csum);
            let mut sum: u32 = q[20..]
                .chunks(2)
                .map(|w| u32::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)])))
                .sum();
            while sum > 0xffff {
                sum = (sum & 0xffff) + (sum >> 16);
            }
            q[36..38].copy_from_slice(&(!(sum as u16)).to_be_bytes());
            assert!(full_checksum_ok(&q));
        }

        #[test]
        fn tso_header_marks_ecn_and_ipv6() {
            let p = v4_packet(3000, 0x80 | 0x10);
            let t = Tso::prepare(&p, 1000).expect("tcp");
            assert_eq!(t.header[1], GSO_TCPV4 | GSO_ECN);
            let mut v6 = vec![0u8; 40 + 20 + 3000];
            v6[0] = 0x60;
            v6[6] = 6;
            v6[40 + 12] = 5 << 4;
            let t6 = Tso::prepare(&v6, 1200).expect("tcp over ipv6");
            assert_eq!(t6.header[1], GSO_TCPV6);
            assert_eq!(t6.csum_at, 56);
            assert_eq!(u16::from_ne_bytes([t6.header[2], t6.header[3]]), 60);
            // Zero addresses: the sum is protocol + length only.
            assert_eq!(u16::from_be_bytes(t6.partial_csum), 6 + 3020);
        }

        #[test]
        fn tso_header_refuses_what_is_not_tcp() {
            let mut udp = v4_packet(100, 0);
            udp[9] = 17;
            assert_eq!(Tso::prepare(&udp, 1000), None);
            assert_eq!(Tso::prepare(&[], 1000), None);
            assert_eq!(Tso::prepare(&[0x45, 0, 0], 1000), None);
            let mut bad = v4_packet(10, 0);
            bad[32] = 15 << 4; // header longer than the packet
            assert_eq!(Tso::prepare(&bad, 1000), None);
            assert_eq!(Tso::prepare(&v4_packet(10, 0), 0), None);
        }

        #[test]
        fn received_header_flags() {
            let mut h = [0u8; HDR_LEN];
            assert!(!RecvHeader::parse(&h).checksum_trusted());
            h[0] = F_NEEDS_CSUM;
            h[1] = GSO_TCPV6;
            h[4..6].copy_from_slice(&1428u16.to_ne_bytes());
            let r = RecvHeader::parse(&h);
            assert!(r.checksum_trusted());
            assert_eq!((r.gso_type, r.gso_size), (GSO_TCPV6, 1428));
            h[0] = F_DATA_VALID;
            assert!(RecvHeader::parse(&h).checksum_trusted());
        }
    }
}
