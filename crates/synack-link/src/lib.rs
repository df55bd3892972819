//! # synack-link
//!
//! A WAN link emulator for real time, for kernels without `sch_netem` (and for tests
//! and benchmarks that want the same path every run). The impairment code is the
//! simulator's link model ([`synack_sim::link::LinkPath`]), not a second copy: each
//! direction of a [`Link`] is a `LinkPath` fed the wall clock (mapped onto the
//! engine's `Instant` by [`Clock`]), so a profile behaves the same in virtual and in
//! real time.
//!
//! - [`emulator`]: the two directions, their release queues and the precise release
//!   threads;
//! - [`tun`] (Linux): plain TUN devices as the ends (`synack link --a tunA --b tunB`);
//! - [`port`]: in-process ends (a `synack::NetStack` over [`StackPort`], or any stack
//!   reading a channel);
//! - [`spec`]: impairments written as text (`25ms`, `100mbit`, `1bdp`, `1%`).

pub mod clock;
pub mod emulator;
pub mod port;
pub mod spec;
#[cfg(target_os = "linux")]
pub mod tun;

pub use clock::Clock;
pub use emulator::{Egress, Ingress, Link, Side, Timing};
pub use port::{channel, ChannelEgress, StackPort};
pub use spec::{link_configs, DirSpec};
#[cfg(target_os = "linux")]
pub use tun::{open_plain_tun, Reader, TunLink, TunPort};
