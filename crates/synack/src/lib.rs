//! # synack
//!
//! The tokio runtime of the synack TCP/IP stack: the sans-IO engine
//! ([`synack_core::Stack`]) driven by one task over a packet [`Device`], with sockets
//! shaped like `tokio::net`:
//!
//! - [`NetStack`] (built with [`NetStack::builder`]) owns the engine and the driver;
//! - [`TcpListener::bind`] / [`TcpListener::accept`], [`TcpStream::connect`], with
//!   `AsyncRead` / `AsyncWrite`, `split` / `into_split`, `set_nodelay`, `set_linger`,
//!   [`TcpStream::info`];
//! - [`TcpListener::intercept`] accepts connections to any destination (VPN /
//!   tun2socks); each stream's `local_addr()` is the original destination; with
//!   [`TcpListener::decide_at_syn`] each SYN waits as a [`SynRequest`] until the
//!   application accepts, refuses (RST), drops or answers it unreachable (ICMP);
//! - [`RawPackets`] ([`NetStack::raw_packets`]): the packets the stack does not
//!   handle, and packets of the application's own injected whole;
//! - [`UdpSocket`] (`bind`, `connect`, `send_to` / `recv_from`, `send` / `recv`) and
//!   [`UdpIntercept`], which yields datagrams to any destination with their original
//!   destination and replies as it; the stack answers pings to its addresses;
//! - devices: [`MemoryDevice::pair`] (two stacks back to back, for tests) and, on
//!   Linux, [`TunDevice`];
//! - a pcap capture of the device ([`NetStackBuilder::capture`]) and a live trace hook
//!   ([`NetStackBuilder::on_trace`]).
//!
//! ```
//! use synack::{MemoryDevice, NetStack, TcpListener, TcpStream};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let (dev_a, dev_b) = MemoryDevice::pair();
//! let a = NetStack::new(dev_a, &["10.0.0.1".parse().unwrap()])?;
//! let b = NetStack::new(dev_b, &["10.0.0.2".parse().unwrap()])?;
//! let listener = TcpListener::bind(&b, "10.0.0.2:7").await?;
//! let server = tokio::spawn(async move {
//!     let (mut s, _) = listener.accept().await?;
//!     let mut buf = [0u8; 5];
//!     s.read_exact(&mut buf).await?;
//!     s.write_all(&buf).await?;
//!     std::io::Result::Ok(())
//! });
//! let mut c = TcpStream::connect(&a, "10.0.0.2:7").await?;
//! c.write_all(b"hello").await?;
//! let mut back = [0u8; 5];
//! c.read_exact(&mut back).await?;
//! assert_eq!(&back, b"hello");
//! server.await.unwrap()?;
//! # Ok(())
//! # }
//! ```

//!
//! ## Choosing a runtime
//!
//! The stack runs on whichever tokio runtime spawns it. For throughput on a machine
//! with few cores, prefer a current-thread runtime: the driver and the application
//! then share one thread, so the application reads bytes the driver has just written
//! on the same core and no wake-up crosses threads. On the 2-core machine of
//! `BENCHMARKS.md`, kernel → synack over TUN went from 10.9–12.4 to 13.6–16.0 Gbit/s
//! and synack → kernel from 27.4–29.4 to 30.6–36.5 Gbit/s when the benchmark moved
//! from a two-worker runtime to a current-thread one. A multi-thread runtime still
//! helps when the application itself has CPU-heavy work to spread.

mod addr;
pub mod apps;
mod capture;
mod cidr;
mod decide;
mod device;
mod driver;
mod error;
pub mod forward;
mod listener;
mod lossy;
mod memory;
mod raw;
mod runtime;
mod socket;
mod stream;
#[cfg(target_os = "linux")]
mod tun;
mod udp;
mod udp_decide;

pub use addr::{ToSocketAddr, ToSocketAddrs};
pub use cidr::IpCidr;
pub use decide::SynRequest;
pub use device::{Device, PacketBatch};
pub use listener::TcpListener;
pub use lossy::LossyDevice;
pub use memory::{MemoryDevice, DEFAULT_QUEUE_PACKETS};
pub use raw::RawPackets;
pub use runtime::{NetStack, NetStackBuilder};
pub use socket::TcpSocket;
pub use stream::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, ReuniteError, TcpStream, WriteHalf};
#[cfg(target_os = "linux")]
pub use tun::{interface_exists, TunConfig, TunDevice};
pub use udp::{UdpIntercept, UdpSocket};
pub use udp_decide::UdpFlowRequest;

pub use synack_core::trace;
pub use synack_core::trace::TraceEvent;
pub use synack_core::{
    Config, ConnError, ConnInfo, SocketOptions, StackStats, State, UdpError, UdpStats,
};

/// Two connected streams over an in-memory device pair (10.0.0.1 ↔ 10.0.0.2), for
/// the examples in this crate's documentation.
#[doc(hidden)]
pub async fn doc_pair() -> std::io::Result<(TcpStream, TcpStream)> {
    let (a, b) = MemoryDevice::pair();
    let a = NetStack::new(a, &[std::net::Ipv4Addr::new(10, 0, 0, 1).into()])?;
    let b = NetStack::new(b, &[std::net::Ipv4Addr::new(10, 0, 0, 2).into()])?;
    let listener = TcpListener::bind(&b, ("10.0.0.2", 7)).await?;
    let client = TcpStream::connect(&a, ("10.0.0.2", 7)).await?;
    let (server, _) = listener.accept().await?;
    Ok((client, server))
}
