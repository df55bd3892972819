//! Structured trace events: every segment in and out and every state change, with the
//! numbers a textbook figure needs. The CLI's ladder diagrams and graphs are drawn from
//! these (crate `synack-viz`). A sender's congestion state ([`CongestionTrace`]) is
//! recorded after each ACK that changed it, for cwnd graphs.

use crate::state::State;
use crate::time::Instant;
use alloc::vec::Vec;
use core::net::SocketAddr;
use synack_wire::{TcpFlags, TcpOptions};

/// Which way a segment went, seen from the stack that recorded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Sent by this stack.
    Sent,
    /// Received by this stack.
    Received,
}

/// A segment as the trace records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentTrace {
    /// Sent or received.
    pub dir: Direction,
    /// Control bits.
    pub flags: TcpFlags,
    /// Absolute sequence number.
    pub seq: u32,
    /// Absolute acknowledgment number (meaningful with ACK).
    pub ack: u32,
    /// Window field as on the wire (unscaled).
    pub window: u16,
    /// The window in bytes (scaled by the shift in force), when known.
    pub window_bytes: u32,
    /// Payload length.
    pub len: u32,
    /// Options on the segment.
    pub options: TcpOptions,
    /// Our initial send sequence number (ISS) on this connection, when known: seq of a
    /// sent segment / ack of a received one are relative to it.
    pub iss: Option<u32>,
    /// The peer's initial sequence number (IRS), when known.
    pub irs: Option<u32>,
    /// True for a retransmission (sent segments only).
    pub retransmission: bool,
    /// Which retransmission this is (1 = first), 0 for an original transmission.
    pub retransmit_count: u32,
    /// The retransmission timeout in force when a retransmission was sent.
    pub rto_micros: u64,
    /// Up to the first 32 payload bytes, for display.
    pub preview: Vec<u8>,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceKind {
    /// A segment was sent or received.
    Segment(SegmentTrace),
    /// The connection changed state.
    StateChange {
        /// State before.
        old: State,
        /// State after.
        new: State,
    },
    /// An incoming packet was dropped, and why.
    Dropped {
        /// Why it was dropped ("bad checksum", "out of window", ...).
        reason: &'static str,
    },
    /// The sender's congestion state after an ACK (or a retransmission timeout)
    /// changed it.
    Congestion(CongestionTrace),
}

/// Where the sender's congestion control stands (with Linux's `ca_state`
/// names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CongestionPhase {
    /// cwnd below ssthresh (RFC 5681 §3.1), or BBR's start-up (Linux `TCP_CA_Open`).
    SlowStart,
    /// cwnd at or above ssthresh (RFC 5681 §3.1), or BBR past start-up (Linux `TCP_CA_Open`).
    CongestionAvoidance,
    /// Fast recovery after duplicate ACKs or SACK-detected loss (RFC 5681 §3.2,
    /// RFC 6582, RFC 6675 §5) (Linux `TCP_CA_Recovery`).
    Recovery,
    /// After a retransmission timeout, until the data outstanding when it fired is
    /// acknowledged (RFC 5681 §3.1, RFC 6582 §4) (Linux `TCP_CA_Loss`).
    Loss,
}

impl CongestionPhase {
    /// A short lower-case name: `slow start`, `avoidance`, `recovery`, `loss`.
    pub const fn name(self) -> &'static str {
        match self {
            CongestionPhase::SlowStart => "slow start",
            CongestionPhase::CongestionAvoidance => "avoidance",
            CongestionPhase::Recovery => "recovery",
            CongestionPhase::Loss => "loss",
        }
    }
}

/// A sender's congestion state at one instant. Sizes in bytes, times in µs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CongestionTrace {
    /// The congestion control's name (`cubic`, `reno`, `bbr`, ...).
    pub algorithm: &'static str,
    /// Its phase.
    pub phase: CongestionPhase,
    /// Congestion window (cwnd).
    pub cwnd: u32,
    /// Slow-start threshold; `u32::MAX` until the first reduction sets it.
    pub ssthresh: u32,
    /// The peer's receive window, SND.WND (RFC 9293 §3.3.1).
    pub snd_wnd: u32,
    /// Bytes in flight: sent and not yet cumulatively acknowledged (SND.MAX -
    /// SND.UNA, RFC 5681's FlightSize).
    pub in_flight: u32,
    /// Smoothed round-trip time (RFC 6298 SRTT), once measured.
    pub srtt_us: Option<u64>,
    /// The latest RTT sample taken, once there is one.
    pub rtt_us: Option<u64>,
    /// The pacing rate in bytes per second, when the connection is paced.
    pub pacing_rate: Option<u64>,
}

/// One trace event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceEvent {
    /// When.
    pub time: Instant,
    /// Our end of the connection.
    pub local: SocketAddr,
    /// The peer's end.
    pub remote: SocketAddr,
    /// What.
    pub kind: TraceKind,
}
