//! [`TunDevice`]: a Linux TUN device (IP packets, no link header) as a [`Device`],
//! built on the tun-rs crate.
//!
//! The TUN convention (DESIGN.md): the addresses given are **synack's own**. If the
//! device already exists it is attached and left exactly as configured (addresses,
//! MTU, up/down). If it does not exist it is created, given the MTU, brought up, and
//! the kernel's end gets the first host address of each prefix (`10.0.0.1/24` when
//! synack is `10.0.0.2/24`, `fd00::1/64` for `fd00::2/64`) unless a kernel address is
//! given. A created device disappears when the `TunDevice` is dropped.
//!
//! Reads and writes are batched: after one wakeup every packet the kernel has queued
//! is read (up to the batch size), and a whole batch is written per call.
//!
//! Offloads (vnet_hdr: TSO / GRO) are not used yet: [`TunConfig::offload`] is the
//! place for them. The plan for the later work: open with `IFF_VNET_HDR`
//! (tun-rs `offload(true)`), hand each received 64 KiB super-segment to the engine as
//! one packet (it accepts them) instead of splitting it, and let the engine emit
//! super-segments (`Config::tso_max`) written with a virtio-net header.

use crate::cidr::IpCidr;
use crate::device::{Device, PacketBatch};
use std::io;
use std::net::IpAddr;
use std::path::Path;
use tun_rs::{AsyncDevice, DeviceBuilder};

/// Largest packet read from the device (an IPv4/IPv6 packet is at most this long).
const MAX_READ: usize = 65_535;

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
    /// Reserved for vnet_hdr offloads (TSO/GRO), which a later change implements.
    /// Must be `false` for now.
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
pub struct TunDevice {
    dev: AsyncDevice,
    name: String,
    created: bool,
    kernel: Vec<IpCidr>,
    mtu: usize,
    send_errors: u64,
}

impl std::fmt::Debug for TunDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TunDevice")
            .field("name", &self.name)
            .field("created", &self.created)
            .field("kernel", &self.kernel)
            .field("mtu", &self.mtu)
            .finish()
    }
}

/// True if a network interface called `name` exists.
pub fn interface_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

impl TunDevice {
    /// Attach to the TUN device `cfg.name` if it exists, otherwise create it (see the
    /// module docs). Must run inside a tokio runtime.
    ///
    /// Errors say what is missing: `/dev/net/tun` (the tun module / a container's
    /// device), or the permission (root or CAP_NET_ADMIN).
    pub fn open(cfg: &TunConfig) -> io::Result<TunDevice> {
        if cfg.offload {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "TUN offloads (vnet_hdr TSO/GRO) are not implemented yet",
            ));
        }
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
        let mut builder = DeviceBuilder::new().name(cfg.name.clone());
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
            .map_err(|e| explain(e, &cfg.name, exists))?;
        let mtu = usize::from(dev.mtu().unwrap_or(cfg.mtu));
        Ok(TunDevice {
            dev,
            name: cfg.name.clone(),
            created: !exists,
            kernel,
            mtu,
            send_errors: 0,
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
}

/// Add what is missing to an error from opening the device.
fn explain(e: io::Error, name: &str, exists: bool) -> io::Error {
    let what = if exists { "attach to" } else { "create" };
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

impl Device for TunDevice {
    async fn recv(&mut self, batch: &mut PacketBatch) -> io::Result<()> {
        // Wait for the first packet. `readable` is cancel safe and `try_recv` does not
        // wait, so a dropped future loses no packet.
        loop {
            self.dev.readable().await?;
            match batch.push_with(MAX_READ, |buf| self.dev.try_recv(buf)) {
                Ok(n) if n > 0 => break,
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
        // Then take everything else already queued.
        while !batch.is_full() {
            match batch.push_with(MAX_READ, |buf| self.dev.try_recv(buf)) {
                Ok(n) if n > 0 => {}
                // An error here surfaces on the next call; deliver what we have.
                _ => break,
            }
        }
        Ok(())
    }

    async fn send(&mut self, batch: &PacketBatch) -> io::Result<()> {
        for p in batch.iter() {
            loop {
                match self.dev.try_send(p) {
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
}
