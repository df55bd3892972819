//! `synack trace FILE.pcap`: draw the connections in a capture.

use crate::args::{Format, TraceArgs};
use std::process::ExitCode;
use synack_viz::{
    render_json, render_mermaid, render_text, timeline_from_pcap_file, LadderSvgOptions,
    MermaidOptions, PcapOptions, TextOptions,
};

pub(crate) fn run(a: TraceArgs) -> Result<ExitCode, String> {
    let opts = PcapOptions {
        connection: a.conn,
        ..PcapOptions::default()
    };
    let conns = timeline_from_pcap_file(&a.file, &opts).map_err(|e| e.to_string())?;
    if conns.is_empty() {
        return Err(format!("{}: no TCP connection found", a.file.display()));
    }
    for c in &conns {
        let tl = &c.timeline;
        match a.draw.format {
            Format::Text => {
                if conns.len() > 1 || a.conn.is_some() {
                    println!("connection {} ({} packets)", c.index, c.packets);
                }
                println!("{}", render_text(tl, &TextOptions::default()));
            }
            Format::Json => println!("{}", render_json(tl)),
            Format::Mermaid => println!("{}", render_mermaid(tl, &MermaidOptions::default())),
        }
    }
    let first = &conns[0].timeline;
    a.draw.write_pictures(first, &LadderSvgOptions::default())?;
    Ok(ExitCode::SUCCESS)
}
