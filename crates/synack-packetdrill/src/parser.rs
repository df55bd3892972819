//! Recursive-descent parser from packetdrill script text to the typed AST.
//!
//! Owns the grammar (options, event times, packet lines, system calls and
//! their expressions, shell commands and code blocks), the semantic checks
//! packetdrill makes while parsing (time ranges, `*` and `<...>` only on
//! outbound packets, a window on inbound packets, consistent sequence
//! ranges, the TCP option space), and [`ParseError`].
//!
//! The parser never panics: every malformed input gives a [`ParseError`]
//! with the 1-based line and column of the offending token. Expression
//! nesting is bounded so hostile input cannot exhaust the stack.

use std::fmt;
use std::net::IpAddr;

use crate::ast::*;
use crate::lexer::{tokenize, Tok, Token};

/// A syntax or semantic error in a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line of the offending token.
    pub line: usize,
    /// 1-based column (in characters) of the offending token.
    pub column: usize,
    /// What is wrong, naming the construct.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

impl std::error::Error for ParseError {}

/// Parses a whole packetdrill script.
///
/// ```
/// use synack_packetdrill::{parse_script, EventKind};
/// let script = parse_script("--tolerance_usecs=10000\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n").unwrap();
/// assert_eq!(script.options, vec![("tolerance_usecs".to_string(), "10000".to_string())]);
/// assert!(matches!(script.events[0].kind, EventKind::Syscall(_)));
/// ```
pub fn parse_script(text: &str) -> Result<Script, ParseError> {
    let tokens = tokenize(text)?;
    Parser {
        src: text,
        tokens,
        pos: 0,
    }
    .script()
}

/// Deepest nesting of `[...]`, `{...}` and calls accepted in an expression.
const MAX_EXPR_DEPTH: usize = 32;

/// TCP option space: the data offset is 4 bits of 32-bit words, so a
/// header holds at most 60 bytes, 40 of them options (RFC 9293 §3.1).
const MAX_TCP_OPTION_BYTES: usize = 40;

/// Longest TCP MD5 digest (RFC 2385 §3.0: 16 bytes).
const MAX_MD5_DIGEST_BYTES: usize = 16;

/// Longest Fast Open cookie a script may write: RFC 7413 §4.1.1 allows 4 to 16
/// bytes, but like packetdrill (`MAX_TCP_FAST_OPEN_COOKIE_BYTES`) anything that
/// fits the option space (40 bytes less kind and length) is accepted, so scripts
/// can send invalid cookies.
const MAX_FAST_OPEN_COOKIE_BYTES: usize = 38;

/// AccECN option counters are 24 bits (draft-ietf-tcpm-accurate-ecn §3.2.3).
const MAX_ACCECN_COUNTER: u64 = 0xFF_FFFF;

struct Parser<'a> {
    src: &'a str,
    tokens: Vec<Token>,
    pos: usize,
}

fn word_is(tok: &Token, src: &str, word: &str) -> bool {
    tok.kind == Tok::Word && tok.text(src) == word
}

impl<'a> Parser<'a> {
    // ----- token helpers -------------------------------------------------

    fn peek(&self) -> &Token {
        self.peek_at(0)
    }

    fn peek_at(&self, n: usize) -> &Token {
        let last = self.tokens.len().saturating_sub(1);
        // `tokenize` always ends the stream with an Eof token.
        &self.tokens[(self.pos + n).min(last)]
    }

    fn bump(&mut self) -> Token {
        let tok = self.peek().clone();
        if tok.kind != Tok::Eof {
            self.pos += 1;
        }
        tok
    }

    fn text(&self, tok: &Token) -> &'a str {
        tok.text(self.src)
    }

    /// Consumes the next token and returns its source text.
    fn bump_text(&mut self) -> &'a str {
        let tok = self.bump();
        tok.text(self.src)
    }

    /// True when the next token starts on the line where the last consumed one ends
    /// (a string may span lines: what follows it is on its last line, as the fuzzer
    /// found when a printed script put an errno there).
    fn next_on_same_line(&self) -> bool {
        match self.pos.checked_sub(1).and_then(|i| self.tokens.get(i)) {
            Some(prev) => {
                let spans = self
                    .src
                    .get(prev.start..prev.end)
                    .map_or(0, |t| t.matches('\n').count());
                prev.line + spans == self.peek().line
            }
            None => true,
        }
    }

    fn peek_punct(&self, c: char) -> bool {
        self.peek().is_punct(c)
    }

    fn peek_word(&self, word: &str) -> bool {
        word_is(self.peek(), self.src, word)
    }

    fn eat_punct(&mut self, c: char) -> bool {
        let hit = self.peek_punct(c);
        if hit {
            self.bump();
        }
        hit
    }

    fn eat_word(&mut self, word: &str) -> bool {
        let hit = self.peek_word(word);
        if hit {
            self.bump();
        }
        hit
    }

    fn describe(&self, tok: &Token) -> String {
        match &tok.kind {
            Tok::Eof => "end of input".to_string(),
            Tok::Str(_) => "a string".to_string(),
            Tok::Backquoted(_) => "a backquoted command".to_string(),
            Tok::Code(_) => "a %{ }% code block".to_string(),
            _ => {
                let text = self.text(tok);
                let short: String = text.chars().take(40).collect();
                format!("`{short}`")
            }
        }
    }

    fn error_at(&self, tok: &Token, message: impl Into<String>) -> ParseError {
        ParseError {
            line: tok.line,
            column: tok.column,
            message: message.into(),
        }
    }

    /// "expected X, found Y" at the next token.
    fn expected(&self, what: &str) -> ParseError {
        let tok = self.peek();
        self.error_at(
            tok,
            format!("expected {what}, found {}", self.describe(tok)),
        )
    }

    fn expect_punct(&mut self, c: char, context: &str) -> Result<Token, ParseError> {
        if self.peek_punct(c) {
            Ok(self.bump())
        } else {
            Err(self.expected(&format!("`{c}` {context}")))
        }
    }

    fn expect_word(&mut self, word: &str, context: &str) -> Result<(), ParseError> {
        if self.eat_word(word) {
            Ok(())
        } else {
            Err(self.expected(&format!("`{word}` {context}")))
        }
    }

    fn unsupported(&self, tok: &Token, what: &str) -> ParseError {
        self.error_at(tok, format!("{what} is not supported"))
    }

    // ----- numbers and times ---------------------------------------------

    /// A non-negative integer (decimal or hex) no larger than `max`.
    fn uint(&mut self, what: &str, max: u64) -> Result<u64, ParseError> {
        let tok = self.peek().clone();
        let text = self.text(&tok);
        let value = match tok.kind {
            Tok::Int if text.starts_with('-') => {
                return Err(
                    self.error_at(&tok, format!("{what} must not be negative, found `{text}`"))
                );
            }
            Tok::Int => text.parse::<u64>().ok(),
            Tok::HexInt => u64::from_str_radix(text.get(2..).unwrap_or(""), 16).ok(),
            _ => return Err(self.expected(&format!("{what} (an integer)"))),
        };
        match value {
            Some(v) if v <= max => {
                self.bump();
                Ok(v)
            }
            _ => Err(self.error_at(
                &tok,
                format!("{what} `{text}` is out of range (at most {max})"),
            )),
        }
    }

    fn u32_value(&mut self, what: &str) -> Result<u32, ParseError> {
        self.uint(what, u64::from(u32::MAX)).map(|v| v as u32)
    }

    fn u16_value(&mut self, what: &str) -> Result<u16, ParseError> {
        self.uint(what, u64::from(u16::MAX)).map(|v| v as u16)
    }

    fn u8_value(&mut self, what: &str) -> Result<u8, ParseError> {
        self.uint(what, u64::from(u8::MAX)).map(|v| v as u8)
    }

    /// A time in seconds (`1`, `0.100`, `.5`), returned in microseconds.
    /// Digits past the sixth decimal place are dropped.
    fn time(&mut self, what: &str) -> Result<u64, ParseError> {
        let tok = self.peek().clone();
        if !matches!(tok.kind, Tok::Int | Tok::Float) {
            return Err(self.expected(&format!("{what} (seconds, like `0.100`)")));
        }
        let text = self.text(&tok);
        if text.starts_with('-') {
            return Err(self.error_at(&tok, format!("negative time `{text}`")));
        }
        let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
        let whole: u64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| self.too_large(&tok, text))?
        };
        let mut frac_us = 0u64;
        for i in 0..6 {
            let digit = frac
                .as_bytes()
                .get(i)
                .and_then(|&b| (b as char).to_digit(10))
                .map_or(0, u64::from);
            frac_us = frac_us * 10 + digit;
        }
        let micros = whole
            .checked_mul(1_000_000)
            .and_then(|us| us.checked_add(frac_us))
            .ok_or_else(|| self.too_large(&tok, text))?;
        self.bump();
        Ok(micros)
    }

    fn too_large(&self, tok: &Token, text: &str) -> ParseError {
        self.error_at(tok, format!("time `{text}` is too large"))
    }

    // ----- script and events ---------------------------------------------

    fn script(mut self) -> Result<Script, ParseError> {
        let mut script = Script::default();
        while let Tok::OptionName(name) = self.peek().kind.clone() {
            self.bump();
            let value = if self.eat_punct('=') {
                self.option_value(&name)?
            } else {
                String::new()
            };
            script.options.push((name, value));
        }
        loop {
            let tok = self.peek().clone();
            match tok.kind {
                Tok::Eof => return Ok(script),
                Tok::OptionName(ref name) => {
                    return Err(self.error_at(
                        &tok,
                        format!("option `--{name}` must come before the first event"),
                    ));
                }
                Tok::Backquoted(command) => {
                    self.bump();
                    script.events.push(Event {
                        line: tok.line,
                        time: EventTime::Untimed,
                        kind: EventKind::Command(command),
                    });
                }
                _ => {
                    let event = self.event()?;
                    script.events.push(event);
                }
            }
        }
    }

    fn option_value(&mut self, name: &str) -> Result<String, ParseError> {
        let tok = self.bump();
        let text = self.text(&tok);
        match tok.kind {
            Tok::Word if self.peek_punct('=') => {
                self.bump();
                let rhs = self.bump();
                match rhs.kind {
                    Tok::Word => Ok(format!("{text}={}", self.text(&rhs))),
                    Tok::Str(s) => Ok(format!("{text}=\"{s}\"")),
                    Tok::Backquoted(s) => Ok(format!("{text}=`{s}`")),
                    _ => Err(self.error_at(
                        &rhs,
                        format!("expected a word, string or backquoted command after `{text}=`"),
                    )),
                }
            }
            Tok::Word | Tok::Int | Tok::HexInt | Tok::Float | Tok::Ipv4(_) | Tok::Ipv6(_) => {
                Ok(text.to_string())
            }
            Tok::Str(s) => Ok(s),
            _ => Err(self.error_at(
                &tok,
                format!(
                    "expected a value for option `--{name}`, found {}",
                    self.describe(&tok)
                ),
            )),
        }
    }

    fn event(&mut self) -> Result<Event, ParseError> {
        let time_tok = self.peek().clone();
        let time = self.event_time()?;
        let kind = self.action()?;
        let outbound_packet =
            matches!(&kind, EventKind::Packet(p) if p.direction == Direction::Outbound);
        if !outbound_packet {
            let what = match time {
                EventTime::Any => Some("event time `*`"),
                EventTime::AbsoluteRange { .. } | EventTime::RelativeRange { .. } => {
                    Some("an event time range")
                }
                _ => None,
            };
            if let Some(what) = what {
                return Err(self.error_at(
                    &time_tok,
                    format!("{what} can only be used with outbound (`>`) packets"),
                ));
            }
        }
        Ok(Event {
            line: time_tok.line,
            time,
            kind,
        })
    }

    fn event_time(&mut self) -> Result<EventTime, ParseError> {
        let start_tok = self.peek().clone();
        let time = if self.eat_punct('+') {
            let start_us = self.time("a relative time after `+`")?;
            if self.eat_punct('~') {
                if !self.eat_punct('+') {
                    return Err(
                        self.expected("`+` after `~` in a relative time range (like `+0.1~+0.2`)")
                    );
                }
                let end_us = self.time("the end of the time range")?;
                EventTime::RelativeRange { start_us, end_us }
            } else {
                EventTime::Relative(start_us)
            }
        } else if matches!(start_tok.kind, Tok::Int | Tok::Float) {
            let start_us = self.time("an event time")?;
            if self.eat_punct('~') {
                let end_us = self.time("the end of the time range")?;
                EventTime::AbsoluteRange { start_us, end_us }
            } else {
                EventTime::Absolute(start_us)
            }
        } else if self.eat_punct('*') {
            EventTime::Any
        } else {
            return Err(self.expected("an event time (like `0.100`, `+0.1` or `*`)"));
        };
        match time {
            EventTime::AbsoluteRange { start_us, end_us }
            | EventTime::RelativeRange { start_us, end_us }
                if end_us < start_us =>
            {
                Err(self.error_at(&start_tok, "time range is backwards"))
            }
            _ => Ok(time),
        }
    }

    fn action(&mut self) -> Result<EventKind, ParseError> {
        let tok = self.peek().clone();
        match tok.kind {
            Tok::Punct('<') | Tok::Punct('>') => Ok(EventKind::Packet(self.packet()?)),
            Tok::Ellipsis => {
                self.bump();
                let end = self.time("the end time of a blocking system call")?;
                Ok(EventKind::Syscall(self.syscall(Some(end))?))
            }
            Tok::Word => Ok(EventKind::Syscall(self.syscall(None)?)),
            Tok::Backquoted(command) => {
                self.bump();
                Ok(EventKind::Command(command))
            }
            Tok::Code(code) => {
                self.bump();
                Ok(EventKind::Code(code))
            }
            _ => Err(self.expected(
                "a packet (`<` or `>`), a system call, a `shell command` or a %{ code }% block after the event time",
            )),
        }
    }

    // ----- packets ---------------------------------------------------------

    fn packet(&mut self) -> Result<PacketEvent, ParseError> {
        let dir_tok = self.bump();
        let direction = if dir_tok.is_punct('<') {
            Direction::Inbound
        } else {
            Direction::Outbound
        };
        let mut encapsulation = Vec::new();
        loop {
            let tok = self.peek().clone();
            if word_is(&tok, self.src, "ipv4") || word_is(&tok, self.src, "ipv6") {
                self.bump();
                let v4 = word_is(&tok, self.src, "ipv4");
                let ip = self.opt_ip_info(direction)?;
                let src = self.address(v4)?;
                self.expect_punct('>', "between the outer IP addresses")?;
                let dst = self.address(v4)?;
                self.expect_punct(':', "after the outer IP header")?;
                encapsulation.push(IpEncapsulation { ip, src, dst });
            } else if word_is(&tok, self.src, "gre") {
                return Err(self.unsupported(&tok, "GRE encapsulation (`gre`)"));
            } else if word_is(&tok, self.src, "mpls") {
                return Err(self.unsupported(&tok, "MPLS encapsulation (`mpls`)"));
            } else {
                break;
            }
        }
        let ip = self.opt_ip_info(direction)?;
        let (endpoints, body) = if self.eat_word("icmp") {
            (None, PacketBody::Icmp(self.icmp()?))
        } else if self.eat_word("udp") {
            let endpoints = self.opt_endpoints()?;
            self.expect_punct('(', "before the UDP payload length")?;
            let payload_len = self.u16_value("UDP payload length")?;
            self.expect_punct(')', "after the UDP payload length")?;
            (endpoints, PacketBody::Udp { payload_len })
        } else {
            let endpoints = self.opt_endpoints()?;
            (endpoints, PacketBody::Tcp(self.tcp(direction)?))
        };
        Ok(PacketEvent {
            direction,
            encapsulation,
            ip,
            endpoints,
            body,
        })
    }

    fn address(&mut self, v4: bool) -> Result<IpAddr, ParseError> {
        match self.peek().kind {
            Tok::Ipv4(a) if v4 => {
                self.bump();
                Ok(IpAddr::V4(a))
            }
            Tok::Ipv6(a) if !v4 => {
                self.bump();
                Ok(IpAddr::V6(a))
            }
            _ => Err(self.expected(if v4 {
                "an IPv4 address"
            } else {
                "an IPv6 address"
            })),
        }
    }

    /// `[ect0]`, `(ce)`, `[tos 0x2]`, `[ect0, flowlabel 0x12]`, `[ttl 64]`.
    fn opt_ip_info(&mut self, direction: Direction) -> Result<IpInfo, ParseError> {
        const ITEMS: [&str; 8] = [
            "noecn",
            "ect0",
            "ect1",
            "ce",
            "ect01",
            "tos",
            "flowlabel",
            "ttl",
        ];
        let open = self.peek().clone();
        let close = match open.kind {
            Tok::Punct('[') => ']',
            Tok::Punct('(') => ')',
            _ => return Ok(IpInfo::default()),
        };
        let next = self.peek_at(1);
        if !(next.kind == Tok::Word && ITEMS.contains(&self.text(next))) {
            return Ok(IpInfo::default());
        }
        self.bump();
        let mut info = IpInfo::default();
        loop {
            let tok = self.bump();
            let word = if tok.kind == Tok::Word {
                self.text(&tok)
            } else {
                ""
            };
            let tos = match word {
                "noecn" => Some(TosSpec::Ecn(IpEcn::NotEct)),
                "ect0" => Some(TosSpec::Ecn(IpEcn::Ect0)),
                "ect1" => Some(TosSpec::Ecn(IpEcn::Ect1)),
                "ce" => Some(TosSpec::Ecn(IpEcn::Ce)),
                "ect01" => Some(TosSpec::Ect01),
                "tos" => Some(TosSpec::Tos(self.u8_value("TOS value")?)),
                "flowlabel" => {
                    let label = self.uint("IPv6 flow label", 0xF_FFFF)?;
                    if info.flow_label.replace(label as u32).is_some() {
                        return Err(self.error_at(&tok, "flow label given twice"));
                    }
                    None
                }
                "ttl" => {
                    let ttl = self.u8_value("TTL")?;
                    if info.ttl.replace(ttl).is_some() {
                        return Err(self.error_at(&tok, "TTL given twice"));
                    }
                    None
                }
                _ => {
                    return Err(self.error_at(
                        &tok,
                        format!(
                            "expected an IP header item (noecn, ect0, ect1, ce, ect01, tos, flowlabel or ttl), found {}",
                            self.describe(&tok)
                        ),
                    ));
                }
            };
            if let Some(tos) = tos {
                if tos == TosSpec::Ect01 && direction != Direction::Outbound {
                    return Err(
                        self.error_at(&tok, "[ect01] can only be used with outbound packets")
                    );
                }
                if info.tos.replace(tos).is_some() {
                    return Err(self.error_at(&tok, "ECN/TOS given twice"));
                }
            }
            if self.eat_punct(',') {
                continue;
            }
            self.expect_punct(close, "to close the IP header information")?;
            return Ok(info);
        }
    }

    /// `8080 > 8081`, `192.0.2.1:8080 > 192.0.2.2:80` or
    /// `[2001:db8::1]:80 > [2001:db8::2]:81`, if present.
    fn opt_endpoints(&mut self) -> Result<Option<Endpoints>, ParseError> {
        let tok = self.peek();
        let present = match tok.kind {
            Tok::Int => self.peek_at(1).is_punct('>'),
            Tok::Ipv4(_) => true,
            Tok::Punct('[') => matches!(self.peek_at(1).kind, Tok::Ipv6(_)),
            _ => false,
        };
        if !present {
            return Ok(None);
        }
        let (src_addr, src_port) = self.endpoint("source")?;
        self.expect_punct('>', "between source and destination")?;
        let (dst_addr, dst_port) = self.endpoint("destination")?;
        Ok(Some(Endpoints {
            src_addr,
            src_port,
            dst_addr,
            dst_port,
        }))
    }

    fn endpoint(&mut self, which: &str) -> Result<(Option<IpAddr>, u16), ParseError> {
        let port_what = format!("{which} port");
        let addr = match self.peek().kind {
            Tok::Ipv4(a) => {
                self.bump();
                Some(IpAddr::V4(a))
            }
            Tok::Punct('[') => {
                self.bump();
                let a = self.address(false)?;
                self.expect_punct(']', "after the IPv6 address")?;
                Some(a)
            }
            _ => None,
        };
        if addr.is_some() {
            self.expect_punct(':', &format!("before the {port_what}"))?;
        }
        let port = self.u16_value(&port_what)?;
        Ok((addr, port))
    }

    fn tcp(&mut self, direction: Direction) -> Result<TcpSegmentSpec, ParseError> {
        let flags_tok = self.peek().clone();
        let spec = self.flags_text()?;
        let flags = TcpFlags::from_spec(&spec).map_err(|m| self.error_at(&flags_tok, m))?;
        let seq_tok = self.peek().clone();
        let seq_start = self.u32_value("TCP start sequence number")?;
        self.expect_punct(':', "in the sequence range START:END(LEN)")?;
        let seq_end = self.u32_value("TCP end sequence number")?;
        self.expect_punct('(', "before the payload length in START:END(LEN)")?;
        let payload_len = self.u16_value("TCP payload length")?;
        self.expect_punct(')', "after the payload length in START:END(LEN)")?;
        // RFC 9293 §3.4: sequence numbers are modulo 2^32.
        if seq_start.wrapping_add(u32::from(payload_len)) != seq_end {
            return Err(self.error_at(
                &seq_tok,
                format!(
                    "inconsistent TCP sequence numbers and payload size: {seq_start}:{seq_end}({payload_len}) should end at {}",
                    seq_start.wrapping_add(u32::from(payload_len))
                ),
            ));
        }
        let ack = if self.eat_word("ack") {
            Some(self.u32_value("TCP ack number")?)
        } else {
            None
        };
        let window = if self.eat_word("win") {
            Some(self.u16_value("TCP window")?)
        } else {
            None
        };
        let urgent = if self.eat_word("urg") {
            Some(self.u16_value("TCP urgent pointer")?)
        } else {
            None
        };
        let options_tok = self.peek().clone();
        let options = if self.eat_punct('<') {
            if self.peek().kind == Tok::Ellipsis {
                self.bump();
                self.expect_punct('>', "after `<...`")?;
                None
            } else {
                Some(self.tcp_options(&options_tok)?)
            }
        } else {
            Some(Vec::new())
        };
        if self.peek_punct('{') {
            let tok = self.peek().clone();
            return Err(self.unsupported(&tok, "packet fuzzing parameters `{...}`"));
        }
        if direction == Direction::Inbound {
            if options.is_none() {
                return Err(self.error_at(
                    &options_tok,
                    "<...> for TCP options can only be used with outbound packets",
                ));
            }
            if window.is_none() {
                return Err(self.error_at(
                    &flags_tok,
                    "window must be specified for inbound packets (add `win N`)",
                ));
            }
        }
        Ok(TcpSegmentSpec {
            flags,
            seq_start,
            seq_end,
            payload_len,
            ack,
            window,
            urgent,
            options,
        })
    }

    /// Collects the tokens of a flags field: `S`, `S.`, `.`, `-`, `P.6`, `.6`.
    fn flags_text(&mut self) -> Result<String, ParseError> {
        let tok = self.peek().clone();
        let text = self.text(&tok);
        match tok.kind {
            Tok::Punct('-') | Tok::Punct('.') => {
                self.bump();
                Ok(text.to_string())
            }
            Tok::Float if text.starts_with('.') => {
                self.bump();
                Ok(text.to_string())
            }
            Tok::Word => {
                self.bump();
                let mut spec = text.to_string();
                let next = self.peek().clone();
                let next_text = self.text(&next);
                if next.is_punct('.') || (next.kind == Tok::Float && next_text.starts_with('.')) {
                    self.bump();
                    spec.push_str(next_text);
                }
                Ok(spec)
            }
            _ => Err(self
                .expected("TCP flags (like `S`, `S.`, `P.`, `F.`, `R` or `.`), `icmp` or `udp`")),
        }
    }

    fn tcp_options(&mut self, open: &Token) -> Result<Vec<OptionSpec>, ParseError> {
        let mut options = Vec::new();
        loop {
            options.push(self.tcp_option()?);
            if self.eat_punct(',') {
                continue;
            }
            self.expect_punct('>', "or `,` in the TCP option list")?;
            break;
        }
        let total: usize = options.iter().map(OptionSpec::encoded_len).sum();
        if total > MAX_TCP_OPTION_BYTES {
            return Err(self.error_at(
                open,
                format!("TCP option list too long: {total} bytes, at most {MAX_TCP_OPTION_BYTES} (RFC 9293 §3.1)"),
            ));
        }
        if total & 3 != 0 {
            return Err(self.error_at(
                open,
                format!(
                    "TCP options take {total} bytes, not a multiple of 4: pad with nop or eol (RFC 9293 §3.1, the data offset counts 32-bit words)"
                ),
            ));
        }
        Ok(options)
    }

    fn tcp_option(&mut self) -> Result<OptionSpec, ParseError> {
        let tok = self.peek().clone();
        if tok.kind != Tok::Word {
            return Err(self.expected("a TCP option"));
        }
        self.bump();
        let name = self.text(&tok);
        Ok(match name {
            "nop" => OptionSpec::Nop,
            "eol" => OptionSpec::Eol,
            "mss" => OptionSpec::Mss(self.u16_value("mss value")?),
            // RFC 7323 §2.3 caps the shift at 14 when used, but packetdrill
            // lets scripts send any byte, so only the field size is checked.
            "wscale" => OptionSpec::WindowScale(self.u8_value("window scale shift count")?),
            "sackOK" => OptionSpec::SackPermitted,
            "sack" => {
                let mut blocks = Vec::new();
                while matches!(self.peek().kind, Tok::Int | Tok::HexInt) {
                    let left = self.u32_value("SACK left edge")?;
                    self.expect_punct(':', "in the SACK block LEFT:RIGHT")?;
                    let right = self.u32_value("SACK right edge")?;
                    blocks.push(SackBlock { left, right });
                }
                if blocks.is_empty() {
                    return Err(self.expected("a SACK block like `1:1001`"));
                }
                OptionSpec::Sack(blocks)
            }
            "TS" => {
                self.expect_word("val", "after `TS`")?;
                let val = self.u32_value("TS val")?;
                self.expect_word("ecr", "after the TS value")?;
                let ecr = self.u32_value("TS ecr")?;
                OptionSpec::Timestamp { val, ecr }
            }
            "md5" => {
                let digest = self.hex_blob("MD5 digest", MAX_MD5_DIGEST_BYTES)?;
                match digest {
                    Some(d) => OptionSpec::Md5(d),
                    None => return Err(self.expected("an MD5 digest in hex")),
                }
            }
            "FO" => OptionSpec::FastOpen(
                self.hex_blob("Fast Open cookie", MAX_FAST_OPEN_COOKIE_BYTES)?
                    .unwrap_or_default(),
            ),
            "FOEXP" => OptionSpec::FastOpenExp(
                self.hex_blob("Fast Open cookie", MAX_FAST_OPEN_COOKIE_BYTES)?
                    .unwrap_or_default(),
            ),
            "ECN" => {
                let mut fields = Vec::new();
                loop {
                    let field = if self.eat_word("e0b") {
                        AccEcnField::E0b
                    } else if self.eat_word("ceb") {
                        AccEcnField::Ceb
                    } else if self.eat_word("e1b") {
                        AccEcnField::E1b
                    } else {
                        break;
                    };
                    let value = self.uint("AccECN counter", MAX_ACCECN_COUNTER)?;
                    fields.push((field, value as u32));
                }
                OptionSpec::AccEcn(fields)
            }
            _ => {
                return Err(self.error_at(
                    &tok,
                    format!(
                        "unknown TCP option `{name}` (expected nop, eol, mss, wscale, sackOK, sack, TS, md5, FO, FOEXP or ECN)"
                    ),
                ));
            }
        })
    }

    /// An optional even-length hex string written as a word or integer.
    fn hex_blob(&mut self, what: &str, max_bytes: usize) -> Result<Option<Vec<u8>>, ParseError> {
        let tok = self.peek().clone();
        if !matches!(tok.kind, Tok::Word | Tok::Int) {
            return Ok(None);
        }
        let text = self.text(&tok);
        if text.len() & 1 != 0 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(self.error_at(
                &tok,
                format!("{what} `{text}` is not a hex string with an even number of digits"),
            ));
        }
        let bytes: Vec<u8> = text
            .as_bytes()
            .chunks(2)
            .map(|pair| {
                let hi = (pair[0] as char).to_digit(16).unwrap_or(0);
                let lo = (pair[1] as char).to_digit(16).unwrap_or(0);
                (hi * 16 + lo) as u8
            })
            .collect();
        if bytes.len() > max_bytes {
            return Err(self.error_at(
                &tok,
                format!(
                    "{what} of {} bytes is longer than {max_bytes} bytes",
                    bytes.len()
                ),
            ));
        }
        self.bump();
        Ok(Some(bytes))
    }

    fn icmp(&mut self) -> Result<IcmpSpec, ParseError> {
        if self.peek().kind != Tok::Word {
            return Err(self.expected("an ICMP type (like `unreachable`)"));
        }
        let icmp_type = self.bump_text().to_string();
        let code =
            if self.peek().kind == Tok::Word && !self.peek_word("mtu") && !self.peek_word("id") {
                Some(self.bump_text().to_string())
            } else {
                None
            };
        let mtu = if self.eat_word("mtu") {
            Some(self.u32_value("ICMP MTU")?)
        } else {
            None
        };
        let echo_id = if self.eat_word("id") {
            Some(self.u16_value("ICMP echo id")?)
        } else {
            None
        };
        let echoed = if self.eat_punct('[') {
            let echoed = if self.eat_word("udp") || self.peek_word("raw") {
                let raw = self.eat_word("raw");
                self.expect_punct('(', "before the quoted payload length")?;
                let payload_len = self.u16_value("quoted payload length")?;
                self.expect_punct(')', "after the quoted payload length")?;
                if raw {
                    IcmpEchoed::Raw { payload_len }
                } else {
                    IcmpEchoed::Udp { payload_len }
                }
            } else {
                let seq_tok = self.peek().clone();
                let seq_start = self.u32_value("quoted TCP start sequence number")?;
                self.expect_punct(':', "in the quoted sequence range START:END(LEN)")?;
                let seq_end = self.u32_value("quoted TCP end sequence number")?;
                self.expect_punct('(', "before the quoted payload length")?;
                let payload_len = self.u16_value("quoted payload length")?;
                self.expect_punct(')', "after the quoted payload length")?;
                if seq_start.wrapping_add(u32::from(payload_len)) != seq_end {
                    return Err(self.error_at(
                        &seq_tok,
                        "inconsistent quoted TCP sequence numbers and payload size",
                    ));
                }
                IcmpEchoed::Tcp {
                    seq_start,
                    seq_end,
                    payload_len,
                }
            };
            self.expect_punct(']', "after the quoted packet")?;
            Some(echoed)
        } else {
            None
        };
        Ok(IcmpSpec {
            icmp_type,
            code,
            mtu,
            echo_id,
            echoed,
        })
    }

    // ----- system calls and expressions -------------------------------------

    fn syscall(&mut self, end_us: Option<u64>) -> Result<SyscallEvent, ParseError> {
        if self.peek().kind != Tok::Word {
            return Err(self.expected("a system call name"));
        }
        let name = self.bump_text().to_string();
        self.expect_punct('(', &format!("after system call name `{name}`"))?;
        let args = if self.eat_punct(')') {
            Vec::new()
        } else {
            self.expr_list(')', 0)?
        };
        self.expect_punct('=', &format!("and the expected result after `{name}(...)`"))?;
        let result = self.expr(0)?;
        // The errno and note must stay on the result's line, so that a
        // following line missing its time is reported there instead of
        // being read as an errno.
        let errno = if self.peek().kind == Tok::Word && self.next_on_same_line() {
            Some(self.bump_text().to_string())
        } else {
            None
        };
        let note = if self.peek_punct('(') && self.next_on_same_line() {
            Some(self.note()?)
        } else {
            None
        };
        Ok(SyscallEvent {
            end_us,
            name,
            args,
            result,
            errno,
            note,
        })
    }

    /// `( free text )` after a result: returns the text, whitespace collapsed. The
    /// text is that of the tokens inside, each gap between them (whitespace or a
    /// comment, which the lexer dropped) one space: a comment on a line of a note that
    /// spans lines is not part of it (kept, it would end the printed note's line and
    /// hide its `)`, as the fuzzer found).
    fn note(&mut self) -> Result<String, ParseError> {
        let open = self.bump();
        let mut depth = 1usize;
        let mut text = String::new();
        let mut prev_end = open.end;
        loop {
            let tok = self.bump();
            match tok.kind {
                Tok::Eof => {
                    return Err(self.error_at(&open, "unterminated note: missing `)`"));
                }
                Tok::Punct('(') => depth += 1,
                Tok::Punct(')') => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(text.split_whitespace().collect::<Vec<_>>().join(" "));
                    }
                }
                _ => {}
            }
            if tok.start > prev_end {
                text.push(' ');
            }
            text.push_str(self.src.get(tok.start..tok.end).unwrap_or(""));
            prev_end = tok.end;
        }
    }

    /// Comma-separated expressions up to and including `close`.
    fn expr_list(&mut self, close: char, depth: usize) -> Result<Vec<Expr>, ParseError> {
        let mut items = Vec::new();
        loop {
            items.push(self.expr(depth)?);
            if self.eat_punct(',') {
                continue;
            }
            self.expect_punct(close, "or `,` in the list")?;
            return Ok(items);
        }
    }

    fn expr(&mut self, depth: usize) -> Result<Expr, ParseError> {
        let first = self.primary(depth)?;
        self.expr_rest(first, depth)
    }

    /// Continues `first` with `| operand` terms.
    fn expr_rest(&mut self, first: Expr, depth: usize) -> Result<Expr, ParseError> {
        if !self.peek_punct('|') {
            return Ok(first);
        }
        let mut operands = vec![first];
        while self.eat_punct('|') {
            operands.push(self.primary(depth)?);
        }
        Ok(Expr::BitOr(operands))
    }

    fn primary(&mut self, depth: usize) -> Result<Expr, ParseError> {
        let tok = self.peek().clone();
        if depth > MAX_EXPR_DEPTH {
            return Err(self.error_at(
                &tok,
                format!("expression nested too deeply (more than {MAX_EXPR_DEPTH} levels)"),
            ));
        }
        let text = self.text(&tok);
        match tok.kind {
            Tok::Ellipsis => {
                self.bump();
                Ok(Expr::Ellipsis)
            }
            Tok::Int | Tok::HexInt => {
                let hex = tok.kind == Tok::HexInt;
                let value = if hex {
                    i64::from_str_radix(text.get(2..).unwrap_or(""), 16)
                } else {
                    text.parse::<i64>()
                };
                let value = value.map_err(|_| {
                    self.error_at(&tok, format!("integer `{text}` does not fit in 64 bits"))
                })?;
                self.bump();
                Ok(Expr::Int { value, hex })
            }
            Tok::Float => Err(self.error_at(
                &tok,
                format!("a fractional number `{text}` is not a valid expression"),
            )),
            Tok::Str(_) => {
                let mut joined = String::new();
                while let Tok::Str(s) = &self.peek().kind {
                    joined.push_str(s);
                    self.bump();
                }
                let trailing_ellipsis = self.peek().kind == Tok::Ellipsis;
                if trailing_ellipsis {
                    self.bump();
                }
                Ok(Expr::Str {
                    text: joined,
                    trailing_ellipsis,
                })
            }
            Tok::Word => {
                self.bump();
                if self.eat_punct('(') {
                    let args = self.call_args(depth)?;
                    Ok(Expr::Call {
                        name: text.to_string(),
                        args,
                    })
                } else {
                    Ok(Expr::Symbol(text.to_string()))
                }
            }
            Tok::Punct('[') => {
                self.bump();
                if self.eat_punct(']') {
                    return Ok(Expr::Array(Vec::new()));
                }
                Ok(Expr::Array(self.expr_list(']', depth + 1)?))
            }
            Tok::Punct('{') => self.braced(depth + 1),
            _ => Err(self.expected("an expression")),
        }
    }

    /// Arguments after `name(`, through the closing `)`.
    fn call_args(&mut self, depth: usize) -> Result<Vec<Expr>, ParseError> {
        if self.eat_punct(')') {
            Ok(Vec::new())
        } else {
            self.expr_list(')', depth + 1)
        }
    }

    /// `{...}`: a struct of `name=value` fields or a plain list.
    fn braced(&mut self, depth: usize) -> Result<Expr, ParseError> {
        self.bump();
        if self.eat_punct('}') {
            return Ok(Expr::Tuple(Vec::new()));
        }
        let mut fields = Vec::new();
        let mut items = Vec::new();
        loop {
            let start = self.peek().clone();
            if start.kind == Tok::Word && self.peek_at(1).is_punct('=') {
                self.bump();
                self.bump();
                let value = self.expr(depth)?;
                fields.push(StructField {
                    name: self.text(&start).to_string(),
                    arg: None,
                    value,
                });
            } else if start.kind == Tok::Word && self.peek_at(1).is_punct('(') {
                self.bump();
                self.bump();
                let name = self.text(&start).to_string();
                let mut args = self.call_args(depth)?;
                if self.eat_punct('=') {
                    if args.len() != 1 {
                        return Err(self.error_at(
                            &start,
                            format!("field `{name}(...)` takes exactly one argument"),
                        ));
                    }
                    let value = self.expr(depth)?;
                    fields.push(StructField {
                        name,
                        arg: args.pop(),
                        value,
                    });
                } else {
                    let call = Expr::Call { name, args };
                    items.push(self.expr_rest(call, depth)?);
                }
            } else {
                items.push(self.expr(depth)?);
            }
            if !fields.is_empty() && !items.is_empty() {
                return Err(self.error_at(
                    &start,
                    "cannot mix `name=value` fields and plain values inside `{...}`",
                ));
            }
            if self.eat_punct(',') {
                continue;
            }
            self.expect_punct('}', "or `,` inside `{...}`")?;
            break;
        }
        Ok(if fields.is_empty() {
            Expr::Tuple(items)
        } else {
            Expr::Struct(fields)
        })
    }
}
