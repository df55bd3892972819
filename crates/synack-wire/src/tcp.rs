//! The TCP header (RFC 9293 §3.1) and its options: MSS (§3.2), window scale and
//! timestamps (RFC 7323), SACK-permitted and SACK blocks (RFC 2018), NOP / EOL.
//!
//! [`TcpRepr`] is the parsed form the engine works with; [`TcpOption`] iterates the raw
//! option list in order (the packetdrill runner needs the exact layout).

use crate::Error;
use core::fmt;
use core::net::IpAddr;

/// The TCP control bits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    /// No more data from sender.
    pub const FIN: TcpFlags = TcpFlags(0x01);
    /// Synchronize sequence numbers.
    pub const SYN: TcpFlags = TcpFlags(0x02);
    /// Reset the connection.
    pub const RST: TcpFlags = TcpFlags(0x04);
    /// Push function.
    pub const PSH: TcpFlags = TcpFlags(0x08);
    /// Acknowledgment field is significant.
    pub const ACK: TcpFlags = TcpFlags(0x10);
    /// Urgent pointer field is significant.
    pub const URG: TcpFlags = TcpFlags(0x20);
    /// ECN-Echo (RFC 3168).
    pub const ECE: TcpFlags = TcpFlags(0x40);
    /// Congestion Window Reduced (RFC 3168).
    pub const CWR: TcpFlags = TcpFlags(0x80);

    /// True when every bit of `other` is set in `self`.
    #[inline]
    pub const fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }
    /// True when any bit of `other` is set in `self`.
    #[inline]
    pub const fn intersects(self, other: TcpFlags) -> bool {
        self.0 & other.0 != 0
    }
    /// True when FIN is set.
    #[inline]
    pub const fn fin(self) -> bool {
        self.0 & 0x01 != 0
    }
    /// True when SYN is set.
    #[inline]
    pub const fn syn(self) -> bool {
        self.0 & 0x02 != 0
    }
    /// True when RST is set.
    #[inline]
    pub const fn rst(self) -> bool {
        self.0 & 0x04 != 0
    }
    /// True when PSH is set.
    #[inline]
    pub const fn psh(self) -> bool {
        self.0 & 0x08 != 0
    }
    /// True when ACK is set.
    #[inline]
    pub const fn ack(self) -> bool {
        self.0 & 0x10 != 0
    }
    /// True when URG is set.
    #[inline]
    pub const fn urg(self) -> bool {
        self.0 & 0x20 != 0
    }
    /// The textbook name of the segment kind: "SYN", "SYN-ACK", "ACK", "FIN-ACK",
    /// "PSH-ACK", "RST", "RST-ACK", ... (flags joined by '-', in the order
    /// SYN, FIN, RST, PSH, URG, ACK; "NONE" when no bit is set).
    pub fn name(self) -> String {
        let mut parts: Vec<&str> = Vec::new();
        for (bit, n) in [
            (TcpFlags::SYN, "SYN"),
            (TcpFlags::FIN, "FIN"),
            (TcpFlags::RST, "RST"),
            (TcpFlags::PSH, "PSH"),
            (TcpFlags::URG, "URG"),
            (TcpFlags::ECE, "ECE"),
            (TcpFlags::CWR, "CWR"),
            (TcpFlags::ACK, "ACK"),
        ] {
            if self.contains(bit) {
                parts.push(n);
            }
        }
        if parts.is_empty() {
            "NONE".to_string()
        } else {
            parts.join("-")
        }
    }
}

impl core::ops::BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | rhs.0)
    }
}

impl core::ops::BitOrAssign for TcpFlags {
    fn bitor_assign(&mut self, rhs: TcpFlags) {
        self.0 |= rhs.0;
    }
}

impl fmt::Debug for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl fmt::Display for TcpFlags {
    /// packetdrill / tcpdump notation: `S`, `S.`, `.`, `P.`, `F.`, `R`, `R.`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        if self.syn() {
            s.push('S');
        }
        if self.fin() {
            s.push('F');
        }
        if self.rst() {
            s.push('R');
        }
        if self.psh() {
            s.push('P');
        }
        if self.urg() {
            s.push('U');
        }
        if self.contains(TcpFlags::ECE) {
            s.push('E');
        }
        if self.contains(TcpFlags::CWR) {
            s.push('W');
        }
        if self.ack() {
            s.push('.');
        }
        f.write_str(&s)
    }
}

/// One SACK block (RFC 2018 §3): `left` is the first sequence number of a received
/// block, `right` the sequence number just past it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SackBlock {
    /// Left edge of block (first byte).
    pub left: u32,
    /// Right edge of block (one past the last byte).
    pub right: u32,
}

/// Maximum number of SACK blocks kept in a [`TcpOptions`] (4 fit without timestamps).
pub const MAX_SACK_BLOCKS: usize = 4;

/// The TCP options synack understands, in parsed form. Emission always uses the
/// Linux layout (see [`TcpRepr::emit`]), so scripts written against Linux match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpOptions {
    /// Maximum segment size (kind 2), SYN only.
    pub mss: Option<u16>,
    /// Window scale shift count (kind 3), SYN only.
    pub window_scale: Option<u8>,
    /// SACK permitted (kind 4), SYN only.
    pub sack_permitted: bool,
    /// Timestamps (kind 8): (TSval, TSecr).
    pub timestamp: Option<(u32, u32)>,
    /// SACK blocks (kind 5); only the first `sack_len` entries are meaningful.
    pub sack: [SackBlock; MAX_SACK_BLOCKS],
    /// Number of SACK blocks present.
    pub sack_len: u8,
}

impl TcpOptions {
    /// The SACK blocks present.
    pub fn sack_blocks(&self) -> &[SackBlock] {
        &self.sack[..self.sack_len as usize]
    }
    /// Number of option bytes this set occupies when emitted in the Linux layout
    /// (a multiple of 4, at most 40).
    pub fn emitted_len(&self, syn: bool) -> usize {
        let _ = syn;
        todo!("synack-wire: TcpOptions::emitted_len")
    }
}

/// One raw option, as it appears in order in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpOption<'a> {
    /// Kind 0.
    EndOfList,
    /// Kind 1.
    NoOp,
    /// Kind 2.
    Mss(u16),
    /// Kind 3.
    WindowScale(u8),
    /// Kind 4.
    SackPermitted,
    /// Kind 5: the raw block bytes (a multiple of 8).
    Sack(&'a [u8]),
    /// Kind 8.
    Timestamp {
        /// TSval.
        tsval: u32,
        /// TSecr.
        tsecr: u32,
    },
    /// Any other kind, skipped by its length.
    Unknown {
        /// Option kind.
        kind: u8,
        /// Option data (after kind and length).
        data: &'a [u8],
    },
}

/// Parsed TCP header. Sequence numbers are raw `u32`s; the engine wraps them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpRepr {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number (meaningful only with ACK).
    pub ack: u32,
    /// Control bits.
    pub flags: TcpFlags,
    /// Window field as sent (unscaled).
    pub window: u16,
    /// Urgent pointer.
    pub urgent: u16,
    /// Options.
    pub options: TcpOptions,
}

/// Minimum TCP header length.
pub const TCP_HEADER_LEN: usize = 20;

impl TcpRepr {
    /// Header length (20 + options) this repr emits.
    pub fn header_len(&self) -> usize {
        TCP_HEADER_LEN + self.options.emitted_len(self.flags.syn())
    }

    /// Parse a TCP segment carried between `src` and `dst`. When `verify_checksum` is
    /// set, the checksum over the pseudo-header and the whole segment must verify.
    /// Returns the header and the payload.
    pub fn parse(
        segment: &[u8],
        src: IpAddr,
        dst: IpAddr,
        verify_checksum: bool,
    ) -> Result<(TcpRepr, &[u8]), Error> {
        let _ = (segment, src, dst, verify_checksum);
        todo!("synack-wire: TcpRepr::parse")
    }

    /// Emit header + checksum into `buf[..header_len()]`, where the payload is already in
    /// place at `buf[header_len()..header_len() + payload_len]`. Options are laid out
    /// like Linux: SYN: `mss, sackOK, TS, nop, wscale` (with TS) or
    /// `mss, nop, nop, sackOK, nop, wscale` (without), skipping absent ones the way Linux
    /// does; other segments: `nop, nop, TS` then `nop, nop, sack ...`.
    /// Returns header_len + payload_len.
    pub fn emit(
        &self,
        buf: &mut [u8],
        payload_len: usize,
        src: IpAddr,
        dst: IpAddr,
    ) -> Result<usize, Error> {
        let _ = (buf, payload_len, src, dst);
        todo!("synack-wire: TcpRepr::emit")
    }
}

/// Iterate the options of a raw options area in order. Malformed options end the
/// iteration with an `Err`.
pub fn options_iter(options: &[u8]) -> impl Iterator<Item = Result<TcpOption<'_>, Error>> + '_ {
    let _ = options;
    core::iter::empty()
}
