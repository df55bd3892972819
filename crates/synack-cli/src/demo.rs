//! `synack demo`: run the simulated scenario and draw it.

use crate::args::{CloseArg, DemoArgs, DrawArgs, Format};
use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant as WallInstant};
use synack_sim::demo::{run_demo, CloseMode, DemoConfig, DemoReport};
use synack_viz::{
    congestion_series, render_cwnd_graph, render_json, render_mermaid, render_seq_graph,
    render_svg_ladder, render_text, CwndGraphOptions, Endpoint, LadderSvgOptions, MermaidOptions,
    SeqGraphOptions, TextOptions, Timeline,
};

pub(crate) fn run(a: DemoArgs) -> Result<ExitCode, String> {
    let latency = Duration::from_secs_f64(a.latency / 1000.0);
    let cfg = DemoConfig {
        bytes: a.bytes,
        loss: a.loss,
        latency,
        seed: a.seed,
        close: match a.close {
            CloseArg::Client => CloseMode::Client,
            CloseArg::Server => CloseMode::Server,
            CloseArg::Both => CloseMode::Both,
        },
        simultaneous_open: a.simultaneous_open,
        msl: a.time_wait / 2,
        mss: a.mss,
        capture: a.pcap.is_some(),
        link: a.rate.map(|bps| {
            // A rate-limited path: the same delay and loss, a drop-tail queue of one
            // bandwidth-delay product of the round trip unless --queue says otherwise.
            let rtt = latency * 2;
            let bdp = synack_sim::profiles::bdp_bytes(bps, rtt).max(3000);
            let size = |s: synack_link::spec::Size| match s {
                synack_link::spec::Size::Bytes(n) => n,
                synack_link::spec::Size::Bdp(k) => (bdp as f64 * k) as usize,
            };
            let queue = a.queue.map_or(bdp, size);
            let mut link = synack_sim::LinkConfig::with_latency(latency)
                .loss(a.loss)
                .bandwidth(bps)
                .queue_bytes(queue.max(1500));
            link.ce_threshold = a.ce_threshold.map(size);
            link
        }),
        stack: Some(synack_core::Config {
            congestion: a.cc.clone(),
            pacing: a.pacing,
            ecn: if a.ecn {
                synack_core::Ecn::On
            } else {
                synack_core::Ecn::Passive
            },
            ..synack_core::Config::default()
        }),
        ..DemoConfig::default()
    };
    let started = WallInstant::now();
    let mut last_print = started;
    let mut printed_progress = false;
    let report = run_demo(&cfg, &mut |p| {
        let now = WallInstant::now();
        if now.duration_since(started) > Duration::from_secs(1)
            && now.duration_since(last_print) > Duration::from_millis(250)
        {
            last_print = now;
            printed_progress = true;
            let pct = |n: usize| {
                if p.total == 0 {
                    100.0
                } else {
                    n as f64 * 100.0 / p.total as f64
                }
            };
            eprint!(
                "\r  running: virtual {:.3} s, client->server {:.1}%, server->client {:.1}%   ",
                p.now.total_micros() as f64 / 1e6,
                pct(p.to_server),
                pct(p.to_client)
            );
        }
    });
    if printed_progress {
        eprintln!();
    }
    let tl = timeline(&report);
    let out = match a.draw.format {
        Format::Text => {
            let opts = TextOptions {
                latency: Some(latency),
                msl: Some(cfg.msl),
                width: a.draw.text_width(),
                ..TextOptions::default()
            };
            let mut s = render_text(&tl, &opts);
            // The verdict fits the same width as the ladder above it.
            for line in verdict_lines(&report).lines() {
                for part in synack_viz::text::fit_line(line, " · ", opts.width) {
                    s.push_str(&part);
                    s.push('\n');
                }
            }
            s
        }
        Format::Json => render_json(&tl),
        Format::Mermaid => render_mermaid(&tl, &MermaidOptions::default()),
    };
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    if !out.ends_with('\n') {
        let _ = stdout.write_all(b"\n");
    }
    let svg = LadderSvgOptions {
        latency: Some(latency),
        ..LadderSvgOptions::default()
    };
    a.draw.write_pictures(&tl, &svg)?;
    if let Some(path) = &a.cwnd_graph {
        write_file(path, cwnd_graph(&report).as_bytes())?;
    }
    if let Some(path) = &a.pcap {
        let mut bytes = Vec::new();
        synack_sim::write_pcap(&mut bytes, &report.packets)
            .map_err(|e| format!("cannot write pcap: {e}"))?;
        write_file(path, &bytes)?;
    }
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Write `bytes` to `path`, or say which file could not be written.
pub(crate) fn write_file(path: &std::path::Path, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

impl DrawArgs {
    /// Write the pictures asked for (`--svg`, `--seq-graph`) of `tl`.
    pub(crate) fn write_pictures(
        &self,
        tl: &Timeline,
        svg: &LadderSvgOptions,
    ) -> Result<(), String> {
        if let Some(path) = &self.svg {
            write_file(path, render_svg_ladder(tl, svg).as_bytes())?;
        }
        if let Some(path) = &self.seq_graph {
            write_file(
                path,
                render_seq_graph(tl, &SeqGraphOptions::default()).as_bytes(),
            )?;
        }
        Ok(())
    }
}

/// Both hosts' data senders, one panel each: the client's connection, then the
/// server's.
fn cwnd_graph(r: &DemoReport) -> String {
    let mut series = Vec::new();
    for (from, side, to) in [
        ("client", &r.client, "server"),
        ("server", &r.server, "client"),
    ] {
        for mut s in congestion_series(&side.trace) {
            s.label = format!("{from} → {to}");
            series.push(s);
        }
    }
    render_cwnd_graph(&series, &CwndGraphOptions::default())
}

fn timeline(r: &DemoReport) -> Timeline {
    let right_initial = if r.config.simultaneous_open {
        synack_core::State::Closed
    } else {
        synack_core::State::Listen
    };
    let mut tl = Timeline::from_traces(
        Endpoint::new("client", r.client.addr, synack_core::State::Closed),
        r.client.trace.clone(),
        Endpoint::new("server", r.server.addr, right_initial),
        r.server.trace.clone(),
    );
    // Both stacks were traced for the whole run, even one that saw nothing.
    tl.traced_until = Some(r.end);
    tl.infer();
    tl
}

/// The demo's own verdict: byte counts with the SHA-256 check, RTT, and whether both
/// sides closed.
fn verdict_lines(r: &DemoReport) -> String {
    let mut s = String::new();
    let n = r.config.bytes;
    let c2s_ok = r.server.received == n && r.server.received_sha256 == r.client.sent_sha256;
    let s2c_ok = r.client.received == n && r.client.received_sha256 == r.server.sent_sha256;
    s.push_str(&format!(
        "data: client->server {} of {} B, SHA-256 {} · server->client {} of {} B, SHA-256 {}\n",
        r.server.received,
        n,
        if c2s_ok { "ok" } else { "MISMATCH" },
        r.client.received,
        n,
        if s2c_ok { "ok" } else { "MISMATCH" },
    ));
    // Goodput of each direction: the data size over the time from the handshake to
    // the moment the receiving side had every byte (virtual time).
    if n >= 64 * 1024 {
        let rate = |rx: &synack_sim::demo::SideReport| {
            let start = r.client.established_at?;
            let secs = rx
                .data_done_at?
                .saturating_duration_since(start)
                .as_secs_f64();
            (secs > 0.0).then(|| (n as f64 * 8.0 / secs / 1e6, secs))
        };
        if let (Some((c2s, t1)), Some((s2c, t2))) = (rate(&r.server), rate(&r.client)) {
            s.push_str(&format!(
                "goodput: client->server {c2s:.1} Mbit/s ({t1:.2} s) · server->client {s2c:.1} Mbit/s ({t2:.2} s) · congestion control {}\n",
                r.config
                    .stack
                    .as_ref()
                    .map_or("cubic", |c| c.congestion.name())
            ));
        }
    }
    // Segment and retransmission counts are in the summary above, counted from the
    // ladder itself: a side's last info snapshot is taken before its final segments
    // leave, so its counters would disagree with the picture.
    if let Some(info) = &r.client.info {
        let ms = |d: Option<Duration>| {
            d.map_or("-".to_string(), |d| {
                format!("{:.1} ms", d.as_secs_f64() * 1e3)
            })
        };
        s.push_str(&format!(
            "client: srtt {} · rttvar {} · rto {:.0} ms · cwnd {} B\n",
            ms(info.srtt),
            ms(info.rttvar),
            info.rto.as_secs_f64() * 1e3,
            info.cwnd,
        ));
    }
    if r.link_drops > 0 {
        s.push_str(&format!(
            "link: {} packets lost in the network\n",
            r.link_drops
        ));
    }
    for (name, side) in [("client", &r.client), ("server", &r.server)] {
        if let Some(e) = &side.error {
            s.push_str(&format!("{name}: ERROR: {e}\n"));
        }
    }
    if !r.completed {
        let mut why = Vec::new();
        for (name, side) in [("client", &r.client), ("server", &r.server)] {
            if side.leftover_connections > 0 {
                why.push(format!(
                    "the {name} still holds {} connection(s)",
                    side.leftover_connections
                ));
            } else if side.established_at.is_none() && side.error.is_none() {
                why.push(format!("the {name} never established a connection"));
            }
        }
        if why.is_empty() {
            why.push("the simulation stopped before both sides finished".to_string());
        }
        s.push_str(&format!(
            "NOT COMPLETE at {:.3} s: {}\n",
            r.end.total_micros() as f64 / 1e6,
            why.join("; ")
        ));
    } else {
        s.push_str("both sides reached CLOSED and hold no connection state\n");
    }
    s
}
