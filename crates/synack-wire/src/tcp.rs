//! The TCP header (RFC 9293 §3.1) and its options: MSS (§3.2), window scale and
//! timestamps (RFC 7323), SACK-permitted and SACK blocks (RFC 2018), TCP Fast Open
//! (RFC 7413 §4.1.1, and its experimental encoding under kind 254), NOP / EOL.
//!
//! [`TcpRepr`] is the parsed form the engine works with; [`TcpOption`] iterates the raw
//! option list in order (the packetdrill runner needs the exact layout).
//! [`TcpSegment`] is the zero-copy typed view the repr is built on.
//!
//! The two layouts nearly every segment has, no options and the RFC 7323 Appendix A
//! timestamp layout (NOP, NOP, TS), take fast paths in parse and emit that give the
//! same results, errors and bytes as the general option code. So do Linux's SYN
//! layouts (MSS, SACK-permitted, timestamps, window scale; and the same without
//! timestamps): parsed directly, and a SYN without SACK blocks or Fast Open emitted
//! from its option words.

use crate::checksum;
use crate::Error;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use core::net::{IpAddr, Ipv4Addr};

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
    /// Window scale shift count (kind 3), SYN only, as received: RFC 7323 §2.3 says a
    /// value above 14 is used as 14, which is the engine's job (the wire keeps it raw).
    pub window_scale: Option<u8>,
    /// SACK permitted (kind 4), SYN only.
    pub sack_permitted: bool,
    /// Timestamps (kind 8): (TSval, TSecr).
    pub timestamp: Option<(u32, u32)>,
    /// SACK blocks (kind 5); only the first `sack_len` entries are meaningful.
    pub sack: [SackBlock; MAX_SACK_BLOCKS],
    /// Number of SACK blocks present.
    pub sack_len: u8,
    /// TCP Fast Open (RFC 7413 §4.1.1), SYN only: a cookie request (empty) or a
    /// cookie.
    pub fast_open: Option<FastOpenOption>,
}

/// The TCP Fast Open option (RFC 7413 §4.1.1): kind 34, or the experimental form
/// Linux still accepts and sends when asked (kind 254 with the RFC 6994 magic
/// 0xF989). An empty cookie is a cookie request; a cookie is 4 to 16 bytes, of even
/// length (what Linux accepts; other lengths are ignored when parsing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FastOpenOption {
    /// Use the experimental encoding (kind 254, magic 0xF989).
    pub exp: bool,
    len: u8,
    bytes: [u8; FAST_OPEN_COOKIE_MAX],
}

/// The longest Fast Open cookie (RFC 7413 §4.1.1: 4 to 16 bytes).
pub const FAST_OPEN_COOKIE_MAX: usize = 16;

/// The shortest Fast Open cookie (RFC 7413 §4.1.1).
pub const FAST_OPEN_COOKIE_MIN: usize = 4;

/// The RFC 6994 magic number of the experimental Fast Open option.
pub const FAST_OPEN_EXP_MAGIC: u16 = 0xF989;

impl FastOpenOption {
    /// A cookie request (the option with no cookie).
    pub fn request(exp: bool) -> FastOpenOption {
        FastOpenOption {
            exp,
            len: 0,
            bytes: [0; FAST_OPEN_COOKIE_MAX],
        }
    }

    /// An option carrying `cookie`; `None` unless its length is even and 4 to 16.
    pub fn with_cookie(cookie: &[u8], exp: bool) -> Option<FastOpenOption> {
        let n = cookie.len();
        if !(FAST_OPEN_COOKIE_MIN..=FAST_OPEN_COOKIE_MAX).contains(&n) || n % 2 != 0 {
            return None;
        }
        let mut bytes = [0; FAST_OPEN_COOKIE_MAX];
        bytes[..n].copy_from_slice(cookie);
        Some(FastOpenOption {
            exp,
            len: n as u8,
            bytes,
        })
    }

    /// The cookie (empty for a request).
    pub fn cookie(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len).min(FAST_OPEN_COOKIE_MAX)]
    }

    /// True for a cookie request.
    pub fn is_request(&self) -> bool {
        self.len == 0
    }

    /// Bytes the option takes in a header, padded with two NOPs to a 32-bit boundary
    /// when its length is not a multiple of 4 (as Linux writes it).
    pub fn emitted_len(&self) -> usize {
        let raw = if self.exp { 4 } else { 2 } + self.cookie().len();
        (raw + 3) & !3
    }

    /// Parse the data of a kind-34 option, or of a kind-254 option (the magic
    /// included): `None` when it is not a Fast Open option Linux would use (wrong
    /// magic, or a cookie length other than 0 or an even 4 to 16).
    fn parse(kind_byte: u8, data: &[u8]) -> Option<FastOpenOption> {
        let (exp, cookie) = match kind_byte {
            kind::FAST_OPEN => (false, data),
            kind::EXPERIMENTAL => {
                let magic = data.first_chunk::<2>()?;
                if u16::from_be_bytes(*magic) != FAST_OPEN_EXP_MAGIC {
                    return None;
                }
                (true, &data[2..])
            }
            _ => return None,
        };
        if cookie.is_empty() {
            Some(FastOpenOption::request(exp))
        } else {
            FastOpenOption::with_cookie(cookie, exp)
        }
    }
}

impl TcpOptions {
    /// The SACK blocks present.
    /// (A `sack_len` above [`MAX_SACK_BLOCKS`] is treated as [`MAX_SACK_BLOCKS`].)
    pub fn sack_blocks(&self) -> &[SackBlock] {
        &self.sack[..usize::from(self.sack_len).min(MAX_SACK_BLOCKS)]
    }

    /// Append a SACK block; returns false (and changes nothing) when already full.
    pub fn push_sack(&mut self, block: SackBlock) -> bool {
        let n = usize::from(self.sack_len);
        if n >= MAX_SACK_BLOCKS {
            return false;
        }
        self.sack[n] = block;
        self.sack_len += 1;
        true
    }

    /// Number of option bytes this set occupies when emitted in the Linux layout
    /// (a multiple of 4, at most 40).
    ///
    /// MSS, window scale and SACK-permitted are emitted only when `syn` is set (RFC 9293
    /// §3.7.1, RFC 7323 §2.2, RFC 2018 §2 allow them only on SYN segments) and present.
    /// SACK blocks that do not fit in the 40 bytes left are dropped from the end.
    #[inline]
    pub fn emitted_len(&self, syn: bool) -> usize {
        // The common case without a layout: not a SYN and no SACK blocks, so at most
        // the timestamps, as NOP, NOP, TS (RFC 7323 Appendix A).
        if !syn && self.sack_len == 0 {
            return if self.timestamp.is_some() {
                TS_LAYOUT_LEN
            } else {
                0
            };
        }
        self.emitted_len_other(syn)
    }

    /// [`TcpOptions::emitted_len`] of a SYN or a segment with SACK blocks (out of line:
    /// the common case above is inlined where headers are built).
    #[inline(never)]
    fn emitted_len_other(&self, syn: bool) -> usize {
        match self.syn_words(syn) {
            Some((_, n)) => 4 * n,
            None => self.emitted_len_general(syn),
        }
    }

    /// The option words of a SYN without Fast Open or SACK blocks (the common SYN),
    /// in the Linux layout `write_options` writes, and how many there are; `None` for
    /// any other segment.
    #[inline]
    fn syn_words(&self, syn: bool) -> Option<([u32; 5], usize)> {
        if !syn || self.sack_len != 0 || self.fast_open.is_some() {
            return None;
        }
        let mut w = [0u32; 5];
        let mut n = 0;
        if let Some(m) = self.mss {
            w[n] = SYN_LAYOUT_MSS | u32::from(m);
            n += 1;
        }
        if let Some((tsval, tsecr)) = self.timestamp {
            // SACK-permitted shares this word with TS when both are present.
            w[n] = if self.sack_permitted {
                SYN_LAYOUT_WORD1
            } else {
                TS_LAYOUT_WORD
            };
            w[n + 1] = tsval;
            w[n + 2] = tsecr;
            n += 3;
        } else if self.sack_permitted {
            w[n] = SYN_NO_TS_WORD1;
            n += 1;
        }
        if let Some(ws) = self.window_scale {
            w[n] = SYN_LAYOUT_WS | u32::from(ws);
            n += 1;
        }
        Some((w, n))
    }

    /// [`TcpOptions::emitted_len`] for every option set, from the full layout.
    pub(crate) fn emitted_len_general(&self, syn: bool) -> usize {
        let l = self.layout(syn);
        l.fixed + l.sack_blocks_len()
    }

    fn layout(&self, syn: bool) -> Layout {
        let mss = syn && self.mss.is_some();
        let ws = syn && self.window_scale.is_some();
        let sack_ok = syn && self.sack_permitted;
        let ts = self.timestamp.is_some();
        let mut fixed = 0;
        if mss {
            fixed += 4;
        }
        if ts {
            // SACK-permitted shares this word with TS when both are present.
            fixed += 12;
        }
        if sack_ok && !ts {
            fixed += 4;
        }
        if ws {
            fixed += 4;
        }
        // RFC 7413 §4.1.1: Fast Open only in a SYN (Linux writes it last).
        let fo = match self.fast_open {
            Some(f) if syn => f.emitted_len(),
            _ => 0,
        };
        fixed += fo;
        let want = self.sack_blocks().len();
        // "nop, nop, kind, len" word + 8 bytes per block (RFC 2018 §3).
        let room = MAX_OPTIONS_LEN.saturating_sub(fixed + 4) / 8;
        let sack_n = if fixed + 4 + 8 > MAX_OPTIONS_LEN {
            0
        } else {
            want.min(room)
        };
        Layout {
            mss,
            ws,
            sack_ok,
            ts,
            fo,
            fixed,
            sack_n,
        }
    }
}

/// The first option word of the timestamp layout RFC 7323 Appendix A recommends (and
/// Linux sends on every non-SYN segment): NOP, NOP, kind 8, length 10.
const TS_LAYOUT_WORD: u32 = u32::from_be_bytes([kind::NOP, kind::NOP, kind::TIMESTAMP, 10]);

/// Length of that layout: the word above, TSval and TSecr.
const TS_LAYOUT_LEN: usize = 12;

/// The options of a SYN as Linux lays them out (and this crate emits them): MSS,
/// SACK-permitted and timestamps sharing a word, then NOP and window scale. The
/// first word's kind and length (its low 16 bits are the MSS).
const SYN_LAYOUT_MSS: u32 = u32::from_be_bytes([kind::MSS, 4, 0, 0]);

/// Its second word: SACK-permitted (kind 4, length 2), then kind 8, length 10.
const SYN_LAYOUT_WORD1: u32 = u32::from_be_bytes([kind::SACK_PERMITTED, 2, kind::TIMESTAMP, 10]);

/// Its last word's NOP, kind 3 and length 3 (its low 8 bits are the shift).
const SYN_LAYOUT_WS: u32 = u32::from_be_bytes([kind::NOP, kind::WINDOW_SCALE, 3, 0]);

/// Length of that layout: MSS, SACK-permitted + timestamp kind, TSval, TSecr, NOP +
/// window scale.
const SYN_LAYOUT_LEN: usize = 20;

/// The second word of the same layout without timestamps (12 bytes: MSS, this, NOP +
/// window scale): NOP, NOP, SACK-permitted.
const SYN_NO_TS_WORD1: u32 = u32::from_be_bytes([kind::NOP, kind::NOP, kind::SACK_PERMITTED, 2]);

/// Maximum TCP option space: data offset 15 gives 60 header bytes (RFC 9293 §3.1).
pub const MAX_OPTIONS_LEN: usize = 40;

/// Which options an emit writes, in the Linux order.
struct Layout {
    mss: bool,
    ws: bool,
    sack_ok: bool,
    ts: bool,
    /// Bytes of the Fast Open option (0: none).
    fo: usize,
    /// Bytes of everything but the SACK blocks option.
    fixed: usize,
    /// SACK blocks that fit.
    sack_n: usize,
}

impl Layout {
    fn sack_blocks_len(&self) -> usize {
        if self.sack_n == 0 {
            0
        } else {
            4 + 8 * self.sack_n
        }
    }
}

/// Option kinds (IANA "TCP Option Kind Numbers").
pub mod kind {
    /// End of option list (RFC 9293 §3.2).
    pub const EOL: u8 = 0;
    /// No-operation (RFC 9293 §3.2).
    pub const NOP: u8 = 1;
    /// Maximum segment size (RFC 9293 §3.2).
    pub const MSS: u8 = 2;
    /// Window scale (RFC 7323 §2.2).
    pub const WINDOW_SCALE: u8 = 3;
    /// SACK permitted (RFC 2018 §2).
    pub const SACK_PERMITTED: u8 = 4;
    /// SACK (RFC 2018 §3).
    pub const SACK: u8 = 5;
    /// Timestamps (RFC 7323 §3.2).
    pub const TIMESTAMP: u8 = 8;
    /// TCP Fast Open cookie (RFC 7413 §4.1.1).
    pub const FAST_OPEN: u8 = 34;
    /// Shared experimental option (RFC 6994), used by the experimental Fast Open form.
    pub const EXPERIMENTAL: u8 = 254;
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

/// The checks every TCP emit starts with: both addresses of one family, room in a
/// `buf_len`-byte buffer for `hlen` header and `payload_len` payload bytes, and a
/// segment length the pseudo-header can carry (RFC 9293 §3.1). Returns the segment
/// length, as `usize` and as the pseudo-header's `u32`.
#[inline(always)]
fn emit_room(
    buf_len: usize,
    hlen: usize,
    payload_len: usize,
    src: IpAddr,
    dst: IpAddr,
) -> Result<(usize, u32), Error> {
    if src.is_ipv4() != dst.is_ipv4() {
        return Err(Error::BadAddress);
    }
    let total = hlen + payload_len;
    if buf_len < total {
        return Err(Error::BufferTooSmall {
            needed: total,
            got: buf_len,
        });
    }
    let len32 = u32::try_from(total).map_err(|_| Error::BadLength {
        what: "TCP segment length",
        value: total,
    })?;
    Ok((total, len32))
}

impl TcpRepr {
    /// Header length (20 + options) this repr emits.
    #[inline]
    pub fn header_len(&self) -> usize {
        TCP_HEADER_LEN + self.options.emitted_len(self.flags.syn())
    }

    /// Parse a TCP segment carried between `src` and `dst`. When `verify_checksum` is
    /// set, the checksum over the pseudo-header and the whole segment must verify.
    /// Returns the header and the payload.
    #[inline]
    pub fn parse(
        segment: &[u8],
        src: IpAddr,
        dst: IpAddr,
        verify_checksum: bool,
    ) -> Result<(TcpRepr, &[u8]), Error> {
        let seg = TcpSegment::new_checked(segment)?;
        if verify_checksum && !seg.verify_checksum(src, dst)? {
            return Err(Error::BadChecksum { what: "TCP" });
        }
        Self::parse_fields(&seg, segment)
    }

    /// Parse without checking the checksum yet, returning also the one's-complement sum
    /// of the pseudo-header and the TCP header (not the payload). The segment is valid
    /// only if `checksum::finish(checksum::combine(header_sum, checksum::sum(payload)))`
    /// is 0 (RFC 9293 §3.1): the caller sums the payload where it copies it anyway
    /// ([`checksum::copy_and_sum`]) and must drop the segment, changing no state, when
    /// that check fails.
    #[inline]
    pub fn parse_deferred(
        segment: &[u8],
        src: IpAddr,
        dst: IpAddr,
    ) -> Result<(TcpRepr, &[u8], u32), Error> {
        match (src, dst, segment.first_chunk::<TCP_HEADER_LEN>()) {
            (IpAddr::V4(s), IpAddr::V4(d), Some(h)) => Self::parse_deferred_v4(segment, h, s, d),
            _ => Self::parse_deferred_general(segment, src, dst),
        }
    }

    /// [`TcpRepr::parse_deferred`] over IPv4 when the fixed header is present (`h` is
    /// `segment[..20]`), with the same results and errors as
    /// [`TcpRepr::parse_deferred_general`]. The header is read as five big-endian
    /// 32-bit words that serve both the fields and the sum: RFC 9293 §3.1 sums 16-bit
    /// words, and adding whole 32-bit words in 64 bits is the same modulo 0xffff
    /// (RFC 1071 §2(C)). Options: none (data offset 5), or the timestamp layout of RFC
    /// 7323 Appendix A (data offset 8), are read directly; anything else goes through
    /// [`options_iter`].
    #[inline(always)]
    fn parse_deferred_v4<'a>(
        segment: &'a [u8],
        h: &[u8; TCP_HEADER_LEN],
        src: Ipv4Addr,
        dst: Ipv4Addr,
    ) -> Result<(TcpRepr, &'a [u8], u32), Error> {
        // RFC 9293 §3.1 "Data Offset": at least 5 words, inside the segment.
        let doff = h[12] >> 4;
        let hlen = usize::from(doff) * 4;
        if doff < 5 || hlen > segment.len() {
            return Err(Error::BadDataOffset(doff));
        }
        let len = u32::try_from(segment.len()).map_err(|_| Error::BadLength {
            what: "TCP segment length",
            value: segment.len(),
        })?;
        let w = |i: usize| u32::from_be_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        let (ports, seq, ack, flags_window, check_urgent) = (w(0), w(4), w(8), w(12), w(16));
        // RFC 9293 §3.1 pseudo-header: source, destination, zero + protocol, length.
        let mut s = u64::from(u32::from(src))
            + u64::from(u32::from(dst))
            + u64::from(crate::PROTO_TCP)
            + u64::from(len)
            + u64::from(ports)
            + u64::from(seq)
            + u64::from(ack)
            + u64::from(flags_window)
            + u64::from(check_urgent);
        let options = if hlen == TCP_HEADER_LEN {
            TcpOptions::default()
        } else {
            let raw = &segment[TCP_HEADER_LEN..hlen];
            match raw.first_chunk::<TS_LAYOUT_LEN>() {
                Some(o) if hlen == TCP_HEADER_LEN + TS_LAYOUT_LEN => {
                    let w = |i: usize| u32::from_be_bytes([o[i], o[i + 1], o[i + 2], o[i + 3]]);
                    let (first, tsval, tsecr) = (w(0), w(4), w(8));
                    s += u64::from(first) + u64::from(tsval) + u64::from(tsecr);
                    if first == TS_LAYOUT_WORD {
                        TcpOptions {
                            timestamp: Some((tsval, tsecr)),
                            ..TcpOptions::default()
                        }
                    } else if first & 0xffff_0000 == SYN_LAYOUT_MSS
                        && tsval == SYN_NO_TS_WORD1
                        && tsecr & 0xffff_ff00 == SYN_LAYOUT_WS
                    {
                        // The SYN layout without timestamps: MSS, NOP, NOP,
                        // SACK-permitted, NOP, window scale.
                        TcpOptions {
                            mss: Some(first as u16),
                            window_scale: Some(tsecr as u8),
                            sack_permitted: true,
                            ..TcpOptions::default()
                        }
                    } else {
                        parse_options_general(raw)?
                    }
                }
                _ => match raw.first_chunk::<SYN_LAYOUT_LEN>() {
                    Some(o) if hlen == TCP_HEADER_LEN + SYN_LAYOUT_LEN => {
                        let w = |i: usize| u32::from_be_bytes([o[i], o[i + 1], o[i + 2], o[i + 3]]);
                        let (w0, w1, tsval, tsecr, w4) = (w(0), w(4), w(8), w(12), w(16));
                        s += u64::from(w0)
                            + u64::from(w1)
                            + u64::from(tsval)
                            + u64::from(tsecr)
                            + u64::from(w4);
                        if w0 & 0xffff_0000 == SYN_LAYOUT_MSS
                            && w1 == SYN_LAYOUT_WORD1
                            && w4 & 0xffff_ff00 == SYN_LAYOUT_WS
                        {
                            TcpOptions {
                                mss: Some(w0 as u16),
                                window_scale: Some(w4 as u8),
                                sack_permitted: true,
                                timestamp: Some((tsval, tsecr)),
                                ..TcpOptions::default()
                            }
                        } else {
                            parse_options_general(raw)?
                        }
                    }
                    _ => {
                        s += u64::from(checksum::sum(raw));
                        parse_options_general(raw)?
                    }
                },
            }
        };
        let repr = TcpRepr {
            src_port: (ports >> 16) as u16,
            dst_port: ports as u16,
            seq,
            ack,
            flags: TcpFlags((flags_window >> 16) as u8),
            window: flags_window as u16,
            urgent: check_urgent as u16,
            options,
        };
        // `s` includes the protocol, so it is non-zero and folds to the same value as
        // the general path's `combine` (see `checksum::fold64`).
        Ok((repr, &segment[hlen..], u32::from(checksum::fold64(s))))
    }

    /// [`TcpRepr::parse_deferred`] for every input: IPv6, short or malformed segments.
    #[inline]
    pub(crate) fn parse_deferred_general(
        segment: &[u8],
        src: IpAddr,
        dst: IpAddr,
    ) -> Result<(TcpRepr, &[u8], u32), Error> {
        let seg = TcpSegment::new_checked(segment)?;
        if src.is_ipv4() != dst.is_ipv4() {
            return Err(Error::BadAddress);
        }
        let len = u32::try_from(segment.len()).map_err(|_| Error::BadLength {
            what: "TCP segment length",
            value: segment.len(),
        })?;
        let header_sum = checksum::combine(
            checksum::pseudo_header(src, dst, crate::PROTO_TCP, len),
            checksum::sum(&segment[..seg.header_len()]),
        );
        let (repr, payload) = Self::parse_fields(&seg, segment)?;
        Ok((repr, payload, header_sum))
    }

    /// The header fields and options of a checked segment view, and the payload.
    #[inline]
    fn parse_fields<'a>(
        seg: &TcpSegment<&[u8]>,
        segment: &'a [u8],
    ) -> Result<(TcpRepr, &'a [u8]), Error> {
        let options = parse_options(seg.options())?;
        let repr = TcpRepr {
            src_port: seg.src_port(),
            dst_port: seg.dst_port(),
            seq: seg.seq_number(),
            ack: seg.ack_number(),
            flags: seg.flags(),
            window: seg.window(),
            urgent: seg.urgent(),
            options,
        };
        let hlen = seg.header_len();
        Ok((repr, &segment[hlen..]))
    }

    /// Emit header + checksum into `buf[..header_len()]`, where the payload is already in
    /// place at `buf[header_len()..header_len() + payload_len]`. Options are laid out
    /// like Linux: SYN: `mss, sackOK, TS, nop, wscale` (with TS) or
    /// `mss, nop, nop, sackOK, nop, wscale` (without), skipping absent ones the way Linux
    /// does; other segments: `nop, nop, TS` then `nop, nop, sack ...`.
    /// MSS, window scale and SACK-permitted are written only on SYN segments (see
    /// [`TcpOptions::emitted_len`]); SACK blocks beyond the 40-byte option space are
    /// dropped from the end (RFC 2018 §3: at most 3 blocks alongside timestamps).
    /// Returns header_len + payload_len.
    pub fn emit(
        &self,
        buf: &mut [u8],
        payload_len: usize,
        src: IpAddr,
        dst: IpAddr,
    ) -> Result<usize, Error> {
        self.emit_summed(buf, payload_len, src, dst, None)
    }

    /// [`emit`](TcpRepr::emit) when the caller already knows the payload's
    /// [`checksum::sum`] (from [`checksum::copy_and_sum`] while it put the payload in
    /// place): only the header is summed here. `None` sums the payload too.
    #[inline]
    pub fn emit_summed(
        &self,
        buf: &mut [u8],
        payload_len: usize,
        src: IpAddr,
        dst: IpAddr,
        payload_sum: Option<u32>,
    ) -> Result<usize, Error> {
        if !self.flags.syn() && self.options.sack_len == 0 {
            self.emit_summed_plain(buf, payload_len, src, dst, payload_sum)
        } else {
            self.emit_summed_other(buf, payload_len, src, dst, payload_sum)
        }
    }

    /// [`TcpRepr::emit_summed`] of a SYN or a segment with SACK blocks: the common
    /// SYN by its option words, anything else by the general code.
    #[inline(never)]
    fn emit_summed_other(
        &self,
        buf: &mut [u8],
        payload_len: usize,
        src: IpAddr,
        dst: IpAddr,
        payload_sum: Option<u32>,
    ) -> Result<usize, Error> {
        match self.options.syn_words(self.flags.syn()) {
            Some((words, n)) => {
                self.emit_summed_words(buf, payload_len, src, dst, payload_sum, &words[..n])
            }
            None => self.emit_summed_general(buf, payload_len, src, dst, payload_sum),
        }
    }

    /// The sum (RFC 9293 §3.1 "Checksum") of the pseudo-header for a segment of
    /// `len32` bytes and of the fixed header of `hlen` bytes with its checksum field
    /// zero, as whole 32-bit words (RFC 1071 §2(C)); with the ports word and the
    /// data-offset/flags/window word it was formed from.
    #[inline(always)]
    fn fixed_sum(&self, src: IpAddr, dst: IpAddr, len32: u32, hlen: usize) -> (u64, u32, u32) {
        let pseudo = match (src, dst) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                u64::from(u32::from(a))
                    + u64::from(u32::from(b))
                    + u64::from(crate::PROTO_TCP)
                    + u64::from(len32)
            }
            _ => u64::from(checksum::pseudo_header(src, dst, crate::PROTO_TCP, len32)),
        };
        let ports = u32::from(self.src_port) << 16 | u32::from(self.dst_port);
        // Data offset in the top nibble, reserved bits clear, then flags and window.
        let flags_window =
            ((hlen / 4) as u32) << 28 | u32::from(self.flags.0) << 16 | u32::from(self.window);
        let s = pseudo
            + u64::from(ports)
            + u64::from(self.seq)
            + u64::from(self.ack)
            + u64::from(flags_window)
            + u64::from(self.urgent);
        (s, ports, flags_window)
    }

    /// Write the fixed header (the words of [`TcpRepr::fixed_sum`] and checksum `c`)
    /// to the start of `buf`, built in a local array and written with one copy.
    #[inline(always)]
    fn write_fixed(&self, buf: &mut [u8], ports: u32, flags_window: u32, c: u16) {
        let mut header = [0u8; TCP_HEADER_LEN];
        header[0..4].copy_from_slice(&ports.to_be_bytes());
        header[4..8].copy_from_slice(&self.seq.to_be_bytes());
        header[8..12].copy_from_slice(&self.ack.to_be_bytes());
        header[12..16].copy_from_slice(&flags_window.to_be_bytes());
        header[16..18].copy_from_slice(&c.to_be_bytes());
        header[18..20].copy_from_slice(&self.urgent.to_be_bytes());
        buf[..TCP_HEADER_LEN].copy_from_slice(&header);
    }

    /// [`TcpRepr::emit_summed`] of a SYN whose options are `words` (see
    /// `TcpOptions::syn_words`), the way [`TcpRepr::emit_summed_plain`] emits the
    /// other common segments: the header and options from their values, the sum from
    /// the same values as whole 32-bit words. Same results and errors as
    /// [`TcpRepr::emit_summed_general`].
    #[inline]
    fn emit_summed_words(
        &self,
        buf: &mut [u8],
        payload_len: usize,
        src: IpAddr,
        dst: IpAddr,
        payload_sum: Option<u32>,
        words: &[u32],
    ) -> Result<usize, Error> {
        let hlen = TCP_HEADER_LEN + 4 * words.len();
        let (total, len32) = emit_room(buf.len(), hlen, payload_len, src, dst)?;
        let buf = &mut buf[..total];
        let (mut s, ports, flags_window) = self.fixed_sum(src, dst, len32, hlen);
        for &w in words {
            s += u64::from(w);
        }
        s += u64::from(match payload_sum {
            Some(p) => p,
            None => checksum::sum(&buf[hlen..]),
        });
        // `s` includes the protocol, so it is non-zero (see `checksum::fold64`).
        let c = !checksum::fold64(s);
        self.write_fixed(buf, ports, flags_window, c);
        for (i, w) in words.iter().enumerate() {
            let at = TCP_HEADER_LEN + 4 * i;
            buf[at..at + 4].copy_from_slice(&w.to_be_bytes());
        }
        Ok(total)
    }

    /// [`TcpRepr::emit_summed`] of a segment that is not a SYN and carries no SACK
    /// blocks: no options, or only the timestamps in the RFC 7323 Appendix A layout
    /// (NOP, NOP, TS). Same results and errors as [`TcpRepr::emit_summed_general`].
    /// The header is built in a local array and written with one copy; its sum is
    /// formed from the field values as whole 32-bit words, which is the RFC 9293 §3.1
    /// 16-bit sum modulo 0xffff (RFC 1071 §2(C)).
    #[inline(always)]
    fn emit_summed_plain(
        &self,
        buf: &mut [u8],
        payload_len: usize,
        src: IpAddr,
        dst: IpAddr,
        payload_sum: Option<u32>,
    ) -> Result<usize, Error> {
        let ts = self.options.timestamp;
        let hlen = TCP_HEADER_LEN + if ts.is_some() { TS_LAYOUT_LEN } else { 0 };
        let (total, len32) = emit_room(buf.len(), hlen, payload_len, src, dst)?;
        let buf = &mut buf[..total];
        let (mut s, ports, flags_window) = self.fixed_sum(src, dst, len32, hlen);
        if let Some((tsval, tsecr)) = ts {
            s += u64::from(TS_LAYOUT_WORD) + u64::from(tsval) + u64::from(tsecr);
        }
        s += u64::from(match payload_sum {
            Some(p) => p,
            None => checksum::sum(&buf[hlen..]),
        });
        // `s` includes the protocol, so it is non-zero (see `checksum::fold64`).
        let c = !checksum::fold64(s);
        self.write_fixed(buf, ports, flags_window, c);
        if let Some((tsval, tsecr)) = ts {
            let mut o = [0u8; TS_LAYOUT_LEN];
            o[0..4].copy_from_slice(&TS_LAYOUT_WORD.to_be_bytes());
            o[4..8].copy_from_slice(&tsval.to_be_bytes());
            o[8..12].copy_from_slice(&tsecr.to_be_bytes());
            buf[TCP_HEADER_LEN..hlen].copy_from_slice(&o);
        }
        Ok(total)
    }

    /// [`TcpRepr::emit_summed`] for every option layout.
    pub(crate) fn emit_summed_general(
        &self,
        buf: &mut [u8],
        payload_len: usize,
        src: IpAddr,
        dst: IpAddr,
        payload_sum: Option<u32>,
    ) -> Result<usize, Error> {
        let syn = self.flags.syn();
        let layout = self.options.layout(syn);
        let hlen = TCP_HEADER_LEN + layout.fixed + layout.sack_blocks_len();
        let (total, len32) = emit_room(buf.len(), hlen, payload_len, src, dst)?;
        let buf = &mut buf[..total];
        {
            let mut seg = TcpSegment::new_unchecked(&mut *buf);
            seg.set_src_port(self.src_port);
            seg.set_dst_port(self.dst_port);
            seg.set_seq_number(self.seq);
            seg.set_ack_number(self.ack);
            seg.set_header_len_and_flags(hlen, self.flags);
            seg.set_window(self.window);
            seg.set_checksum(0);
            seg.set_urgent(self.urgent);
        }
        self.write_options(&layout, &mut buf[TCP_HEADER_LEN..hlen]);
        // RFC 9293 §3.1 "Checksum": over pseudo-header, header and data. The header is
        // a multiple of 4 bytes long, so the payload's own sum lines up with its words.
        let body = match payload_sum {
            Some(p) => checksum::combine(checksum::sum(&buf[..hlen]), p),
            None => checksum::sum(buf),
        };
        let c = checksum::finish(checksum::combine(
            checksum::pseudo_header(src, dst, crate::PROTO_TCP, len32),
            body,
        ));
        buf[16..18].copy_from_slice(&c.to_be_bytes());
        Ok(total)
    }

    /// Write the options in the Linux order (net/ipv4/tcp_output.c layout): MSS;
    /// SACK-permitted+TS sharing one word, or NOP,NOP,TS; NOP,NOP,SACK-permitted when
    /// there is no TS; NOP,WS; NOP,NOP,SACK blocks. Every item is 4-byte aligned so the
    /// total is a multiple of 4 (RFC 9293 §3.1 "Options": padded to a 32-bit boundary).
    fn write_options(&self, l: &Layout, out: &mut [u8]) {
        let o = &self.options;
        let mut at = 0usize;
        let mut put = |bytes: &[u8]| {
            out[at..at + bytes.len()].copy_from_slice(bytes);
            at += bytes.len();
        };
        if l.mss {
            let m = o.mss.unwrap_or(0).to_be_bytes();
            put(&[kind::MSS, 4, m[0], m[1]]);
        }
        if l.ts {
            let (tsval, tsecr) = o.timestamp.unwrap_or((0, 0));
            if l.sack_ok {
                put(&[kind::SACK_PERMITTED, 2, kind::TIMESTAMP, 10]);
            } else {
                put(&[kind::NOP, kind::NOP, kind::TIMESTAMP, 10]);
            }
            put(&tsval.to_be_bytes());
            put(&tsecr.to_be_bytes());
        }
        if l.sack_ok && !l.ts {
            put(&[kind::NOP, kind::NOP, kind::SACK_PERMITTED, 2]);
        }
        if l.ws {
            put(&[
                kind::NOP,
                kind::WINDOW_SCALE,
                3,
                o.window_scale.unwrap_or(0),
            ]);
        }
        if l.fo > 0 {
            if let Some(f) = o.fast_open {
                let c = f.cookie();
                if f.exp {
                    let m = FAST_OPEN_EXP_MAGIC.to_be_bytes();
                    put(&[kind::EXPERIMENTAL, (4 + c.len()) as u8, m[0], m[1]]);
                } else {
                    put(&[kind::FAST_OPEN, (2 + c.len()) as u8]);
                }
                put(c);
                if (c.len() + if f.exp { 4 } else { 2 }) % 4 != 0 {
                    put(&[kind::NOP, kind::NOP]);
                }
            }
        }
        if l.sack_n > 0 {
            put(&[kind::NOP, kind::NOP, kind::SACK, (2 + 8 * l.sack_n) as u8]);
            for b in &o.sack_blocks()[..l.sack_n] {
                put(&b.left.to_be_bytes());
                put(&b.right.to_be_bytes());
            }
        }
    }
}

/// The options of a raw options area, as [`TcpRepr::parse`] keeps them: the empty area
/// and the RFC 7323 Appendix A timestamp layout (NOP, NOP, TS) directly, anything else
/// through [`parse_options_general`]; the results and errors are the same.
#[inline]
pub(crate) fn parse_options(raw: &[u8]) -> Result<TcpOptions, Error> {
    if raw.is_empty() {
        return Ok(TcpOptions::default());
    }
    if let Ok(o) = <&[u8; TS_LAYOUT_LEN]>::try_from(raw) {
        let w = |i: usize| u32::from_be_bytes([o[i], o[i + 1], o[i + 2], o[i + 3]]);
        if w(0) == TS_LAYOUT_WORD {
            return Ok(TcpOptions {
                timestamp: Some((w(4), w(8))),
                ..TcpOptions::default()
            });
        }
    }
    parse_options_general(raw)
}

/// The options of any raw options area, by [`options_iter`]: the last of each kind
/// wins, a SACK option replaces earlier blocks and keeps at most [`MAX_SACK_BLOCKS`],
/// EOL, NOP and unknown kinds are skipped, and the first malformed option is the error.
pub(crate) fn parse_options_general(raw: &[u8]) -> Result<TcpOptions, Error> {
    let mut options = TcpOptions::default();
    for opt in options_iter(raw) {
        match opt? {
            TcpOption::Unknown { kind, data } => {
                if let Some(f) = FastOpenOption::parse(kind, data) {
                    options.fast_open = Some(f);
                }
            }
            TcpOption::EndOfList | TcpOption::NoOp => {}
            TcpOption::Mss(m) => options.mss = Some(m),
            TcpOption::WindowScale(w) => options.window_scale = Some(w),
            TcpOption::SackPermitted => options.sack_permitted = true,
            TcpOption::Timestamp { tsval, tsecr } => options.timestamp = Some((tsval, tsecr)),
            TcpOption::Sack(raw) => {
                options.sack_len = 0;
                for b in raw.chunks_exact(8) {
                    options.push_sack(SackBlock {
                        left: u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
                        right: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
                    });
                }
            }
        }
    }
    Ok(options)
}

/// Iterate the options of a raw options area in order. Malformed options end the
/// iteration with an `Err`.
///
/// Rules (RFC 9293 §3.2): EOL ends the list (it is yielded, and anything after it is
/// ignored); NOP is one byte; every other kind has a length byte counting kind and
/// length, which must be at least 2 and stay inside `options`. Known kinds must have
/// their fixed length: MSS 4 (RFC 9293 §3.2), window scale 3 (RFC 7323 §2.2),
/// SACK-permitted 2 (RFC 2018 §2), timestamps 10 (RFC 7323 §3.2), SACK 2 + 8n with
/// n >= 1 (RFC 2018 §3). Unknown kinds are skipped by their length (RFC 9293 §3.2,
/// RFC 1122 §4.2.2.5).
pub fn options_iter(options: &[u8]) -> impl Iterator<Item = Result<TcpOption<'_>, Error>> + '_ {
    OptionsIter {
        rest: options,
        done: false,
    }
}

struct OptionsIter<'a> {
    rest: &'a [u8],
    done: bool,
}

impl<'a> OptionsIter<'a> {
    fn next_option(&mut self) -> Result<TcpOption<'a>, Error> {
        let rest = self.rest;
        let k = rest[0];
        match k {
            kind::EOL => {
                self.done = true;
                return Ok(TcpOption::EndOfList);
            }
            kind::NOP => {
                self.rest = &rest[1..];
                return Ok(TcpOption::NoOp);
            }
            _ => {}
        }
        let Some(&len) = rest.get(1) else {
            return Err(Error::BadOption { kind: k, len: 0 });
        };
        let n = usize::from(len);
        if n < 2 || n > rest.len() {
            return Err(Error::BadOption { kind: k, len });
        }
        let data = &rest[2..n];
        let bad = Err(Error::BadOption { kind: k, len });
        let opt = match k {
            kind::MSS => {
                if n != 4 {
                    return bad;
                }
                TcpOption::Mss(u16::from_be_bytes([data[0], data[1]]))
            }
            kind::WINDOW_SCALE => {
                if n != 3 {
                    return bad;
                }
                TcpOption::WindowScale(data[0])
            }
            kind::SACK_PERMITTED => {
                if n != 2 {
                    return bad;
                }
                TcpOption::SackPermitted
            }
            kind::TIMESTAMP => {
                if n != 10 {
                    return bad;
                }
                TcpOption::Timestamp {
                    tsval: u32::from_be_bytes([data[0], data[1], data[2], data[3]]),
                    tsecr: u32::from_be_bytes([data[4], data[5], data[6], data[7]]),
                }
            }
            kind::SACK => {
                if n < 10 || (n - 2) % 8 != 0 {
                    return bad;
                }
                TcpOption::Sack(data)
            }
            _ => TcpOption::Unknown { kind: k, data },
        };
        self.rest = &rest[n..];
        Ok(opt)
    }
}

impl<'a> Iterator for OptionsIter<'a> {
    type Item = Result<TcpOption<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.rest.is_empty() {
            return None;
        }
        let r = self.next_option();
        if r.is_err() {
            self.done = true;
        }
        Some(r)
    }
}

impl core::iter::FusedIterator for OptionsIter<'_> {}

/// A typed view of a TCP segment (header + payload) in a buffer (RFC 9293 §3.1).
#[derive(Debug, Clone)]
pub struct TcpSegment<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TcpSegment<T> {
    /// Wrap a buffer without checking it. Accessors may panic on a short buffer; use
    /// [`TcpSegment::new_checked`] for untrusted input.
    pub const fn new_unchecked(buffer: T) -> Self {
        TcpSegment { buffer }
    }

    /// Wrap a buffer, checking that it holds the fixed header and that the data offset
    /// is at least 5 and inside the buffer (RFC 9293 §3.1 "Data Offset").
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let b = buffer.as_ref();
        if b.len() < TCP_HEADER_LEN {
            return Err(Error::Truncated {
                what: "TCP header",
                needed: TCP_HEADER_LEN,
                got: b.len(),
            });
        }
        let doff = b[12] >> 4;
        if doff < 5 || usize::from(doff) * 4 > b.len() {
            return Err(Error::BadDataOffset(doff));
        }
        Ok(TcpSegment { buffer })
    }

    /// Consume the view, returning the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn u16_at(&self, at: usize) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[at], b[at + 1]])
    }
    fn u32_at(&self, at: usize) -> u32 {
        let b = self.buffer.as_ref();
        u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        self.u16_at(0)
    }
    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        self.u16_at(2)
    }
    /// Sequence number.
    pub fn seq_number(&self) -> u32 {
        self.u32_at(4)
    }
    /// Acknowledgment number.
    pub fn ack_number(&self) -> u32 {
        self.u32_at(8)
    }
    /// Header length in bytes (data offset × 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[12] >> 4) * 4
    }
    /// Control bits (CWR..FIN).
    pub fn flags(&self) -> TcpFlags {
        TcpFlags(self.buffer.as_ref()[13])
    }
    /// Window field.
    pub fn window(&self) -> u16 {
        self.u16_at(14)
    }
    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        self.u16_at(16)
    }
    /// Urgent pointer.
    pub fn urgent(&self) -> u16 {
        self.u16_at(18)
    }
    /// The raw options area.
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[TCP_HEADER_LEN..self.header_len()]
    }
    /// The payload (everything after the header).
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
    /// True when the checksum over the pseudo-header of `src`/`dst` and the whole
    /// segment verifies (RFC 9293 §3.1). Mixed address families give
    /// [`Error::BadAddress`]; a segment longer than the pseudo-header length field gives
    /// [`Error::BadLength`].
    pub fn verify_checksum(&self, src: IpAddr, dst: IpAddr) -> Result<bool, Error> {
        if src.is_ipv4() != dst.is_ipv4() {
            return Err(Error::BadAddress);
        }
        let b = self.buffer.as_ref();
        let len = u32::try_from(b.len()).map_err(|_| Error::BadLength {
            what: "TCP segment length",
            value: b.len(),
        })?;
        let s = checksum::combine(
            checksum::pseudo_header(src, dst, crate::PROTO_TCP, len),
            checksum::sum(b),
        );
        Ok(checksum::finish(s) == 0)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpSegment<T> {
    fn set_u16_at(&mut self, at: usize, v: u16) {
        self.buffer.as_mut()[at..at + 2].copy_from_slice(&v.to_be_bytes());
    }
    fn set_u32_at(&mut self, at: usize, v: u32) {
        self.buffer.as_mut()[at..at + 4].copy_from_slice(&v.to_be_bytes());
    }
    /// Set the source port.
    pub fn set_src_port(&mut self, v: u16) {
        self.set_u16_at(0, v);
    }
    /// Set the destination port.
    pub fn set_dst_port(&mut self, v: u16) {
        self.set_u16_at(2, v);
    }
    /// Set the sequence number.
    pub fn set_seq_number(&mut self, v: u32) {
        self.set_u32_at(4, v);
    }
    /// Set the acknowledgment number.
    pub fn set_ack_number(&mut self, v: u32) {
        self.set_u32_at(8, v);
    }
    /// Set the header length in bytes (a multiple of 4, 20..=60) and the control bits;
    /// the reserved bits are cleared.
    pub fn set_header_len_and_flags(&mut self, header_len: usize, flags: TcpFlags) {
        let b = self.buffer.as_mut();
        b[12] = ((header_len / 4) as u8) << 4;
        b[13] = flags.0;
    }
    /// Set the window field.
    pub fn set_window(&mut self, v: u16) {
        self.set_u16_at(14, v);
    }
    /// Set the checksum field.
    pub fn set_checksum(&mut self, v: u16) {
        self.set_u16_at(16, v);
    }
    /// Set the urgent pointer.
    pub fn set_urgent(&mut self, v: u16) {
        self.set_u16_at(18, v);
    }
    /// Compute and store the checksum for a segment carried between `src` and `dst`
    /// (the whole buffer is the segment).
    pub fn fill_checksum(&mut self, src: IpAddr, dst: IpAddr) {
        self.set_checksum(0);
        let b = self.buffer.as_ref();
        let s = checksum::combine(
            checksum::pseudo_header(src, dst, crate::PROTO_TCP, b.len() as u32),
            checksum::sum(b),
        );
        self.set_checksum(checksum::finish(s));
    }
    /// The payload, mutably.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let h = self.header_len();
        &mut self.buffer.as_mut()[h..]
    }
}
