//! # synack-viz
//!
//! Draws a TCP connection's life from synack trace events or a pcap capture:
//!
//! - [`Timeline`]: both sides' [`TraceEvent`](synack_core::trace::TraceEvent)s merged in
//!   time order, with losses inferred and sequence numbers named relative to the ISNs
//!   (`A` for the left side, `B` for the right side);
//! - [`render_text`]: the terminal ladder (one line per segment, states in each side's
//!   column), [`render_json`], [`render_mermaid`];
//! - [`render_svg_ladder`]: the same ladder as an SVG picture with slanted arrows;
//! - [`render_seq_graph`]: a time-sequence graph (sequence number vs time, ACK line,
//!   window edge, retransmissions, SACK blocks) as SVG;
//! - [`render_cwnd_graph`]: each sender's cwnd, ssthresh, peer window, bytes in flight
//!   and RTT against time, recovery shaded, from the engine's congestion-state events
//!   ([`congestion_series`]);
//! - [`timeline_from_pcap`]: timelines rebuilt from a capture, states inferred by a
//!   passive tracker;
//! - [`Summary`]: handshake time, segment, retransmission and byte counts, TIME-WAIT.
//!
//! ```text
//!      time   client                                                  server
//!             CLOSED                                                  LISTEN
//!    0.0 ms   SYN-SENT     SYN  seq=A (2843261943)  win 65535  ──▶
//!   10.0 ms                ◀──  SYN-ACK  seq=B (1150032007)  ack=A+1  SYN-RECEIVED
//! ```

pub mod cwnd_graph;
mod format;
pub mod json;
mod label_place;
pub mod ladder_svg;
pub mod live;
pub mod mermaid;
pub mod pcap;
mod rows;
pub mod seq_graph;
pub mod summary;
mod svg;
pub mod text;
pub mod timeline;
mod tracker;

pub use cwnd_graph::{congestion_series, render_cwnd_graph, CongestionSeries, CwndGraphOptions};
pub use json::{render_json, render_json_connections, to_json_value};
pub use ladder_svg::{render_svg_ladder, LadderSvgOptions};
pub use live::format_event;
pub use mermaid::{render_mermaid, render_mermaid_connections, MermaidOptions};
pub use pcap::{
    timeline_from_pcap, timeline_from_pcap_file, ConnectionTimeline, PcapError, PcapOptions,
};
pub use seq_graph::{render_seq_graph, SeqGraphOptions};
pub use summary::Summary;
pub use text::{render_text, TextOptions};
pub use timeline::{retransmission_label, Endpoint, Entry, Note, Side, Timeline};
