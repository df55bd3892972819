//! # synack-core
//!
//! The sans-IO TCP/UDP engine. No I/O, no clock reads, no RNG: time arrives as `now`, and
//! randomness (the ISN and port keys) is injected. See [`Stack`] for the driving order.

pub mod buffer;
pub mod cc;
pub mod isn;
pub mod ports;
pub mod rtt;
pub mod seq;
pub mod state;
pub mod time;
pub mod timer;
pub mod trace;

pub use seq::Seq;
pub use state::State;
pub use time::{Duration, Instant};

mod challenge;
pub mod config;
pub mod error;
mod hash;
mod memory;
mod stack;
mod tcp;
pub mod udp;

pub use config::{Config, Keepalive};
pub use error::{ConnError, ConnectError, ListenError, RecvError, SendError};
pub use stack::{
    ConnHandle, DecideError, Event, ListenerHandle, Stack, StackStats, SynDecision, SynRequest,
    Transmit,
};
pub use tcp::fastopen;
pub use tcp::syncookie::SynCookies;
pub use tcp::{ConnInfo, ConnStats, SocketOptions};
pub use udp::{Datagram, UdpError, UdpEvent, UdpHandle, UdpStats};
