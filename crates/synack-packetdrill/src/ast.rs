//! Typed syntax tree of a packetdrill script, and its printing back in
//! packetdrill notation.
//!
//! Owns every type produced by [`crate::parse_script`]: the script with its
//! command-line options, the timed events, packet specifications (TCP, UDP,
//! ICMP), TCP option lists, system calls and their argument expressions.
//! Every type that can appear in a failure message implements [`fmt::Display`]
//! and prints itself in the notation a script author would write, so that
//! `parse_script(&packet.to_string())` yields the same packet again.
//!
//! Times are kept as whole microseconds, like packetdrill does internally.

use std::fmt;
use std::net::IpAddr;

/// A parsed packetdrill script.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Script {
    /// Command-line-style options written at the top of the script, in
    /// order, as `(name, value)`: `--tolerance_usecs=10000` gives
    /// `("tolerance_usecs", "10000")`. A flag without a value (`--dry_run`)
    /// has an empty value. A quoted value is stored without its quotes;
    /// `--define=NAME="text"` keeps them, as `NAME="text"`.
    pub options: Vec<(String, String)>,
    /// The events of the script, in source order.
    pub events: Vec<Event>,
}

/// One line (or statement, which may span lines) of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// 1-based source line where the event starts (the line of its time).
    pub line: usize,
    /// When the event happens.
    pub time: EventTime,
    /// What happens.
    pub kind: EventKind,
}

/// The time written at the start of an event. All values are microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventTime {
    /// `0.100`: microseconds since the start of the script.
    Absolute(u64),
    /// `+0.1`: microseconds after the previous event.
    Relative(u64),
    /// `*`: any time (only for outbound packets).
    Any,
    /// `a~b`: any time in the absolute window (only for outbound packets).
    AbsoluteRange {
        /// Earliest time, microseconds since the start of the script.
        start_us: u64,
        /// Latest time, microseconds since the start of the script.
        end_us: u64,
    },
    /// `+a~+b`: any time in the window relative to the previous event (only
    /// for outbound packets).
    RelativeRange {
        /// Earliest time, microseconds after the previous event.
        start_us: u64,
        /// Latest time, microseconds after the previous event.
        end_us: u64,
    },
    /// No time: a backquoted shell command written without a time, such as
    /// packetdrill's initial setup command or final cleanup command.
    Untimed,
}

/// The action of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// A packet to inject (`<`) or to expect (`>`).
    Packet(PacketEvent),
    /// A system call to make and the result to expect.
    Syscall(SyscallEvent),
    /// A backquoted shell command, without its backquotes.
    Command(String),
    /// A `%{ ... }%` code block (Python in packetdrill), without its
    /// delimiters and with spaces and tabs trimmed from both ends.
    Code(String),
}

/// Which way a packet travels, seen from the system under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// `<`: the script injects the packet into the system under test.
    Inbound,
    /// `>`: the system under test is expected to send the packet.
    Outbound,
}

/// A packet line: `< S 0:0(0) win 32792 <mss 1000,nop,wscale 7>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketEvent {
    /// Inbound (`<`) or outbound (`>`).
    pub direction: Direction,
    /// Outer IP headers (IP-in-IP tunnels), outermost first:
    /// `ipv4 192.0.2.2 > 192.0.2.1: . 1:1(0) ...`.
    pub encapsulation: Vec<IpEncapsulation>,
    /// IP header details of the packet itself (`[ect0]`, `[tos 0x2]`, ...).
    pub ip: IpInfo,
    /// Ports, and maybe addresses, when the line names them.
    pub endpoints: Option<Endpoints>,
    /// The transport part.
    pub body: PacketBody,
}

/// An outer IP header: `ipv4 [ip info] SRC > DST:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpEncapsulation {
    /// IP header details of the outer header.
    pub ip: IpInfo,
    /// Source address (its family gives the IP version).
    pub src: IpAddr,
    /// Destination address (same family as `src`).
    pub dst: IpAddr,
}

/// Ports of a packet, optionally with addresses.
///
/// packetdrill writes `8080>8081` (ports only); this parser also accepts
/// `192.0.2.1:8080 > 192.0.2.2:8081` and `[2001:db8::1]:80 > [2001:db8::2]:81`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoints {
    /// Source address, if written.
    pub src_addr: Option<IpAddr>,
    /// Source port.
    pub src_port: u16,
    /// Destination address, if written.
    pub dst_addr: Option<IpAddr>,
    /// Destination port.
    pub dst_port: u16,
}

/// IP header details written in `[...]` or `(...)` before the transport part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IpInfo {
    /// TOS / traffic class check or value.
    pub tos: Option<TosSpec>,
    /// IPv6 flow label (20 bits).
    pub flow_label: Option<u32>,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: Option<u8>,
}

impl IpInfo {
    /// True when nothing was written.
    pub fn is_empty(&self) -> bool {
        self.tos.is_none() && self.flow_label.is_none() && self.ttl.is_none()
    }
}

/// What the TOS / traffic class byte must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TosSpec {
    /// The ECN field must have this codepoint (RFC 3168 §5).
    Ecn(IpEcn),
    /// `ect01`: either ECT(0) or ECT(1) (outbound packets only).
    Ect01,
    /// `tos 0xNN`: the whole byte.
    Tos(u8),
}

/// An ECN codepoint of the IP header (RFC 3168 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpEcn {
    /// `noecn`: Not-ECT (00).
    NotEct,
    /// `ect1`: ECT(1) (01).
    Ect1,
    /// `ect0`: ECT(0) (10).
    Ect0,
    /// `ce`: Congestion Experienced (11).
    Ce,
}

impl IpEcn {
    /// The packetdrill keyword for this codepoint.
    pub fn keyword(self) -> &'static str {
        match self {
            IpEcn::NotEct => "noecn",
            IpEcn::Ect1 => "ect1",
            IpEcn::Ect0 => "ect0",
            IpEcn::Ce => "ce",
        }
    }
}

/// The transport part of a packet line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PacketBody {
    /// A TCP segment.
    Tcp(TcpSegmentSpec),
    /// A UDP datagram: `udp (LEN)`.
    Udp {
        /// Payload length in bytes.
        payload_len: u16,
    },
    /// An ICMP message.
    Icmp(IcmpSpec),
}

/// A TCP segment: `FLAGS START:END(LEN) [ack N] [win N] [urg N] [<options>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpSegmentSpec {
    /// Control bits.
    pub flags: TcpFlags,
    /// Sequence number of the first payload byte (or of the SYN/FIN),
    /// relative to the initial sequence number as packetdrill writes it.
    pub seq_start: u32,
    /// `seq_start + payload_len` (mod 2^32, RFC 9293 §3.4).
    pub seq_end: u32,
    /// Payload length in bytes.
    pub payload_len: u16,
    /// `ack N`: the acknowledgment number, if written.
    pub ack: Option<u32>,
    /// `win N`: the window field, if written (required on inbound packets;
    /// absent on an outbound packet means "do not check").
    pub window: Option<u16>,
    /// `urg N`: the urgent pointer, if written.
    pub urgent: Option<u16>,
    /// TCP options. `None` is `<...>` ("do not check options", outbound
    /// only); `Some(vec![])` means no options were written, so the segment
    /// must carry none.
    pub options: Option<Vec<OptionSpec>>,
}

/// TCP control bits as packetdrill writes them (`S`, `S.`, `P.`, `FP.`,
/// `SEWA`, `.6`, `-`, ...).
///
/// Letters: `F` FIN, `S` SYN, `R` RST, `P` PSH, `.` ACK, `U` URG, `E` ECE,
/// `W` CWR, `A` AE (RFC 3168 §6.1, RFC 9293 §3.1). A digit 0-7 gives the
/// AccECN ACE field (AE, CWR, ECE as a 3-bit counter) and cannot be combined
/// with `E`, `W` or `A`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpFlags {
    /// FIN.
    pub fin: bool,
    /// SYN.
    pub syn: bool,
    /// RST.
    pub rst: bool,
    /// PSH.
    pub psh: bool,
    /// ACK (written `.`).
    pub ack: bool,
    /// URG.
    pub urg: bool,
    /// ECE (`E`).
    pub ece: bool,
    /// CWR (`W`).
    pub cwr: bool,
    /// AE (`A`), the former NS bit.
    pub ae: bool,
    /// AccECN ACE counter (0-7) when written as a digit.
    pub ace: Option<u8>,
}

impl TcpFlags {
    /// Parses a flags string such as `"S."`, `"FP."`, `"SEWA"`, `"P.6"`,
    /// `"."` or `"-"` (no flag). Returns a message naming the bad
    /// character on failure.
    pub fn from_spec(spec: &str) -> Result<TcpFlags, String> {
        let mut flags = TcpFlags::default();
        if spec == "-" {
            return Ok(flags);
        }
        if spec.is_empty() {
            return Err("empty TCP flags".to_string());
        }
        let mut has_ecn_letter = false;
        for c in spec.chars() {
            match c {
                'F' => flags.fin = true,
                'S' => flags.syn = true,
                'R' => flags.rst = true,
                'P' => flags.psh = true,
                '.' => flags.ack = true,
                'U' => flags.urg = true,
                'E' | 'W' | 'A' => {
                    if flags.ace.is_some() {
                        return Err(format!(
                            "conflicting TCP flag `{c}` in `{spec}`: ECN letters cannot be combined with an ACE digit"
                        ));
                    }
                    has_ecn_letter = true;
                    match c {
                        'E' => flags.ece = true,
                        'W' => flags.cwr = true,
                        _ => flags.ae = true,
                    }
                }
                '0'..='7' => {
                    if has_ecn_letter || flags.ace.is_some() {
                        return Err(format!(
                            "conflicting TCP flag `{c}` in `{spec}`: only one ACE digit, and no ECN letters with it"
                        ));
                    }
                    flags.ace = Some(c as u8 - b'0');
                }
                _ => {
                    return Err(format!(
                        "invalid TCP flag `{c}` in `{spec}` (valid: F S R P . U E W A and one digit 0-7)"
                    ))
                }
            }
        }
        Ok(flags)
    }

    /// True when no bit is set and no ACE value is given (written `-`).
    pub fn is_empty(&self) -> bool {
        *self == TcpFlags::default()
    }
}

impl fmt::Display for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("-");
        }
        let letters = [
            (self.fin, 'F'),
            (self.syn, 'S'),
            (self.rst, 'R'),
            (self.psh, 'P'),
            (self.urg, 'U'),
            (self.ece, 'E'),
            (self.cwr, 'W'),
            (self.ae, 'A'),
            (self.ack, '.'),
        ];
        for (set, c) in letters {
            if set {
                write!(f, "{c}")?;
            }
        }
        if let Some(ace) = self.ace {
            write!(f, "{ace}")?;
        }
        Ok(())
    }
}

/// A SACK block `left:right` (RFC 2018 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SackBlock {
    /// Left edge: first sequence number of the block.
    pub left: u32,
    /// Right edge: sequence number just after the block.
    pub right: u32,
}

/// An AccECN option counter field name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccEcnField {
    /// `e0b`: bytes received with ECT(0).
    E0b,
    /// `ceb`: bytes received with CE.
    Ceb,
    /// `e1b`: bytes received with ECT(1).
    E1b,
}

impl AccEcnField {
    /// The packetdrill keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            AccEcnField::E0b => "e0b",
            AccEcnField::Ceb => "ceb",
            AccEcnField::E1b => "e1b",
        }
    }
}

/// One TCP option inside `<...>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionSpec {
    /// `nop` (RFC 9293 §3.2, kind 1).
    Nop,
    /// `eol` (RFC 9293 §3.2, kind 0).
    Eol,
    /// `mss N` (RFC 9293 §3.7.1, kind 2).
    Mss(u16),
    /// `wscale N`: window scale shift count (RFC 7323 §2.2, kind 3).
    WindowScale(u8),
    /// `sackOK` (RFC 2018 §2, kind 4).
    SackPermitted,
    /// `sack a:b c:d ...` (RFC 2018 §3, kind 5).
    Sack(Vec<SackBlock>),
    /// `TS val X ecr Y` (RFC 7323 §3.2, kind 8).
    Timestamp {
        /// TSval.
        val: u32,
        /// TSecr.
        ecr: u32,
    },
    /// `md5 HEX`: TCP MD5 signature digest bytes (RFC 2385 §3.0, kind 19).
    Md5(Vec<u8>),
    /// `FO [HEX]`: TCP Fast Open cookie (RFC 7413 §4.1.1, kind 34); an empty
    /// cookie is a cookie request.
    FastOpen(Vec<u8>),
    /// `FOEXP [HEX]`: Fast Open with the experimental option kind 254 and
    /// magic 0xF989 (RFC 7413 §4.1.1).
    FastOpenExp(Vec<u8>),
    /// `ECN e0b N ceb N e1b N`: the AccECN option; the field order is kept
    /// because it selects the option kind.
    AccEcn(Vec<(AccEcnField, u32)>),
}

impl OptionSpec {
    /// Encoded length of the option in bytes (kind and length octets
    /// included), used to check the 40-byte option space (RFC 9293 §3.1).
    pub fn encoded_len(&self) -> usize {
        match self {
            OptionSpec::Nop | OptionSpec::Eol => 1,
            OptionSpec::Mss(_) => 4,
            OptionSpec::WindowScale(_) => 3,
            OptionSpec::SackPermitted => 2,
            OptionSpec::Sack(blocks) => 2 + 8 * blocks.len(),
            OptionSpec::Timestamp { .. } => 10,
            OptionSpec::Md5(digest) => 2 + digest.len(),
            OptionSpec::FastOpen(cookie) => 2 + cookie.len(),
            OptionSpec::FastOpenExp(cookie) => 4 + cookie.len(),
            OptionSpec::AccEcn(fields) => 2 + 3 * fields.len(),
        }
    }
}

fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    for b in bytes {
        write!(f, "{b:02x}")?;
    }
    Ok(())
}

impl fmt::Display for OptionSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptionSpec::Nop => f.write_str("nop"),
            OptionSpec::Eol => f.write_str("eol"),
            OptionSpec::Mss(mss) => write!(f, "mss {mss}"),
            OptionSpec::WindowScale(shift) => write!(f, "wscale {shift}"),
            OptionSpec::SackPermitted => f.write_str("sackOK"),
            OptionSpec::Sack(blocks) => {
                f.write_str("sack")?;
                for b in blocks {
                    write!(f, " {}:{}", b.left, b.right)?;
                }
                Ok(())
            }
            OptionSpec::Timestamp { val, ecr } => write!(f, "TS val {val} ecr {ecr}"),
            OptionSpec::Md5(digest) => {
                f.write_str("md5 ")?;
                write_hex(f, digest)
            }
            OptionSpec::FastOpen(cookie) | OptionSpec::FastOpenExp(cookie) => {
                f.write_str(if matches!(self, OptionSpec::FastOpen(_)) {
                    "FO"
                } else {
                    "FOEXP"
                })?;
                if !cookie.is_empty() {
                    f.write_str(" ")?;
                    write_hex(f, cookie)?;
                }
                Ok(())
            }
            OptionSpec::AccEcn(fields) => {
                f.write_str("ECN")?;
                for (field, value) in fields {
                    write!(f, " {} {value}", field.keyword())?;
                }
                Ok(())
            }
        }
    }
}

/// An ICMP packet: `icmp TYPE [CODE] [mtu N] [id N] [[ECHOED]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcmpSpec {
    /// Type name as written (`unreachable`, `time_exceeded`, ...).
    pub icmp_type: String,
    /// Code name as written (`frag_needed`, `port_unreachable`, ...).
    pub code: Option<String>,
    /// `mtu N`: next-hop MTU (RFC 1191 §4) or IPv6 packet-too-big MTU.
    pub mtu: Option<u32>,
    /// `id N`: echo identifier.
    pub echo_id: Option<u16>,
    /// The quoted packet in `[...]`, if written.
    pub echoed: Option<IcmpEchoed>,
}

/// The packet an ICMP error quotes (RFC 792, RFC 4443 §2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IcmpEchoed {
    /// `[START:END(LEN)]`: a TCP segment.
    Tcp {
        /// Start sequence number.
        seq_start: u32,
        /// End sequence number.
        seq_end: u32,
        /// Payload length.
        payload_len: u16,
    },
    /// `[udp (LEN)]`: a UDP datagram.
    Udp {
        /// Payload length.
        payload_len: u16,
    },
    /// `[raw (LEN)]`: a raw IP packet.
    Raw {
        /// Payload length.
        payload_len: u16,
    },
}

/// A system call line: `[...END] name(args) = result [ERRNO] [(note)]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyscallEvent {
    /// For a blocking call written `start...END name(...)`: the time the
    /// call must return, in microseconds. It is on the same base as the
    /// event start: absolute for an absolute start, and relative to the
    /// previous event for a relative (`+`) start, as packetdrill reads it.
    pub end_us: Option<u64>,
    /// The call name (`socket`, `read`, `setsockopt`, ... any word).
    pub name: String,
    /// Argument expressions.
    pub args: Vec<Expr>,
    /// Expected return value.
    pub result: Expr,
    /// Expected errno symbol (`EINPROGRESS`), if written.
    pub errno: Option<String>,
    /// Free text in parentheses after the result (the strerror text, or
    /// any note), whitespace collapsed.
    pub note: Option<String>,
}

/// An argument or result expression of a system call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// `...`: anything / not checked.
    Ellipsis,
    /// An integer, decimal or hexadecimal.
    Int {
        /// The value.
        value: i64,
        /// Written as `0x...`.
        hex: bool,
    },
    /// A bare word: a symbol such as `AF_INET`, `SOCK_STREAM`, `POLLIN`.
    Symbol(String),
    /// A string literal (adjacent literals are joined). The text is kept as
    /// written between the quotes; escapes are not interpreted.
    Str {
        /// Raw text between the quotes.
        text: String,
        /// Written `"text"...` (text followed by unchecked bytes).
        trailing_ellipsis: bool,
    },
    /// `a|b|c`: bitwise or of two or more operands, in source order.
    BitOr(Vec<Expr>),
    /// `[a, b, ...]`.
    Array(Vec<Expr>),
    /// `{name=value, ...}`: a struct (sockaddr, linger, pollfd, msghdr...).
    Struct(Vec<StructField>),
    /// `{a, b, ...}`: a brace list without field names (iovec `{..., 10}`).
    Tuple(Vec<Expr>),
    /// `name(args)`: a function-like expression, e.g. `htons(8080)` or
    /// `inet_addr("192.0.2.1")`.
    Call {
        /// Function name.
        name: String,
        /// Arguments.
        args: Vec<Expr>,
    },
}

/// One `name=value` (or `name(arg)=value`, as in msghdr's `msg_iov(1)=`)
/// field of a struct expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StructField {
    /// Field name.
    pub name: String,
    /// Parenthesized argument after the name, if any.
    pub arg: Option<Expr>,
    /// Field value.
    pub value: Expr,
}

impl Expr {
    /// The integer value, if this is an integer literal.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Expr::Int { value, .. } => Some(*value),
            _ => None,
        }
    }

    /// The symbol name, if this is a bare word.
    pub fn as_symbol(&self) -> Option<&str> {
        match self {
            Expr::Symbol(s) => Some(s),
            _ => None,
        }
    }

    /// The value of field `name`, if this is a struct with such a field.
    pub fn field(&self, name: &str) -> Option<&Expr> {
        match self {
            Expr::Struct(fields) => fields.iter().find(|f| f.name == name).map(|f| &f.value),
            _ => None,
        }
    }
}

/// Writes microseconds as seconds with as few digits as exact: `0.1`, `2`,
/// `0.000123`.
pub(crate) fn write_seconds(f: &mut fmt::Formatter<'_>, micros: u64) -> fmt::Result {
    let secs = micros / 1_000_000;
    let frac = micros % 1_000_000;
    if frac == 0 {
        return write!(f, "{secs}");
    }
    let digits = format!("{frac:06}");
    write!(f, "{secs}.{}", digits.trim_end_matches('0'))
}

struct Seconds(u64);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_seconds(f, self.0)
    }
}

impl fmt::Display for EventTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            EventTime::Absolute(t) => write_seconds(f, t),
            EventTime::Relative(t) => write!(f, "+{}", Seconds(t)),
            EventTime::Any => f.write_str("*"),
            EventTime::AbsoluteRange { start_us, end_us } => {
                write!(f, "{}~{}", Seconds(start_us), Seconds(end_us))
            }
            EventTime::RelativeRange { start_us, end_us } => {
                write!(f, "+{}~+{}", Seconds(start_us), Seconds(end_us))
            }
            EventTime::Untimed => Ok(()),
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Inbound => "<",
            Direction::Outbound => ">",
        })
    }
}

impl fmt::Display for IpInfo {
    /// Prints `[item, item]`, or nothing when empty.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return Ok(());
        }
        let mut items = Vec::new();
        match self.tos {
            Some(TosSpec::Ecn(ecn)) => items.push(ecn.keyword().to_string()),
            Some(TosSpec::Ect01) => items.push("ect01".to_string()),
            Some(TosSpec::Tos(tos)) => items.push(format!("tos 0x{tos:x}")),
            None => {}
        }
        if let Some(label) = self.flow_label {
            items.push(format!("flowlabel 0x{label:x}"));
        }
        if let Some(ttl) = self.ttl {
            items.push(format!("ttl {ttl}"));
        }
        write!(f, "[{}]", items.join(", "))
    }
}

fn write_endpoint(f: &mut fmt::Formatter<'_>, addr: Option<IpAddr>, port: u16) -> fmt::Result {
    match addr {
        Some(IpAddr::V4(a)) => write!(f, "{a}:{port}"),
        Some(IpAddr::V6(a)) => write!(f, "[{a}]:{port}"),
        None => write!(f, "{port}"),
    }
}

impl fmt::Display for Endpoints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_endpoint(f, self.src_addr, self.src_port)?;
        f.write_str(" > ")?;
        write_endpoint(f, self.dst_addr, self.dst_port)
    }
}

impl fmt::Display for IpEncapsulation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let version = if self.src.is_ipv4() { "ipv4" } else { "ipv6" };
        write!(f, "{version} ")?;
        if !self.ip.is_empty() {
            write!(f, "{} ", self.ip)?;
        }
        write!(f, "{} > {}:", self.src, self.dst)
    }
}

impl fmt::Display for TcpSegmentSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}:{}({})",
            self.flags, self.seq_start, self.seq_end, self.payload_len
        )?;
        if let Some(ack) = self.ack {
            write!(f, " ack {ack}")?;
        }
        if let Some(win) = self.window {
            write!(f, " win {win}")?;
        }
        if let Some(urg) = self.urgent {
            write!(f, " urg {urg}")?;
        }
        match &self.options {
            None => f.write_str(" <...>"),
            Some(opts) if opts.is_empty() => Ok(()),
            Some(opts) => {
                f.write_str(" <")?;
                for (i, o) in opts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{o}")?;
                }
                f.write_str(">")
            }
        }
    }
}

impl fmt::Display for IcmpEchoed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            IcmpEchoed::Tcp {
                seq_start,
                seq_end,
                payload_len,
            } => write!(f, "[{seq_start}:{seq_end}({payload_len})]"),
            IcmpEchoed::Udp { payload_len } => write!(f, "[udp ({payload_len})]"),
            IcmpEchoed::Raw { payload_len } => write!(f, "[raw ({payload_len})]"),
        }
    }
}

impl fmt::Display for IcmpSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "icmp {}", self.icmp_type)?;
        if let Some(code) = &self.code {
            write!(f, " {code}")?;
        }
        if let Some(mtu) = self.mtu {
            write!(f, " mtu {mtu}")?;
        }
        if let Some(id) = self.echo_id {
            write!(f, " id {id}")?;
        }
        if let Some(echoed) = &self.echoed {
            write!(f, " {echoed}")?;
        }
        Ok(())
    }
}

impl fmt::Display for PacketEvent {
    /// Prints the packet in packetdrill notation, starting with its
    /// direction: `> S. 0:0(0) ack 1 <mss 1460,nop,wscale 7>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.direction)?;
        for encap in &self.encapsulation {
            write!(f, " {encap}")?;
        }
        if !self.ip.is_empty() {
            write!(f, " {}", self.ip)?;
        }
        match &self.body {
            PacketBody::Tcp(tcp) => {
                if let Some(ep) = &self.endpoints {
                    write!(f, " {ep}")?;
                }
                write!(f, " {tcp}")
            }
            PacketBody::Udp { payload_len } => {
                f.write_str(" udp")?;
                if let Some(ep) = &self.endpoints {
                    write!(f, " {ep}")?;
                }
                write!(f, " ({payload_len})")
            }
            PacketBody::Icmp(icmp) => write!(f, " {icmp}"),
        }
    }
}

fn write_list(f: &mut fmt::Formatter<'_>, items: &[Expr]) -> fmt::Result {
    for (i, e) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{e}")?;
    }
    Ok(())
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Ellipsis => f.write_str("..."),
            Expr::Int { value, hex: true } if *value >= 0 => write!(f, "{value:#x}"),
            Expr::Int { value, .. } => write!(f, "{value}"),
            Expr::Symbol(s) => f.write_str(s),
            Expr::Str {
                text,
                trailing_ellipsis,
            } => {
                write!(f, "\"{text}\"")?;
                if *trailing_ellipsis {
                    f.write_str("...")?;
                }
                Ok(())
            }
            Expr::BitOr(operands) => {
                for (i, e) in operands.iter().enumerate() {
                    if i > 0 {
                        f.write_str("|")?;
                    }
                    write!(f, "{e}")?;
                }
                Ok(())
            }
            Expr::Array(items) => {
                f.write_str("[")?;
                write_list(f, items)?;
                f.write_str("]")
            }
            Expr::Struct(fields) => {
                f.write_str("{")?;
                for (i, field) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    f.write_str(&field.name)?;
                    if let Some(arg) = &field.arg {
                        write!(f, "({arg})")?;
                    }
                    write!(f, "={}", field.value)?;
                }
                f.write_str("}")
            }
            Expr::Tuple(items) => {
                f.write_str("{")?;
                write_list(f, items)?;
                f.write_str("}")
            }
            Expr::Call { name, args } => {
                write!(f, "{name}(")?;
                write_list(f, args)?;
                f.write_str(")")
            }
        }
    }
}

impl fmt::Display for SyscallEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(end) = self.end_us {
            write!(f, "...{} ", Seconds(end))?;
        }
        write!(f, "{}(", self.name)?;
        write_list(f, &self.args)?;
        write!(f, ") = {}", self.result)?;
        if let Some(errno) = &self.errno {
            write!(f, " {errno}")?;
        }
        if let Some(note) = &self.note {
            write!(f, " ({note})")?;
        }
        Ok(())
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventKind::Packet(p) => write!(f, "{p}"),
            EventKind::Syscall(s) => write!(f, "{s}"),
            EventKind::Command(c) => write!(f, "`{c}`"),
            EventKind::Code(c) => write!(f, "%{{ {c} }}%"),
        }
    }
}

impl fmt::Display for Event {
    /// Prints the event as one script line (without its line number).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A blocking call's `...END` follows the start time directly.
        let blocking = matches!(&self.kind, EventKind::Syscall(s) if s.end_us.is_some());
        match self.time {
            EventTime::Untimed => write!(f, "{}", self.kind),
            time if blocking => write!(f, "{time}{}", self.kind),
            time => write!(f, "{time} {}", self.kind),
        }
    }
}

impl fmt::Display for Script {
    /// Prints the whole script: options first, one event per line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, value) in &self.options {
            if value.is_empty() {
                writeln!(f, "--{name}")?;
            } else if is_plain_option_value(value) || is_assignment_option_value(value) {
                writeln!(f, "--{name}={value}")?;
            } else {
                writeln!(f, "--{name}=\"{value}\"")?;
            }
        }
        for event in &self.events {
            writeln!(f, "{event}")?;
        }
        Ok(())
    }
}

/// True when an option value can be printed without quotes.
/// A value the parser built from `word="string"` or ``word=`command` ``: printed as it
/// is (quoting it again would nest its quotes; found by the packetdrill fuzz target).
fn is_assignment_option_value(value: &str) -> bool {
    let Some((lhs, rhs)) = value.split_once('=') else {
        return false;
    };
    let quoted = |q: char| {
        rhs.len() >= 2
            && rhs.starts_with(q)
            && rhs.ends_with(q)
            && !rhs[1..rhs.len() - 1].contains(q)
    };
    !lhs.is_empty() && is_plain_option_value(lhs) && (quoted('"') || quoted('`'))
}

fn is_plain_option_value(value: &str) -> bool {
    value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-'))
}
