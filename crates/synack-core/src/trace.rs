//! Structured trace events: every segment in and out and every state change, with the
//! numbers a textbook figure needs. The CLI's ladder diagrams and graphs are drawn from
//! these (crate `synack-viz`).

use crate::state::State;
use crate::time::Instant;
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
