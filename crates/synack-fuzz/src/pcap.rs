//! Target `pcap`: the capture readers on arbitrary bytes — the simulator's pcap reader
//! (`synack_sim::pcap::read_pcap`, over the pcap-file crate) and the visualiser's own
//! pcap / pcapng reader with its TCP tracker (`synack_viz::pcap::timeline_from_pcap`),
//! whose timelines are then rendered (text, JSON, SVG ladder, sequence graph, Mermaid). Errors are fine; panics
//! are not. A capture the simulator writes from the packets it read reads back the
//! same.

use synack_sim::pcap::{read_pcap, write_pcap};
use synack_viz::pcap::{timeline_from_pcap, PcapOptions};

/// Runs the target on one input.
pub fn run(data: &[u8]) {
    if let Ok(packets) = read_pcap(data) {
        let bytes = write_pcap(Vec::new(), &packets).expect("writing to memory");
        let back = read_pcap(&bytes[..]).expect("reading what was written");
        assert_eq!(back.len(), packets.len());
        for ((t0, p0), (t1, p1)) in packets.iter().zip(&back) {
            assert_eq!(t0, t1);
            // The writer keeps at most its snap length of each packet.
            assert!(p0.starts_with(p1), "packet bytes changed on a write/read");
        }
    }
    if let Ok(conns) = timeline_from_pcap(data, &PcapOptions::default()) {
        for c in conns.iter().take(2) {
            let tl = &c.timeline;
            let _ = synack_viz::render_text(tl, &synack_viz::TextOptions::default());
            let _ = synack_viz::render_json(tl);
            // The SVG ladder's label placement is the slow part (tens of ms for a few
            // dozen arrows): drawn for short timelines only, so the readers get most of
            // the executions.
            if tl.entries.len() <= 24 {
                let _ = synack_viz::render_svg_ladder(tl, &synack_viz::LadderSvgOptions::default());
            }
            let _ = synack_viz::render_seq_graph(tl, &synack_viz::SeqGraphOptions::default());
            let _ = synack_viz::render_mermaid(tl, &synack_viz::MermaidOptions::default());
        }
    }
}
