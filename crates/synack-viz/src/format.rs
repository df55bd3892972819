//! Small text formatting helpers shared by every renderer: times, durations, byte
//! counts, thousands separators, payload previews and TCP option lists.

use synack_wire::TcpOptions;

/// Format a time offset (microseconds since the timeline's origin) the way the ladder
/// prints it: `0.0 ms`, `1000.0 ms`, `60.06 s`. With `fine`, milliseconds get three
/// decimals (for LAN captures where everything happens within a millisecond).
pub(crate) fn fmt_time(micros: u64, fine: bool) -> String {
    if micros < 10_000_000 {
        if fine {
            format!("{:.3} ms", micros as f64 / 1000.0)
        } else {
            format!("{:.1} ms", micros as f64 / 1000.0)
        }
    } else {
        format!("{:.2} s", micros as f64 / 1e6)
    }
}

/// A short human duration: `250 µs`, `200 ms`, `1.5 ms`, `1 s`, `1.5 s`, `60 s`.
pub(crate) fn fmt_duration_micros(micros: u64) -> String {
    if micros < 1000 {
        format!("{micros} µs")
    } else if micros < 1_000_000 {
        trim_decimal(micros as f64 / 1000.0, 1) + " ms"
    } else {
        trim_decimal(micros as f64 / 1e6, 2) + " s"
    }
}

/// `x` with at most `decimals` decimals and no trailing zeros: 1.50 -> "1.5", 2.0 -> "2".
pub(crate) fn trim_decimal(x: f64, decimals: usize) -> String {
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A byte count with a decimal (SI) unit: `5 B`, `12.3 kB`, `1.7 MB`, `2.1 GB`.
pub(crate) fn fmt_bytes(n: u64) -> String {
    if n < 1000 {
        format!("{n} B")
    } else if n < 1_000_000 {
        format!("{:.1} kB", n as f64 / 1e3)
    } else if n < 1_000_000_000 {
        format!("{:.1} MB", n as f64 / 1e6)
    } else {
        format!("{:.1} GB", n as f64 / 1e9)
    }
}

/// An integer with thousands separators: `1,234,567`.
pub(crate) fn fmt_count(n: u64) -> String {
    let digits = n.to_string();
    let groups: Vec<&str> = digits
        .as_bytes()
        .rchunks(3)
        .rev()
        .map(|c| core::str::from_utf8(c).unwrap_or(""))
        .collect();
    groups.join(",")
}

/// A quoted preview of payload bytes: printable ASCII as is, `\n`, `\r`, `\t`, `\"`,
/// `\\` escaped, anything else as `\xNN`; at most `max` bytes shown, then `…` when
/// the segment carried more (`total` bytes).
pub(crate) fn fmt_preview(bytes: &[u8], max: usize, total: u64) -> String {
    let mut s = String::from("\"");
    for &b in bytes.iter().take(max) {
        match b {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push(char::from(b)),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s.push('"');
    let shown = bytes.len().min(max) as u64;
    if total > shown {
        s.push('…');
    }
    s
}

/// The options of a SYN in the usual tcpdump-like short form:
/// `<mss 1460,wscale 7,sackOK,TS>`; `None` when there are none.
pub(crate) fn fmt_syn_options(o: &TcpOptions) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(mss) = o.mss {
        parts.push(format!("mss {mss}"));
    }
    if let Some(ws) = o.window_scale {
        parts.push(format!("wscale {ws}"));
    }
    if o.sack_permitted {
        parts.push("sackOK".to_string());
    }
    if o.timestamp.is_some() {
        parts.push("TS".to_string());
    }
    if parts.is_empty() {
        None
    } else {
        Some(format!("<{}>", parts.join(",")))
    }
}

/// Display width of a string in terminal columns, as a terminal draws it (the box
/// drawing arrows and `✗` used by the ladder are one column each, wide characters
/// two).
pub(crate) fn width(s: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(s)
}

/// Display columns of one character (a control character counts as none).
pub(crate) fn char_width(c: char) -> usize {
    unicode_width::UnicodeWidthChar::width(c).unwrap_or(0)
}

/// Pad `s` with spaces on the right to `w` columns.
pub(crate) fn pad_right(s: &str, w: usize) -> String {
    let mut out = s.to_string();
    for _ in width(s)..w {
        out.push(' ');
    }
    out
}

/// Pad `s` with spaces on the left to `w` columns.
pub(crate) fn pad_left(s: &str, w: usize) -> String {
    let mut out = String::new();
    for _ in width(s)..w {
        out.push(' ');
    }
    out.push_str(s);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(fmt_time(0, false), "0.0 ms");
        assert_eq!(fmt_time(1_000_000, false), "1000.0 ms");
        assert_eq!(fmt_time(60_060_000, false), "60.06 s");
        assert_eq!(fmt_time(1234, true), "1.234 ms");
    }

    #[test]
    fn durations_and_sizes() {
        assert_eq!(fmt_duration_micros(1_000_000), "1 s");
        assert_eq!(fmt_duration_micros(1_500_000), "1.5 s");
        assert_eq!(fmt_duration_micros(200_000), "200 ms");
        assert_eq!(fmt_duration_micros(250), "250 µs");
        assert_eq!(fmt_bytes(5), "5 B");
        assert_eq!(fmt_bytes(1_700_000), "1.7 MB");
        assert_eq!(fmt_count(1234), "1,234");
        assert_eq!(fmt_count(123), "123");
        assert_eq!(fmt_count(1_234_567), "1,234,567");
    }

    #[test]
    fn previews() {
        assert_eq!(fmt_preview(b"hello", 16, 5), "\"hello\"");
        assert_eq!(fmt_preview(b"GET /\r\n", 16, 7), "\"GET /\\r\\n\"");
        assert_eq!(fmt_preview(b"abcdef", 3, 6), "\"abc\"…");
        assert_eq!(fmt_preview(&[0xff], 3, 1), "\"\\xff\"");
    }
}
