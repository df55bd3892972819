//! `synack trace FILE.pcap`: draw the connections in a capture.

use crate::args::{Format, TraceArgs};
use std::process::ExitCode;
use synack_viz::{
    render_json_connections, render_mermaid, render_mermaid_connections, render_text,
    timeline_from_pcap_file, LadderSvgOptions, MermaidOptions, PcapOptions, TextOptions,
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
    match a.draw.format {
        Format::Text => {
            let opts = TextOptions {
                width: a.draw.text_width(),
                ..TextOptions::default()
            };
            for c in &conns {
                if conns.len() > 1 || a.conn.is_some() {
                    println!("connection {} ({} packets)", c.index, c.packets);
                }
                println!("{}", render_text(&c.timeline, &opts));
            }
        }
        // One document for the whole capture, however many connections it holds.
        Format::Json => println!("{}", render_json_connections(&conns)),
        Format::Mermaid => {
            let m = if conns.len() == 1 {
                render_mermaid(&conns[0].timeline, &MermaidOptions::default())
            } else {
                render_mermaid_connections(&conns, &MermaidOptions::default())
            };
            print!("{m}");
        }
    }
    let first = &conns[0].timeline;
    a.draw.write_pictures(first, &LadderSvgOptions::default())?;
    Ok(ExitCode::SUCCESS)
}
