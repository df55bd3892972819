//! # synack-sim
//!
//! A deterministic discrete-event network simulator. [`Host`]s (a `synack-core` stack
//! behind an adapter, or a toy) exchange IP packets over point-to-point links whose two
//! directions each have their own impairments ([`LinkConfig`]: latency, jitter, loss,
//! bursty loss, duplication, reordering, corruption, bandwidth with a drop-tail queue,
//! MTU, partitions) and counters ([`LinkStats`]). Time is virtual, events at the same
//! instant run in scheduling order, and all randomness comes from the run's seed, so a
//! run replays exactly.
//!
//! Packets can be captured in memory or as pcap ([`CapturePoint`]), watched as they go
//! ([`Observer`]), and logged per packet with their fate ([`PacketLog`]).
//!
//! The link model is public as [`LinkPath`] (one direction: `transmit(now, len)` gives
//! the packet's fate and arrival instants), so a real-time emulator (`synack-link`)
//! runs the same code on a wall clock; [`profiles`] holds the WAN paths both use.

mod event;
pub mod host;
pub mod ip;
pub mod link;
pub mod network;
pub mod pcap;
pub mod profiles;
pub mod rng;
pub mod trace;

pub use host::Host;
pub use link::{
    Arrival, DropReason, GilbertElliott, LinkConfig, LinkPath, LinkStats, Partition, Verdict,
};
pub use network::{CaptureId, HostId, LinkId, Network, NetworkStats, RunOutcome};
pub use pcap::{read_pcap, write_pcap, CapturePoint, CapturedPacket, PcapSink};
pub use rng::SimRng;
pub use trace::{Fate, LinkEvent, LinkEventKind, Observer, PacketId, PacketLog, PacketRecord};
pub mod demo;
pub mod stack_host;
pub mod transfer;

pub use stack_host::{App, NoApp, StackHost};
pub use transfer::{ClosePolicy, Role, Transfer};
