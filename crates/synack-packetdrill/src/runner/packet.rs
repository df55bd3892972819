//! Packets between the script and the engine: building the IP packets a script
//! injects (`<` lines, with the exact option list the script wrote), reading the
//! packets the engine sends back into script notation, and comparing them field by
//! field with a `>` line the way packetdrill's `run_packet.c` does.
//!
//! Sequence spaces: the remote side's numbers are used as the script writes them
//! (packetdrill keeps the scripted remote ISN as the live one); the engine's numbers
//! are shifted by `local_offset` = live ISN − scripted ISN, learned from the engine's
//! first SYN or SYN-ACK of each connection.

use crate::ast::{
    Direction, OptionSpec, PacketBody, PacketEvent, SackBlock, TcpFlags as SpecFlags,
    TcpSegmentSpec, TosSpec,
};
use std::net::{IpAddr, SocketAddr};
use synack_wire::checksum;
use synack_wire::tcp::options_iter;
use synack_wire::{IpRepr, TcpOption, TcpSegment, PROTO_TCP};

/// A TCP segment the engine sent, with its fields raw (live sequence space).
#[derive(Debug, Clone)]
pub(crate) struct Outbound {
    /// Source (engine) address and port.
    pub(crate) src: SocketAddr,
    /// Destination (remote) address and port.
    pub(crate) dst: SocketAddr,
    pub(crate) seq: u32,
    pub(crate) ack: u32,
    /// Control bits: the 8 classic bits, plus AE as bit 8.
    pub(crate) flags: u16,
    pub(crate) window: u16,
    pub(crate) urgent: u16,
    /// Options in wire order, values raw.
    pub(crate) options: Vec<OptionSpec>,
    pub(crate) payload_len: usize,
    /// IPv4 TOS / IPv6 traffic class.
    pub(crate) tos: u8,
    /// TTL / hop limit.
    pub(crate) ttl: u8,
}

const FIN: u16 = 0x01;
const SYN: u16 = 0x02;
const RST: u16 = 0x04;
const PSH: u16 = 0x08;
const ACK: u16 = 0x10;
const URG: u16 = 0x20;
const ECE: u16 = 0x40;
const CWR: u16 = 0x80;
const AE: u16 = 0x100;

impl Outbound {
    /// SYN set.
    pub(crate) fn syn(&self) -> bool {
        self.flags & SYN != 0
    }

    /// The timestamp option's TSval, if present.
    pub(crate) fn ts_val(&self) -> Option<u32> {
        self.options.iter().find_map(|o| match o {
            OptionSpec::Timestamp { val, .. } => Some(*val),
            _ => None,
        })
    }

    /// This segment in script notation, its sequence number shifted into script
    /// space by `local_offset`.
    /// Make the SACK blocks relative to the remote ISN `remote_isn`.
    pub(crate) fn unoffset_sacks(&mut self, remote_isn: u32) {
        for o in &mut self.options {
            if let OptionSpec::Sack(blocks) = o {
                for b in blocks {
                    b.left = b.left.wrapping_sub(remote_isn);
                    b.right = b.right.wrapping_sub(remote_isn);
                }
            }
        }
    }

    pub(crate) fn to_script(&self, local_offset: u32) -> PacketEvent {
        let seq = self.seq.wrapping_sub(local_offset);
        let f = self.flags;
        let flags = SpecFlags {
            fin: f & FIN != 0,
            syn: f & SYN != 0,
            rst: f & RST != 0,
            psh: f & PSH != 0,
            ack: f & ACK != 0,
            urg: f & URG != 0,
            ece: f & ECE != 0,
            cwr: f & CWR != 0,
            ae: f & AE != 0,
            ace: None,
        };
        PacketEvent {
            direction: Direction::Outbound,
            encapsulation: Vec::new(),
            ip: Default::default(),
            endpoints: None,
            body: PacketBody::Tcp(TcpSegmentSpec {
                flags,
                seq_start: seq,
                seq_end: seq.wrapping_add(self.payload_len as u32),
                payload_len: self.payload_len as u16,
                ack: (f & ACK != 0).then_some(self.ack),
                window: Some(self.window),
                urgent: (f & URG != 0).then_some(self.urgent),
                options: Some(self.options.clone()),
            }),
        }
    }
}

/// Read an IP packet the engine sent. Only TCP is expected from the engine.
pub(crate) fn parse_outbound(bytes: &[u8]) -> Result<Outbound, String> {
    let (ip, payload) = IpRepr::parse(bytes).map_err(|e| format!("bad IP packet: {e}"))?;
    if ip.protocol != PROTO_TCP {
        return Err(format!("non-TCP packet (protocol {})", ip.protocol));
    }
    let seg = TcpSegment::new_checked(payload).map_err(|e| format!("bad TCP header: {e}"))?;
    let mut options = Vec::new();
    for o in options_iter(seg.options()) {
        let o = o.map_err(|e| format!("bad TCP option: {e}"))?;
        options.push(match o {
            TcpOption::EndOfList => OptionSpec::Eol,
            TcpOption::NoOp => OptionSpec::Nop,
            TcpOption::Mss(m) => OptionSpec::Mss(m),
            TcpOption::WindowScale(s) => OptionSpec::WindowScale(s),
            TcpOption::SackPermitted => OptionSpec::SackPermitted,
            TcpOption::Sack(raw) => OptionSpec::Sack(
                raw.chunks_exact(8)
                    .map(|c| SackBlock {
                        left: u32::from_be_bytes([c[0], c[1], c[2], c[3]]),
                        right: u32::from_be_bytes([c[4], c[5], c[6], c[7]]),
                    })
                    .collect(),
            ),
            TcpOption::Timestamp { tsval, tsecr } => OptionSpec::Timestamp {
                val: tsval,
                ecr: tsecr,
            },
            TcpOption::Unknown { kind, data } => match kind {
                19 => OptionSpec::Md5(data.to_vec()),
                34 => OptionSpec::FastOpen(data.to_vec()),
                254 if data.starts_with(&[0xF9, 0x89]) => {
                    OptionSpec::FastOpenExp(data[2..].to_vec())
                }
                _ => return Err(format!("unknown TCP option kind {kind}")),
            },
        });
    }
    let (tos, ttl) = match bytes[0] >> 4 {
        4 => (bytes[1], bytes[8]),
        _ => (((bytes[0] & 0x0f) << 4) | (bytes[1] >> 4), bytes[7]),
    };
    let raw = seg.payload();
    let ae = u16::from(payload[12] & 1) << 8;
    Ok(Outbound {
        src: SocketAddr::new(ip.src, seg.src_port()),
        dst: SocketAddr::new(ip.dst, seg.dst_port()),
        seq: seg.seq_number(),
        ack: seg.ack_number(),
        flags: u16::from(seg.flags().0) | ae,
        window: seg.window(),
        urgent: seg.urgent(),
        options,
        payload_len: raw
            .len()
            .min(ip.payload_len.saturating_sub(seg.header_len())),
        tos,
        ttl,
    })
}

/// The wire bits of script flags (AE as bit 8).
fn spec_flags_bits(f: &SpecFlags) -> u16 {
    let mut v = 0;
    for (set, bit) in [
        (f.fin, FIN),
        (f.syn, SYN),
        (f.rst, RST),
        (f.psh, PSH),
        (f.ack, ACK),
        (f.urg, URG),
        (f.ece, ECE),
        (f.cwr, CWR),
        (f.ae, AE),
    ] {
        if set {
            v |= bit;
        }
    }
    if let Some(ace) = f.ace {
        // The ACE counter spans AE, CWR, ECE (AccECN).
        for (mask, bit) in [(4, AE), (2, CWR), (1, ECE)] {
            if ace & mask != 0 {
                v |= bit;
            }
        }
    }
    v
}

/// Encode an option list as the script wrote it. `sack_offset` shifts SACK block
/// edges (they acknowledge the engine's data); `ecr` replaces the TS echo reply.
pub(crate) fn encode_options(
    options: &[OptionSpec],
    sack_offset: u32,
    ecr: impl Fn(u32) -> u32,
) -> Vec<u8> {
    let mut out = Vec::new();
    for o in options {
        match o {
            OptionSpec::Nop => out.push(1),
            OptionSpec::Eol => out.push(0),
            OptionSpec::Mss(m) => {
                out.extend_from_slice(&[2, 4]);
                out.extend_from_slice(&m.to_be_bytes());
            }
            OptionSpec::WindowScale(s) => out.extend_from_slice(&[3, 3, *s]),
            OptionSpec::SackPermitted => out.extend_from_slice(&[4, 2]),
            OptionSpec::Sack(blocks) => {
                out.extend_from_slice(&[5, (2 + 8 * blocks.len()) as u8]);
                for b in blocks {
                    out.extend_from_slice(&b.left.wrapping_add(sack_offset).to_be_bytes());
                    out.extend_from_slice(&b.right.wrapping_add(sack_offset).to_be_bytes());
                }
            }
            OptionSpec::Timestamp { val, ecr: e } => {
                out.extend_from_slice(&[8, 10]);
                out.extend_from_slice(&val.to_be_bytes());
                out.extend_from_slice(&ecr(*e).to_be_bytes());
            }
            OptionSpec::Md5(d) => {
                out.extend_from_slice(&[19, (2 + d.len()) as u8]);
                out.extend_from_slice(d);
            }
            OptionSpec::FastOpen(c) => {
                out.extend_from_slice(&[34, (2 + c.len()) as u8]);
                out.extend_from_slice(c);
            }
            OptionSpec::FastOpenExp(c) => {
                out.extend_from_slice(&[254, (4 + c.len()) as u8, 0xF9, 0x89]);
                out.extend_from_slice(c);
            }
            OptionSpec::AccEcn(fields) => {
                let kind = match fields.first() {
                    Some((crate::ast::AccEcnField::Ceb, _)) => 174,
                    _ => 172,
                };
                out.extend_from_slice(&[kind, (2 + 3 * fields.len()) as u8]);
                for (_, v) in fields {
                    out.extend_from_slice(&v.to_be_bytes()[1..]);
                }
            }
        }
    }
    // Pad to a 32-bit boundary with EOL (RFC 9293 §3.1 "Padding").
    while out.len() % 4 != 0 {
        out.push(0);
    }
    out
}

/// Fields of a TCP segment to inject.
pub(crate) struct InboundTcp<'a> {
    pub(crate) src: SocketAddr,
    pub(crate) dst: SocketAddr,
    pub(crate) seq: u32,
    pub(crate) ack: u32,
    pub(crate) flags: &'a SpecFlags,
    pub(crate) window: u16,
    pub(crate) urgent: u16,
    pub(crate) options: &'a [u8],
    pub(crate) payload_len: usize,
    pub(crate) tos: u8,
    pub(crate) ttl: u8,
}

/// Build a complete IP packet (IPv4 or IPv6 by the address family) carrying `t`,
/// with correct checksums. The payload is zeros, as packetdrill sends.
pub(crate) fn build_tcp(t: &InboundTcp<'_>) -> Result<Vec<u8>, String> {
    if t.options.len() > 40 {
        return Err(format!("TCP options too long ({} bytes)", t.options.len()));
    }
    let tcp_len = 20 + t.options.len() + t.payload_len;
    let mut tcp = vec![0u8; tcp_len];
    tcp[0..2].copy_from_slice(&t.src.port().to_be_bytes());
    tcp[2..4].copy_from_slice(&t.dst.port().to_be_bytes());
    tcp[4..8].copy_from_slice(&t.seq.to_be_bytes());
    tcp[8..12].copy_from_slice(&t.ack.to_be_bytes());
    let bits = spec_flags_bits(t.flags);
    tcp[12] = (((20 + t.options.len()) / 4) as u8) << 4 | (bits >> 8) as u8;
    tcp[13] = bits as u8;
    tcp[14..16].copy_from_slice(&t.window.to_be_bytes());
    tcp[18..20].copy_from_slice(&t.urgent.to_be_bytes());
    tcp[20..20 + t.options.len()].copy_from_slice(t.options);
    let pseudo = checksum::pseudo_header(t.src.ip(), t.dst.ip(), PROTO_TCP, tcp_len as u32);
    let c = checksum::finish(checksum::combine(pseudo, checksum::sum(&tcp)));
    tcp[16..18].copy_from_slice(&c.to_be_bytes());
    let mut out = ip_header(t.src.ip(), t.dst.ip(), tcp_len, t.tos, t.ttl)?;
    out.extend_from_slice(&tcp);
    Ok(out)
}

/// An IPv4 (20 bytes, DF set) or IPv6 (40 bytes) header for a TCP payload.
fn ip_header(
    src: IpAddr,
    dst: IpAddr,
    payload_len: usize,
    tos: u8,
    ttl: u8,
) -> Result<Vec<u8>, String> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let total = 20 + payload_len;
            if total > 65535 {
                return Err("packet too long".to_string());
            }
            let mut h = vec![0u8; 20];
            h[0] = 0x45;
            h[1] = tos;
            h[2..4].copy_from_slice(&(total as u16).to_be_bytes());
            h[6] = 0x40;
            h[8] = ttl;
            h[9] = PROTO_TCP;
            h[12..16].copy_from_slice(&s.octets());
            h[16..20].copy_from_slice(&d.octets());
            let c = checksum::checksum(&h);
            h[10..12].copy_from_slice(&c.to_be_bytes());
            Ok(h)
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            if payload_len > 65535 {
                return Err("packet too long".to_string());
            }
            let mut h = vec![0u8; 40];
            h[0] = 0x60 | (tos >> 4);
            h[1] = tos << 4;
            h[4..6].copy_from_slice(&(payload_len as u16).to_be_bytes());
            h[6] = PROTO_TCP;
            h[7] = ttl;
            h[8..24].copy_from_slice(&s.octets());
            h[24..40].copy_from_slice(&d.octets());
            Ok(h)
        }
        _ => Err("mixed address families".to_string()),
    }
}

/// The TOS byte an inbound packet carries for the script's `[...]` IP info.
pub(crate) fn inbound_tos(spec: Option<TosSpec>) -> u8 {
    match spec {
        Some(TosSpec::Tos(t)) => t,
        Some(TosSpec::Ecn(e)) => match e {
            crate::ast::IpEcn::NotEct => 0,
            crate::ast::IpEcn::Ect1 => 1,
            crate::ast::IpEcn::Ect0 => 2,
            crate::ast::IpEcn::Ce => 3,
        },
        Some(TosSpec::Ect01) | None => 0,
    }
}

/// Compare the engine's segment `a` (already mapped to script space: `a.seq` is
/// relative) with the expected packet `p`. Returns a packetdrill-style description
/// of the first field that differs.
pub(crate) fn compare(p: &PacketEvent, s: &TcpSegmentSpec, a: &Outbound) -> Result<(), String> {
    fn field(name: &str, expected: u64, actual: u64) -> Result<(), String> {
        if expected == actual {
            Ok(())
        } else {
            Err(format!(
                "live packet field {name}: expected: {expected} vs actual: {actual}"
            ))
        }
    }
    if let Some(ep) = &p.endpoints {
        field("tcp_src_port", ep.src_port.into(), a.src.port().into())?;
        field("tcp_dst_port", ep.dst_port.into(), a.dst.port().into())?;
    }
    if let Some(tos) = p.ip.tos {
        let ecn = a.tos & 3;
        match tos {
            TosSpec::Tos(t) => field("tos", t.into(), a.tos.into())?,
            TosSpec::Ecn(_) => field("ip_ecn", inbound_tos(Some(tos)).into(), ecn.into())?,
            TosSpec::Ect01 => {
                if ecn != 1 && ecn != 2 {
                    return Err(format!(
                        "live packet field ip_ecn: expected: ECT(0) or ECT(1) vs actual: {ecn}"
                    ));
                }
            }
        }
    }
    if let Some(ttl) = p.ip.ttl {
        field("ttl", ttl.into(), a.ttl.into())?;
    }
    let want = spec_flags_bits(&s.flags);
    for (bit, name) in [
        (FIN, "tcp_fin"),
        (SYN, "tcp_syn"),
        (RST, "tcp_rst"),
        (PSH, "tcp_psh"),
        (ACK, "tcp_ack"),
        (URG, "tcp_urg"),
        (ECE, "tcp_ece"),
        (CWR, "tcp_cwr"),
        (AE, "tcp_ae"),
    ] {
        field(
            name,
            u64::from(want & bit != 0),
            u64::from(a.flags & bit != 0),
        )?;
    }
    field("tcp_seq", s.seq_start.into(), a.seq.into())?;
    field(
        "tcp_payload_len",
        s.payload_len.into(),
        a.payload_len as u64,
    )?;
    if let Some(ack) = s.ack {
        field("tcp_ack_seq", ack.into(), a.ack.into())?;
    }
    if let Some(w) = s.window {
        field("tcp_window", w.into(), a.window.into())?;
    }
    if let Some(u) = s.urgent {
        field("tcp_urg_ptr", u.into(), a.urgent.into())?;
    }
    if let Some(opts) = &s.options {
        compare_options(opts, &a.options)?;
    }
    Ok(())
}

/// Options must come in the same order with the same kinds and values; timestamp
/// values are not compared (packetdrill's default `--tcp_ts_tick_usecs=0`).
fn compare_options(want: &[OptionSpec], got: &[OptionSpec]) -> Result<(), String> {
    let bad = || {
        Err(format!(
            "bad outbound TCP options: expected <{}> vs actual <{}>",
            join(want),
            join(got)
        ))
    };
    if want.len() != got.len() {
        return bad();
    }
    for (w, g) in want.iter().zip(got) {
        let same = match (w, g) {
            (OptionSpec::Timestamp { .. }, OptionSpec::Timestamp { .. }) => true,
            _ => w == g,
        };
        if !same {
            return bad();
        }
    }
    Ok(())
}

fn join(opts: &[OptionSpec]) -> String {
    opts.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_then_parse_round_trip() {
        let flags = SpecFlags::from_spec("S.").unwrap();
        let opts = encode_options(
            &[
                OptionSpec::Mss(1460),
                OptionSpec::Nop,
                OptionSpec::Nop,
                OptionSpec::SackPermitted,
                OptionSpec::Nop,
                OptionSpec::WindowScale(7),
            ],
            0,
            |e| e,
        );
        let bytes = build_tcp(&InboundTcp {
            src: "192.168.0.1:8080".parse().unwrap(),
            dst: "192.0.2.1:40000".parse().unwrap(),
            seq: 1000,
            ack: 1,
            flags: &flags,
            window: 65535,
            urgent: 0,
            options: &opts,
            payload_len: 10,
            tos: 0,
            ttl: 64,
        })
        .unwrap();
        // The engine's own parser accepts the checksums.
        assert!(synack_wire::parse_packet(&bytes, true).is_ok());
        let o = parse_outbound(&bytes).unwrap();
        assert_eq!(o.seq, 1000);
        assert_eq!(o.payload_len, 10);
        let shown = o.to_script(1000).to_string();
        assert_eq!(
            shown,
            "> S. 0:10(10) ack 1 win 65535 <mss 1460,nop,nop,sackOK,nop,wscale 7>"
        );
    }
}
