//! The one error type of the crate: what was wrong with the bytes.

use core::fmt;

/// Why a packet could not be parsed or emitted. Each variant names what is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The buffer ended before the named structure did.
    Truncated {
        /// What was being read ("IPv4 header", "TCP options", ...).
        what: &'static str,
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        got: usize,
    },
    /// The IP version nibble is neither 4 nor 6 (or not the one expected).
    BadVersion(u8),
    /// IPv4 IHL below 5 or beyond the buffer.
    BadIhl(u8),
    /// IPv4 total length / IPv6 payload length inconsistent with the buffer.
    BadLength {
        /// What length field.
        what: &'static str,
        /// The value in the header.
        value: usize,
    },
    /// TCP data offset below 5 or beyond the segment.
    BadDataOffset(u8),
    /// A TCP option with a length that is invalid for its kind or runs past the header.
    BadOption {
        /// Option kind.
        kind: u8,
        /// Option length byte (0 when missing).
        len: u8,
    },
    /// A checksum did not verify.
    BadChecksum {
        /// Which checksum ("IPv4 header", "TCP", "ICMPv4", "ICMPv6").
        what: &'static str,
    },
    /// A fragment (MF set or offset non-zero); synack does not reassemble IP fragments.
    Fragmented,
    /// An IPv6 extension header synack does not walk.
    UnsupportedExtension(u8),
    /// An ICMP type/code that is not an error synack handles.
    UnsupportedIcmp {
        /// ICMP type.
        ty: u8,
        /// ICMP code.
        code: u8,
    },
    /// Source and destination address families differ, or a field is out of range for emit.
    BadAddress,
    /// The output buffer is too small for what is being emitted.
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        got: usize,
    },
    /// Too many options to fit in 40 bytes of TCP option space.
    OptionsTooLong,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::Truncated { what, needed, got } => {
                write!(f, "truncated {what}: need {needed} bytes, have {got}")
            }
            Error::BadVersion(v) => write!(f, "bad IP version {v}"),
            Error::BadIhl(v) => write!(f, "bad IPv4 header length (IHL {v})"),
            Error::BadLength { what, value } => write!(f, "bad {what} {value}"),
            Error::BadDataOffset(v) => write!(f, "bad TCP data offset {v}"),
            Error::BadOption { kind, len } => {
                write!(f, "bad TCP option kind {kind} length {len}")
            }
            Error::BadChecksum { what } => write!(f, "bad {what} checksum"),
            Error::Fragmented => write!(f, "IP fragment (not reassembled)"),
            Error::UnsupportedExtension(n) => write!(f, "unsupported IPv6 extension header {n}"),
            Error::UnsupportedIcmp { ty, code } => {
                write!(f, "unsupported ICMP type {ty} code {code}")
            }
            Error::BadAddress => write!(f, "bad or mismatched address"),
            Error::BufferTooSmall { needed, got } => {
                write!(f, "buffer too small: need {needed} bytes, have {got}")
            }
            Error::OptionsTooLong => write!(f, "TCP options exceed 40 bytes"),
        }
    }
}

impl core::error::Error for Error {}
