//! Mermaid output: a `sequenceDiagram` of the connection (for Markdown documents),
//! with a note over a participant for each state change and `-x` arrows for losses.

use crate::rows::{build_rows, summary_text};
use crate::timeline::{Side, Timeline};

/// How [`render_mermaid`] draws.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MermaidOptions {
    /// Collapse runs of more than this many data segments (see
    /// [`crate::TextOptions::summarize_data_over`]). Default 40.
    pub summarize_data_over: usize,
}

impl Default for MermaidOptions {
    fn default() -> MermaidOptions {
        MermaidOptions {
            summarize_data_over: 40,
        }
    }
}

/// A participant id: the label's letters, digits and `_`, or `left` / `right`.
fn participant_id(label: &str, fallback: &str) -> String {
    let id: String = label
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    if id.is_empty() || id.starts_with(|c: char| c.is_ascii_digit()) {
        fallback.to_string()
    } else {
        id
    }
}

/// Escape the characters Mermaid treats specially in message text (`;`, `#`, `<`,
/// `>`, line breaks) with its `#code;` entities.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '#' => out.push_str("#35;"),
            ';' => out.push_str("#59;"),
            '<' => out.push_str("#60;"),
            '>' => out.push_str("#62;"),
            '\n' | '\r' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

/// Draw the timeline as a Mermaid `sequenceDiagram`.
pub fn render_mermaid(tl: &Timeline, opts: &MermaidOptions) -> String {
    let mut out = String::from("sequenceDiagram\n");
    push_connection(&mut out, tl, opts, "");
    out
}

/// Draw several connections (from a capture) in one `sequenceDiagram`: each gets its
/// own pair of participants (ids suffixed `_N` with the connection's index) and a
/// note naming it, one after the other.
pub fn render_mermaid_connections(
    conns: &[crate::pcap::ConnectionTimeline],
    opts: &MermaidOptions,
) -> String {
    let mut out = String::from("sequenceDiagram\n");
    for c in conns {
        push_connection(&mut out, &c.timeline, opts, &format!("_{}", c.index));
    }
    out
}

/// One connection's participants and rows; `suffix` keeps participant ids apart when
/// several connections share a diagram (and then a note names the connection).
fn push_connection(out: &mut String, tl: &Timeline, opts: &MermaidOptions, suffix: &str) {
    let l = participant_id(&tl.left.label, "left") + suffix;
    let mut r = participant_id(&tl.right.label, "right") + suffix;
    if r == l {
        r = format!("{r}_2");
    }
    let id = |s: Side| if s == Side::Left { &l } else { &r };
    out.push_str(&format!(
        "    participant {l} as {}\n",
        esc(&format!("{} {}", tl.left.label, tl.left.addr))
    ));
    out.push_str(&format!(
        "    participant {r} as {}\n",
        esc(&format!("{} {}", tl.right.label, tl.right.addr))
    ));
    if let Some(n) = suffix.strip_prefix('_') {
        out.push_str(&format!(
            "    Note over {l},{r}: connection {n}: {}\n",
            esc(&format!("{} ↔ {}", tl.left.addr, tl.right.addr))
        ));
    }
    out.push_str(&format!(
        "    Note over {l}: {}\n",
        tl.left.initial_state.name()
    ));
    out.push_str(&format!(
        "    Note over {r}: {}\n",
        tl.right.initial_state.name()
    ));
    for row in build_rows(tl, opts.summarize_data_over) {
        for side in [Side::Left, Side::Right] {
            if let Some(s) = row.state_of(side) {
                out.push_str(&format!("    Note over {}: {}\n", id(side), s.name()));
            }
            if let Some(n) = row.note_of(side) {
                out.push_str(&format!("    Note over {}: {}\n", id(side), esc(n)));
            }
        }
        if let Some(s) = &row.summary {
            out.push_str(&format!(
                "    Note over {l},{r}: {}\n",
                esc(&summary_text(s))
            ));
        }
        if let Some((i, sender)) = row.segment {
            let e = &tl.entries[i];
            if let Some(seg) = e.segment() {
                let mut label = tl.segment_parts(sender, seg, false, 0).join(" ");
                if e.lost {
                    label.push_str(" (lost)");
                }
                let arrow = if e.lost { "-x" } else { "->>" };
                out.push_str(&format!(
                    "    {}{arrow}{}: {}\n",
                    id(sender),
                    id(sender.other()),
                    esc(&label)
                ));
            }
        }
    }
}
