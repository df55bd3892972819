//! pcap round trips: captures written here with pcap-file from hand-built IPv4/TCP
//! bytes (checksums computed in the test), read back into timelines whose inferred
//! states are checked; malformed captures must give an error, never a panic.

use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::DataLink;
use std::time::Duration;
use synack_core::trace::TraceKind;
use synack_core::State;
use synack_viz::{
    render_text, timeline_from_pcap, PcapError, PcapOptions, Side, TextOptions, Timeline,
};

fn csum(chunks: &[&[u8]]) -> u16 {
    let mut sum = 0u32;
    let mut odd: Option<u8> = None;
    for c in chunks {
        for &b in c.iter() {
            match odd.take() {
                Some(hi) => sum += u32::from(u16::from_be_bytes([hi, b])),
                None => odd = Some(b),
            }
        }
    }
    if let Some(hi) = odd {
        sum += u32::from(u16::from_be_bytes([hi, 0]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

struct P {
    t_us: u64,
    from_client: bool,
    flags: u8,
    seq: u32,
    ack: u32,
    window: u16,
    options: Vec<u8>,
    payload: &'static [u8],
}

const CLIENT: [u8; 4] = [10, 0, 0, 1];
const SERVER: [u8; 4] = [10, 0, 0, 2];

/// IPv4 + TCP bytes with valid checksums.
fn ipv4_tcp(p: &P, cport: u16) -> Vec<u8> {
    let (src, dst, sport, dport) = if p.from_client {
        (CLIENT, SERVER, cport, 80)
    } else {
        (SERVER, CLIENT, 80, cport)
    };
    let mut tcp = Vec::new();
    tcp.extend_from_slice(&sport.to_be_bytes());
    tcp.extend_from_slice(&dport.to_be_bytes());
    tcp.extend_from_slice(&p.seq.to_be_bytes());
    tcp.extend_from_slice(&p.ack.to_be_bytes());
    let mut opts = p.options.clone();
    while opts.len() % 4 != 0 {
        opts.push(1); // NOP padding
    }
    tcp.push((((20 + opts.len()) / 4) as u8) << 4);
    tcp.push(p.flags);
    tcp.extend_from_slice(&p.window.to_be_bytes());
    tcp.extend_from_slice(&[0, 0, 0, 0]);
    tcp.extend_from_slice(&opts);
    tcp.extend_from_slice(p.payload);
    let len = tcp.len() as u16;
    let pseudo = [&src[..], &dst[..], &[0, 6], &len.to_be_bytes()[..]].concat();
    let c = csum(&[&pseudo, &tcp]);
    tcp[16..18].copy_from_slice(&c.to_be_bytes());

    let total = 20 + tcp.len() as u16;
    let mut ip = vec![0x45, 0];
    ip.extend_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&[0, 0, 0x40, 0, 64, 6, 0, 0]);
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&dst);
    let c = csum(&[&ip]);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    ip.extend_from_slice(&tcp);
    ip
}

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const SYNACK: u8 = 0x12;
const PSHACK: u8 = 0x18;
const FINACK: u8 = 0x11;
const RST: u8 = 0x04;

fn p(t_ms: f64, from_client: bool, flags: u8, seq: u32, ack: u32, payload: &'static [u8]) -> P {
    P {
        t_us: (t_ms * 1000.0) as u64,
        from_client,
        flags,
        seq,
        ack,
        window: 502,
        options: Vec::new(),
        payload,
    }
}

/// Handshake, "hello" (sent twice: one retransmission) and "world", close from the
/// client. Client ISN 1000, server ISN 5000; both SYNs offer window scale 7.
fn conversation() -> Vec<P> {
    let syn_opts = vec![2, 4, 0x05, 0xb4, 1, 3, 3, 7];
    let mut syn = p(0.0, true, SYN, 1000, 0, b"");
    syn.options = syn_opts.clone();
    syn.window = 64240;
    let mut synack = p(10.0, false, SYNACK, 5000, 1001, b"");
    synack.options = syn_opts;
    synack.window = 65160;
    vec![
        syn,
        synack,
        p(20.0, true, ACK, 1001, 5001, b""),
        p(20.5, true, PSHACK, 1001, 5001, b"hello"),
        p(25.0, true, PSHACK, 1001, 5001, b"hello"),
        p(30.5, false, ACK, 5001, 1006, b""),
        p(31.0, false, PSHACK, 5001, 1006, b"world"),
        p(41.0, true, ACK, 1006, 5006, b""),
        p(50.0, true, FINACK, 1006, 5006, b""),
        p(60.0, false, ACK, 5006, 1007, b""),
        p(61.0, false, FINACK, 5006, 1007, b""),
        p(71.0, true, ACK, 1007, 5007, b""),
    ]
}

fn frame(link: DataLink, ip: Vec<u8>) -> Vec<u8> {
    match link {
        DataLink::RAW => ip,
        DataLink::ETHERNET => {
            let mut f = vec![
                0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x81, 0x00, 0, 7, 0x08, 0x00,
            ];
            f.extend_from_slice(&ip);
            f
        }
        DataLink::LINUX_SLL => {
            let mut f = vec![0u8; 14];
            f.extend_from_slice(&[0x08, 0x00]);
            f.extend_from_slice(&ip);
            f
        }
        DataLink::LINUX_SLL2 => {
            let mut f = vec![0x08, 0x00];
            f.extend_from_slice(&[0u8; 18]);
            f.extend_from_slice(&ip);
            f
        }
        _ => unreachable!(),
    }
}

fn capture(link: DataLink, conns: &[(u16, Vec<P>)]) -> Vec<u8> {
    let header = PcapHeader {
        datalink: link,
        snaplen: 262_144,
        ..PcapHeader::default()
    };
    let mut w = PcapWriter::with_header(Vec::new(), header).unwrap();
    let mut all: Vec<(u64, Vec<u8>)> = Vec::new();
    for (port, pkts) in conns {
        for pk in pkts {
            all.push((pk.t_us, frame(link, ipv4_tcp(pk, *port))));
        }
    }
    all.sort_by_key(|(t, _)| *t);
    for (t, bytes) in all {
        let ts = Duration::from_micros(1_700_000_000_000_000 + t);
        w.write_packet(&PcapPacket::new(ts, bytes.len() as u32, &bytes))
            .unwrap();
    }
    w.into_writer()
}

fn states(tl: &Timeline, side: Side) -> Vec<State> {
    tl.entries
        .iter()
        .filter(|e| e.side == side)
        .filter_map(|e| match e.event.kind {
            TraceKind::StateChange { new, .. } => Some(new),
            _ => None,
        })
        .collect()
}

fn check_conversation(tl: &Timeline) {
    assert_eq!(tl.left.addr, "10.0.0.1:40000".parse().unwrap());
    assert_eq!(tl.right.addr, "10.0.0.2:80".parse().unwrap());
    assert_eq!(tl.left.initial_state, State::Closed);
    assert_eq!(tl.right.initial_state, State::Listen);
    assert_eq!(tl.isn_left, Some(1000));
    assert_eq!(tl.isn_right, Some(5000));
    use State::*;
    assert_eq!(
        states(tl, Side::Left),
        vec![SynSent, Established, FinWait1, FinWait2, TimeWait]
    );
    assert_eq!(
        states(tl, Side::Right),
        vec![SynReceived, Established, CloseWait, LastAck, Closed]
    );
    // Every capture packet is both sent and received: nothing lost.
    assert!(tl.entries.iter().all(|e| !e.lost));
    let retx: Vec<_> = tl
        .transmissions()
        .filter(|(_, _, s)| s.retransmission)
        .map(|(_, side, s)| (side, s.seq, s.retransmit_count))
        .collect();
    assert_eq!(retx, vec![(Side::Left, 1001, 1)]);
    // Window scaling applied after the handshake (RFC 7323 §2.3).
    let ack = tl
        .transmissions()
        .find(|(_, _, s)| s.flags.0 == ACK)
        .unwrap()
        .2;
    assert_eq!(ack.window_bytes, 502 << 7);
}

#[test]
fn raw_ip_capture_round_trip() {
    let bytes = capture(DataLink::RAW, &[(40000, conversation())]);
    let conns = timeline_from_pcap(&bytes, &PcapOptions::default()).unwrap();
    assert_eq!(conns.len(), 1);
    assert_eq!(conns[0].packets, 12);
    check_conversation(&conns[0].timeline);
    let text = render_text(&conns[0].timeline, &TextOptions::default());
    if let Some(dir) = std::env::var_os("VIZ_DUMP_DIR") {
        let dir = std::path::Path::new(&dir);
        std::fs::write(dir.join("pcap_ladder.txt"), &text).unwrap();
        let svg = synack_viz::render_svg_ladder(&conns[0].timeline, &Default::default());
        std::fs::write(dir.join("pcap_ladder.svg"), svg).unwrap();
    }
    assert!(text.contains("SYN  seq=A (1000)"), "{text}");
    assert!(text.contains("SYN-ACK  seq=B (5000)  ack=A+1"), "{text}");
    assert!(text.contains("\"hello\""), "{text}");
    assert!(text.contains("(retransmission 1)"), "{text}");
    assert!(
        text.contains("TIME-WAIT 10 ms on the client (still in TIME-WAIT at the end)"),
        "{text}"
    );
}

#[test]
fn link_layers_round_trip() {
    for link in [
        DataLink::ETHERNET,
        DataLink::LINUX_SLL,
        DataLink::LINUX_SLL2,
    ] {
        let bytes = capture(link, &[(40000, conversation())]);
        let conns = timeline_from_pcap(&bytes, &PcapOptions::default())
            .unwrap_or_else(|e| panic!("{link:?}: {e}"));
        assert_eq!(conns.len(), 1, "{link:?}");
        check_conversation(&conns[0].timeline);
    }
}

#[test]
fn connections_are_split_and_selected() {
    let refused = vec![
        p(5.0, true, SYN, 7000, 0, b""),
        p(6.0, false, RST | ACK, 0, 7001, b""),
    ];
    let bytes = capture(DataLink::RAW, &[(40000, conversation()), (40001, refused)]);
    let all = timeline_from_pcap(&bytes, &PcapOptions::default()).unwrap();
    assert_eq!(all.len(), 2);
    let one = timeline_from_pcap(
        &bytes,
        &PcapOptions {
            connection: Some(1),
            ..PcapOptions::default()
        },
    )
    .unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].index, 1);
    let tl = &one[0].timeline;
    assert_eq!(tl.left.addr.port(), 40001);
    // Nobody listened: the server side stays CLOSED, the client is reset.
    assert_eq!(tl.right.initial_state, State::Closed);
    assert_eq!(states(tl, Side::Left), vec![State::SynSent, State::Closed]);
    assert_eq!(states(tl, Side::Right), vec![]);
    let err = timeline_from_pcap(
        &bytes,
        &PcapOptions {
            connection: Some(2),
            ..PcapOptions::default()
        },
    )
    .unwrap_err();
    assert_eq!(err, PcapError::NoSuchConnection { index: 2, count: 2 });
}

#[test]
fn malformed_captures_are_errors_not_panics() {
    let opts = PcapOptions::default();
    assert!(matches!(
        timeline_from_pcap(b"", &opts),
        Err(PcapError::NotPcap(_))
    ));
    assert!(matches!(
        timeline_from_pcap(b"definitely not a capture file at all", &opts),
        Err(PcapError::NotPcap(_))
    ));
    let ng = [0x0a, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0];
    assert!(matches!(
        timeline_from_pcap(&ng, &opts),
        Err(PcapError::NotPcap(_) | PcapError::Truncated { .. })
    ));
    // Unsupported link type (IEEE 802.11 = 105).
    let header = PcapHeader {
        datalink: DataLink::IEEE802_11,
        ..PcapHeader::default()
    };
    let w = PcapWriter::with_header(Vec::new(), header).unwrap();
    assert_eq!(
        timeline_from_pcap(&w.into_writer(), &opts),
        Err(PcapError::UnsupportedLinkType(105))
    );
    // A valid capture with no TCP in it.
    let header = PcapHeader {
        datalink: DataLink::RAW,
        ..PcapHeader::default()
    };
    let mut w = PcapWriter::with_header(Vec::new(), header).unwrap();
    w.write_packet(&PcapPacket::new(Duration::ZERO, 3, &[0x45, 0, 0]))
        .unwrap();
    assert_eq!(
        timeline_from_pcap(&w.into_writer(), &opts),
        Err(PcapError::NoTcpConnection)
    );
    // Every prefix and many corruptions of a good capture: Ok or Err, never a panic.
    let good = capture(DataLink::ETHERNET, &[(40000, conversation())]);
    for cut in 0..good.len() {
        let _ = timeline_from_pcap(&good[..cut], &opts);
    }
    let mut x = 0x2545_f491u32;
    for _ in 0..2000 {
        let mut bad = good.clone();
        for _ in 0..4 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let i = x as usize % bad.len();
            bad[i] ^= (x >> 24) as u8 | 1;
        }
        if let Ok(conns) = timeline_from_pcap(&bad, &opts) {
            for c in conns {
                let _ = render_text(&c.timeline, &TextOptions::default());
            }
        }
    }
}

#[test]
fn a_capture_cut_off_mid_record_is_an_error() {
    let good = capture(DataLink::RAW, &[(40000, conversation())]);
    // Cut inside the last record's bytes, and inside its 16-byte record header.
    for cut in [good.len() - 3, good.len() - 40 - 16 + 5] {
        match timeline_from_pcap(&good[..cut], &PcapOptions::default()) {
            Err(PcapError::Truncated { records, offset }) => {
                assert_eq!(records, 11, "cut at {cut}");
                assert!(offset < cut as u64);
            }
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
    assert!(timeline_from_pcap(&good, &PcapOptions::default()).is_ok());
}

/// The conversation as pcapng (one interface with microsecond timestamps, as
/// Wireshark writes by default).
fn capture_ng(link: DataLink, pkts: &[P]) -> Vec<u8> {
    use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
    use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionBlock;
    use pcap_file::pcapng::PcapNgWriter;
    let mut w = PcapNgWriter::new(Vec::new()).unwrap();
    w.write_pcapng_block(InterfaceDescriptionBlock::new(link, 262_144))
        .unwrap();
    for pk in pkts {
        let bytes = frame(link, ipv4_tcp(pk, 40000));
        // The raw timestamp is in the interface's unit (µs); pcap-file carries it in
        // a Duration's nanoseconds field.
        let raw = 1_700_000_000_000_000 + pk.t_us;
        w.write_pcapng_block(EnhancedPacketBlock {
            interface_id: 0,
            timestamp: Duration::from_nanos(raw),
            original_len: bytes.len() as u32,
            data: bytes.into(),
            options: vec![],
        })
        .unwrap();
    }
    w.into_inner()
}

#[test]
fn pcapng_reads_like_pcap() {
    let ng = capture_ng(DataLink::ETHERNET, &conversation());
    let conns = timeline_from_pcap(&ng, &PcapOptions::default()).unwrap();
    assert_eq!(conns.len(), 1);
    assert_eq!(conns[0].packets, 12);
    check_conversation(&conns[0].timeline);
    let classic = capture(DataLink::ETHERNET, &[(40000, conversation())]);
    let old = timeline_from_pcap(&classic, &PcapOptions::default()).unwrap();
    assert_eq!(conns[0].timeline, old[0].timeline);
    // Cut short: an error, not a shorter capture.
    assert!(matches!(
        timeline_from_pcap(&ng[..ng.len() - 10], &PcapOptions::default()),
        Err(PcapError::Truncated { .. })
    ));
}

#[test]
fn errors_display_on_one_line() {
    for e in [
        PcapError::NotPcap("wrong magic number".into()),
        PcapError::UnsupportedLinkType(105),
        PcapError::NoTcpConnection,
        PcapError::NoSuchConnection { index: 3, count: 1 },
        PcapError::Truncated {
            offset: 500,
            records: 3,
        },
    ] {
        let s = e.to_string();
        assert!(!s.is_empty() && !s.contains('\n'), "{s:?}");
    }
    let e = synack_viz::timeline_from_pcap_file(
        std::path::Path::new("no-such-dir/no-such-file.pcap"),
        &PcapOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(e, PcapError::Unreadable { .. }));
    assert!(e
        .to_string()
        .starts_with("cannot read no-such-dir/no-such-file.pcap"));
}
