//! Timelines rebuilt from a pcap capture: link layers stripped, IP/TCP parsed with
//! `synack_wire` (checksums not verified: captures often see offloaded checksums),
//! packets grouped into connections by 4-tuple, each packet turned into a Sent event at
//! its sender and a Received event at its receiver at the capture time, and each
//! side's states inferred by a passive tracker.

use crate::timeline::{Endpoint, Side, Timeline};
use crate::tracker::Tracker;
use core::fmt;
use core::net::SocketAddr;
use std::collections::HashMap;
use std::path::Path;
use synack_core::trace::{Direction, SegmentTrace, TraceEvent, TraceKind};
use synack_core::{Instant, State};
use synack_wire::{Packet, TcpFlags, TcpOptions};

/// Why a capture could not be turned into timelines. `Display` is one line.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PcapError {
    /// The file could not be read.
    Unreadable {
        /// The path.
        path: String,
        /// The OS error.
        reason: String,
    },
    /// The bytes are not a pcap or pcapng capture.
    NotPcap(String),
    /// The capture ends in the middle of a record (a capture cut off while written,
    /// or a partial copy).
    Truncated {
        /// Byte offset of the incomplete record.
        offset: u64,
        /// Complete packet records before it.
        records: usize,
    },
    /// The capture's link type is not one this reader strips.
    UnsupportedLinkType(u32),
    /// No TCP segment was found.
    NoTcpConnection,
    /// The connection asked for does not exist.
    NoSuchConnection {
        /// Index asked for.
        index: usize,
        /// Connections in the capture.
        count: usize,
    },
}

impl fmt::Display for PcapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PcapError::Unreadable { path, reason } => write!(f, "cannot read {path}: {reason}"),
            PcapError::NotPcap(why) => write!(f, "not a pcap or pcapng capture: {why}"),
            PcapError::Truncated { offset, records } => write!(
                f,
                "the capture is cut off: the record at byte {offset} is incomplete (after {records} complete packet records)"
            ),
            PcapError::UnsupportedLinkType(l) => write!(
                f,
                "unsupported link type {l} (readable: Ethernet, raw IP, Linux cooked SLL/SLL2, loopback)"
            ),
            PcapError::NoTcpConnection => f.write_str("no TCP connection found in the capture"),
            PcapError::NoSuchConnection { index, count } => write!(
                f,
                "no connection {index}: the capture has {count} TCP connection(s), numbered from 0"
            ),
        }
    }
}

impl std::error::Error for PcapError {}

/// How [`timeline_from_pcap`] reads a capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcapOptions {
    /// Keep only this connection (index in order of first packet); `None` keeps all.
    pub connection: Option<usize>,
    /// Label of the side that sent the first SYN (default `"client"`).
    pub left_label: String,
    /// Label of the other side (default `"server"`).
    pub right_label: String,
}

impl Default for PcapOptions {
    fn default() -> PcapOptions {
        PcapOptions {
            connection: None,
            left_label: "client".to_string(),
            right_label: "server".to_string(),
        }
    }
}

/// One connection found in a capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionTimeline {
    /// Index in the capture (order of first packet), as [`PcapOptions::connection`] takes.
    pub index: usize,
    /// TCP packets of the connection.
    pub packets: usize,
    /// The timeline: left is the side that sent the first SYN (or the first packet).
    pub timeline: Timeline,
}

/// Read a capture file (see [`timeline_from_pcap`]).
pub fn timeline_from_pcap_file(
    path: &Path,
    opts: &PcapOptions,
) -> Result<Vec<ConnectionTimeline>, PcapError> {
    let bytes = std::fs::read(path).map_err(|e| PcapError::Unreadable {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    timeline_from_pcap(&bytes, opts)
}

/// Link types read (pcap LINKTYPE_* numbers).
const LINK_NULL: u32 = 0;
const LINK_ETHERNET: u32 = 1;
const LINK_RAW: u32 = 101;
const LINK_LOOP: u32 = 108;
const LINK_LINUX_SLL: u32 = 113;
const LINK_IPV4: u32 = 228;
const LINK_IPV6: u32 = 229;
const LINK_LINUX_SLL2: u32 = 276;

/// Strip the link-layer header: the IP packet, or `None` for non-IP frames.
fn ip_payload(link: u32, frame: &[u8]) -> Option<&[u8]> {
    let is_ip = |ethertype: u16| ethertype == 0x0800 || ethertype == 0x86dd;
    match link {
        LINK_RAW | LINK_IPV4 | LINK_IPV6 => Some(frame),
        LINK_NULL | LINK_LOOP => {
            // 4-byte address family in the capturing host's byte order; trust the
            // IP version nibble instead.
            let ip = frame.get(4..)?;
            matches!(ip.first()? >> 4, 4 | 6).then_some(ip)
        }
        LINK_ETHERNET => {
            let mut off = 12;
            let mut ethertype = u16::from_be_bytes([*frame.get(off)?, *frame.get(off + 1)?]);
            // 802.1Q / 802.1ad tags (up to two).
            for _ in 0..2 {
                if ethertype == 0x8100 || ethertype == 0x88a8 {
                    off += 4;
                    ethertype = u16::from_be_bytes([*frame.get(off)?, *frame.get(off + 1)?]);
                }
            }
            is_ip(ethertype).then(|| frame.get(off + 2..)).flatten()
        }
        LINK_LINUX_SLL => {
            let proto = u16::from_be_bytes([*frame.get(14)?, *frame.get(15)?]);
            is_ip(proto).then(|| frame.get(16..)).flatten()
        }
        LINK_LINUX_SLL2 => {
            let proto = u16::from_be_bytes([*frame.first()?, *frame.get(1)?]);
            is_ip(proto).then(|| frame.get(20..)).flatten()
        }
        _ => None,
    }
}

/// One TCP packet of the capture, parsed.
#[derive(Debug, Clone)]
struct Pkt {
    time: Instant,
    src: SocketAddr,
    dst: SocketAddr,
    flags: TcpFlags,
    seq: u32,
    ack: u32,
    window: u16,
    options: TcpOptions,
    len: u32,
    preview: Vec<u8>,
}

fn read_u32(b: &[u8], big: bool) -> u32 {
    let a = [b[0], b[1], b[2], b[3]];
    if big {
        u32::from_be_bytes(a)
    } else {
        u32::from_le_bytes(a)
    }
}

fn link_supported(link: u32) -> bool {
    matches!(
        link,
        LINK_NULL
            | LINK_ETHERNET
            | LINK_RAW
            | LINK_LOOP
            | LINK_LINUX_SLL
            | LINK_IPV4
            | LINK_IPV6
            | LINK_LINUX_SLL2
    )
}

/// Parse one captured frame; non-TCP frames are skipped.
fn push_frame(out: &mut Vec<Pkt>, link: u32, micros: u64, frame: &[u8]) {
    let Some(ip) = ip_payload(link, frame) else {
        return;
    };
    let Ok(Packet::Tcp(p)) = synack_wire::parse_packet(ip, false) else {
        return;
    };
    out.push(Pkt {
        time: Instant::from_micros(micros),
        src: SocketAddr::new(p.ip.src, p.tcp.src_port),
        dst: SocketAddr::new(p.ip.dst, p.tcp.dst_port),
        flags: p.tcp.flags,
        seq: p.tcp.seq,
        ack: p.tcp.ack,
        window: p.tcp.window,
        options: p.tcp.options,
        len: u32::try_from(p.payload.len()).unwrap_or(u32::MAX),
        preview: p.payload.iter().take(32).copied().collect(),
    });
}

/// Read the packets of a capture: classic pcap (any byte order, µs or ns timestamps)
/// or pcapng. A record cut short at the end of the file is an error
/// ([`PcapError::Truncated`]) rather than a silent end of the capture.
fn read_packets(bytes: &[u8]) -> Result<Vec<Pkt>, PcapError> {
    if bytes.is_empty() {
        return Err(PcapError::NotPcap("the file is empty".to_string()));
    }
    if bytes.len() >= 4 && bytes[..4] == [0x0a, 0x0d, 0x0d, 0x0a] {
        return read_pcapng(bytes);
    }
    if bytes.len() < 24 {
        return Err(PcapError::NotPcap(format!(
            "the file is {} bytes long, shorter than a pcap file header (24 bytes)",
            bytes.len()
        )));
    }
    let (mut rest, parser) = pcap_file::pcap::PcapParser::new(bytes).map_err(|_| {
        PcapError::NotPcap(
            "the file does not start with a pcap or pcapng header (magic number unknown)"
                .to_string(),
        )
    })?;
    let header = parser.header();
    let link = u32::from(header.datalink);
    if !link_supported(link) {
        return Err(PcapError::UnsupportedLinkType(link));
    }
    let nanos = header.ts_resolution == pcap_file::TsResolution::NanoSecond;
    let big = header.endianness == pcap_file::Endianness::Big;
    let mut out = Vec::new();
    let mut records = 0usize;
    while !rest.is_empty() {
        let offset = bytes.len() - rest.len();
        let truncated = PcapError::Truncated {
            offset: offset as u64,
            records,
        };
        if rest.len() < 16 {
            return Err(truncated);
        }
        let ts_sec = u64::from(read_u32(&rest[0..4], big));
        let ts_frac = u64::from(read_u32(&rest[4..8], big));
        let incl = read_u32(&rest[8..12], big) as usize;
        let Some(frame) = rest.get(16..16usize.saturating_add(incl)) else {
            return Err(truncated);
        };
        rest = &rest[16 + incl..];
        records += 1;
        let micros = ts_sec * 1_000_000 + if nanos { ts_frac / 1000 } else { ts_frac };
        push_frame(&mut out, link, micros, frame);
    }
    Ok(out)
}

/// Read a pcapng capture (Wireshark's default format): enhanced and simple packet
/// blocks of every interface, with each interface's timestamp resolution
/// (`if_tsresol`, microseconds when absent).
fn read_pcapng(bytes: &[u8]) -> Result<Vec<Pkt>, PcapError> {
    use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption;
    use pcap_file::pcapng::{Block, PcapNgParser};
    let (mut rest, mut parser) = PcapNgParser::new(bytes).map_err(|e| match e {
        pcap_file::PcapError::IncompleteBuffer => PcapError::Truncated {
            offset: 0,
            records: 0,
        },
        e => PcapError::NotPcap(format!("bad pcapng section header: {e}")),
    })?;
    let mut out = Vec::new();
    let mut records = 0usize;
    while !rest.is_empty() {
        let offset = (bytes.len() - rest.len()) as u64;
        let (next, block) = parser.next_block(rest).map_err(|e| match e {
            pcap_file::PcapError::IncompleteBuffer => PcapError::Truncated { offset, records },
            e => PcapError::NotPcap(format!("bad pcapng block at byte {offset}: {e}")),
        })?;
        rest = next;
        let (iface, raw_ts, data) = match &block {
            Block::EnhancedPacket(p) => (p.interface_id as usize, Some(p.timestamp), &p.data),
            Block::SimplePacket(p) => (0, None, &p.data),
            _ => continue,
        };
        records += 1;
        let Some(idb) = parser.interfaces().get(iface) else {
            return Err(PcapError::NotPcap(format!(
                "packet at byte {offset} names interface {iface}, which is not described"
            )));
        };
        let link = u32::from(idb.linktype);
        if !link_supported(link) {
            return Err(PcapError::UnsupportedLinkType(link));
        }
        // pcap-file hands the raw 64-bit timestamp over as nanoseconds; its unit is
        // really the interface's if_tsresol (default 10^-6 s).
        let tsresol = idb
            .options
            .iter()
            .find_map(|o| match o {
                InterfaceDescriptionOption::IfTsResol(r) => Some(*r),
                _ => None,
            })
            .unwrap_or(6);
        let raw = raw_ts.map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        let micros = ts_to_micros(raw, tsresol);
        push_frame(&mut out, link, micros, data);
    }
    Ok(out)
}

/// A pcapng timestamp in units of `if_tsresol` (bit 7 clear: 10^-n s; set: 2^-n s)
/// as microseconds.
fn ts_to_micros(raw: u64, tsresol: u8) -> u64 {
    let n = u32::from(tsresol & 0x7f);
    let (num, den): (u128, u128) = if tsresol & 0x80 == 0 {
        (1_000_000, 10u128.checked_pow(n).unwrap_or(u128::MAX))
    } else {
        (1_000_000, 1u128.checked_shl(n).unwrap_or(u128::MAX))
    };
    u64::try_from(u128::from(raw) * num / den).unwrap_or(u64::MAX)
}

/// Rebuild timelines from the bytes of a pcap capture: one per TCP connection
/// (4-tuple; a new SYN after a FIN or RST on the same 4-tuple starts a new one), in
/// order of first packet, or only the one `opts.connection` selects.
pub fn timeline_from_pcap(
    bytes: &[u8],
    opts: &PcapOptions,
) -> Result<Vec<ConnectionTimeline>, PcapError> {
    let packets = read_packets(bytes)?;
    // Group by 4-tuple.
    let mut conns: Vec<Vec<Pkt>> = Vec::new();
    let mut by_tuple: HashMap<(SocketAddr, SocketAddr), usize> = HashMap::new();
    for p in packets {
        let key = if p.src <= p.dst {
            (p.src, p.dst)
        } else {
            (p.dst, p.src)
        };
        let reuse = by_tuple.get(&key).copied().filter(|&c| {
            let fresh_syn = p.flags.syn() && !p.flags.ack();
            let ended = conns[c].iter().any(|q| q.flags.fin() || q.flags.rst());
            !(fresh_syn && ended)
        });
        match reuse {
            Some(c) => conns[c].push(p),
            None => {
                by_tuple.insert(key, conns.len());
                conns.push(vec![p]);
            }
        }
    }
    if conns.is_empty() {
        return Err(PcapError::NoTcpConnection);
    }
    let count = conns.len();
    let selected: Vec<(usize, Vec<Pkt>)> = match opts.connection {
        Some(i) if i < count => vec![(i, conns.swap_remove(i))],
        Some(index) => return Err(PcapError::NoSuchConnection { index, count }),
        None => conns.into_iter().enumerate().collect(),
    };
    Ok(selected
        .into_iter()
        .map(|(index, pkts)| ConnectionTimeline {
            index,
            packets: pkts.len(),
            timeline: connection_timeline(&pkts, opts),
        })
        .collect())
}

fn connection_timeline(pkts: &[Pkt], opts: &PcapOptions) -> Timeline {
    let first_syn = pkts.iter().find(|p| p.flags.syn() && !p.flags.ack());
    let (left_addr, right_addr) = match first_syn {
        Some(p) => (p.src, p.dst),
        None => (pkts[0].src, pkts[0].dst),
    };
    let side_of = |a: SocketAddr| {
        if a == left_addr {
            Side::Left
        } else {
            Side::Right
        }
    };
    let ix = |s: Side| usize::from(s == Side::Right);

    // Initial states: a capture without a SYN starts mid-connection; the right side
    // was listening if it answered with a SYN-ACK (else its port was closed).
    let right_answers = pkts
        .iter()
        .any(|p| p.src == right_addr && p.flags.syn() && p.flags.ack());
    let initial = match first_syn {
        None => [State::Established, State::Established],
        Some(_) if right_answers => [State::Closed, State::Listen],
        Some(_) => [State::Closed, State::Closed],
    };
    // ISNs and window-scale shifts (RFC 7323 §2.2: scaling only when both SYNs had it).
    let mut isn = [None, None];
    let mut wscale = [None, None];
    for p in pkts.iter().filter(|p| p.flags.syn()) {
        let s = ix(side_of(p.src));
        isn[s].get_or_insert(p.seq);
        if wscale[s].is_none() {
            wscale[s] = Some(p.options.window_scale);
        }
    }
    let shift = match (wscale[0].flatten(), wscale[1].flatten()) {
        (Some(a), Some(b)) => [a.min(14), b.min(14)],
        _ => [0, 0],
    };

    let mut trackers = [Tracker::new(initial[0]), Tracker::new(initial[1])];
    let mut events: [Vec<TraceEvent>; 2] = [Vec::new(), Vec::new()];
    let mut snd_max: [Option<u32>; 2] = [None, None];
    let mut retx_count: [HashMap<u32, u32>; 2] = [HashMap::new(), HashMap::new()];
    for p in pkts {
        let from = side_of(p.src);
        let (s, r) = (ix(from), ix(from.other()));
        let consumed = p.len + u32::from(p.flags.syn()) + u32::from(p.flags.fin());
        let end = p.seq.wrapping_add(consumed);
        // A retransmission re-sends sequence space already sent (RFC 9293 §3.8.1).
        let retransmission = consumed > 0
            && snd_max[s].is_some_and(|m| {
                let d = m.wrapping_sub(p.seq);
                d != 0 && d < 0x8000_0000
            });
        let count = if retransmission {
            let c = retx_count[s].entry(p.seq).or_insert(0);
            *c += 1;
            *c
        } else {
            0
        };
        if consumed > 0 {
            snd_max[s] = Some(match snd_max[s] {
                Some(m) if end.wrapping_sub(m) >= 0x8000_0000 => m,
                _ => end,
            });
        }
        let window_bytes = if p.flags.syn() {
            u32::from(p.window)
        } else {
            u32::from(p.window) << shift[s]
        };
        let seg = |dir: Direction, iss: Option<u32>, irs: Option<u32>| SegmentTrace {
            dir,
            flags: p.flags,
            seq: p.seq,
            ack: p.ack,
            window: p.window,
            window_bytes,
            len: p.len,
            options: p.options,
            iss,
            irs,
            retransmission,
            retransmit_count: count,
            rto_micros: 0,
            preview: p.preview.clone(),
        };
        let ev = |local: SocketAddr, remote: SocketAddr, kind: TraceKind| TraceEvent {
            time: p.time,
            local,
            remote,
            kind,
        };
        if let Some((old, new)) = trackers[s].on_send(p.flags, p.seq, p.len) {
            events[s].push(ev(p.src, p.dst, TraceKind::StateChange { old, new }));
        }
        events[s].push(ev(
            p.src,
            p.dst,
            TraceKind::Segment(seg(Direction::Sent, isn[s], isn[r])),
        ));
        events[r].push(ev(
            p.dst,
            p.src,
            TraceKind::Segment(seg(Direction::Received, isn[r], isn[s])),
        ));
        if let Some((old, new)) = trackers[r].on_receive(p.flags, p.ack) {
            events[r].push(ev(p.dst, p.src, TraceKind::StateChange { old, new }));
        }
    }
    let [left_events, right_events] = events;
    Timeline::from_traces(
        Endpoint::new(opts.left_label.clone(), left_addr, initial[0]),
        left_events,
        Endpoint::new(opts.right_label.clone(), right_addr, initial[1]),
        right_events,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_layers_are_stripped() {
        let ip = [0x45u8, 0, 0, 20];
        let mut eth = vec![0u8; 12];
        eth.extend_from_slice(&[0x08, 0x00]);
        eth.extend_from_slice(&ip);
        assert_eq!(ip_payload(LINK_ETHERNET, &eth), Some(&ip[..]));
        let mut vlan = vec![0u8; 12];
        vlan.extend_from_slice(&[0x81, 0x00, 0, 5, 0x08, 0x00]);
        vlan.extend_from_slice(&ip);
        assert_eq!(ip_payload(LINK_ETHERNET, &vlan), Some(&ip[..]));
        let mut arp = vec![0u8; 12];
        arp.extend_from_slice(&[0x08, 0x06, 1, 2]);
        assert_eq!(ip_payload(LINK_ETHERNET, &arp), None);
        let mut sll = vec![0u8; 14];
        sll.extend_from_slice(&[0x08, 0x00]);
        sll.extend_from_slice(&ip);
        assert_eq!(ip_payload(LINK_LINUX_SLL, &sll), Some(&ip[..]));
        let mut sll2 = vec![0x86, 0xdd];
        sll2.extend_from_slice(&[0u8; 18]);
        sll2.extend_from_slice(&ip);
        assert_eq!(ip_payload(LINK_LINUX_SLL2, &sll2), Some(&ip[..]));
        let mut null = vec![2u8, 0, 0, 0];
        null.extend_from_slice(&ip);
        assert_eq!(ip_payload(LINK_NULL, &null), Some(&ip[..]));
        assert_eq!(ip_payload(LINK_ETHERNET, &[0u8; 5]), None);
        assert_eq!(ip_payload(LINK_LINUX_SLL2, &[]), None);
    }

    #[test]
    fn pcapng_timestamp_resolutions() {
        assert_eq!(ts_to_micros(1_500_000, 6), 1_500_000);
        assert_eq!(ts_to_micros(1_500_000_000, 9), 1_500_000);
        assert_eq!(ts_to_micros(3, 0), 3_000_000);
        assert_eq!(ts_to_micros(1 << 20, 0x80 | 20), 1_000_000);
    }

    #[test]
    fn empty_and_short_files_get_our_wording() {
        let e = timeline_from_pcap(&[], &PcapOptions::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "not a pcap or pcapng capture: the file is empty"
        );
        let e = timeline_from_pcap(&[0xd4, 0xc3, 0xb2], &PcapOptions::default()).unwrap_err();
        assert!(
            e.to_string().contains("shorter than a pcap file header"),
            "{e}"
        );
    }
}
