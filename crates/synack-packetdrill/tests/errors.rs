//! Malformed scripts give a ParseError with the right line, column and a
//! message naming the construct.

use synack_packetdrill::parse_script;

/// Parses `src`, expects an error at `line`:`column` whose message
/// contains `needle`.
#[track_caller]
fn assert_error(src: &str, line: usize, column: usize, needle: &str) {
    let err = match parse_script(src) {
        Ok(script) => panic!("expected an error for {src:?}, parsed {script:?}"),
        Err(e) => e,
    };
    assert_eq!(
        (err.line, err.column),
        (line, column),
        "wrong position for {src:?}: {err}"
    );
    assert!(
        err.message.contains(needle),
        "message for {src:?} should contain {needle:?}: {err}"
    );
}

const PRELUDE: &str = "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 bind(3, ..., ...) = 0\n";

#[test]
fn error_positions_and_messages() {
    let cases: &[(&str, usize, usize, &str)] = &[
        // Missing window on an inbound packet (points at the flags).
        ("+0 < S 0:0(0)\n", 3, 6, "window must be specified"),
        // Inconsistent sequence range.
        (
            "+0 < . 1:1000(1000) win 10\n",
            3,
            8,
            "inconsistent TCP sequence",
        ),
        // Unknown flag letter.
        ("+0 > X 0:0(0)\n", 3, 6, "invalid TCP flag `X`"),
        // ACE digit with ECN letter.
        ("+0 > E.3 0:0(0)\n", 3, 6, "conflicting TCP flag"),
        // Unknown TCP option.
        (
            "+0 > S 0:0(0) <mss 1460,bogus 1>\n",
            3,
            25,
            "unknown TCP option `bogus`",
        ),
        // Option out of range.
        (
            "+0 > S 0:0(0) <mss 70000>\n",
            3,
            20,
            "mss value `70000` is out of range",
        ),
        // Options not padded to 32-bit words.
        ("+0 > S 0:0(0) <wscale 7>\n", 3, 15, "not a multiple of 4"),
        // Option space overflow.
        (
            "+0 > . 1:1(0) <sack 1:2 3:4 5:6 7:8 9:10>\n",
            3,
            15,
            "TCP option list too long",
        ),
        // <...> on inbound packets.
        (
            "+0 < . 1:1(0) win 1 <...>\n",
            3,
            21,
            "<...> for TCP options",
        ),
        // `*` on a syscall.
        (
            "* close(3) = 0\n",
            3,
            1,
            "event time `*` can only be used with outbound",
        ),
        // Range on an inbound packet.
        (
            "0.1~0.2 < . 1:1(0) win 1\n",
            3,
            1,
            "time range can only be used",
        ),
        // Backwards range.
        ("+0.2~+0.1 > . 1:1(0)\n", 3, 1, "time range is backwards"),
        // Relative range needs `+` on both ends.
        ("+0.1~0.2 > . 1:1(0)\n", 3, 6, "`+` after `~`"),
        // Negative time.
        ("-1 close(3) = 0\n", 3, 1, "negative time"),
        // Missing `=` after a call.
        (
            "+0 close(3)\n",
            4,
            1,
            "`=` and the expected result after `close(...)`",
        ),
        // Unbalanced call parentheses.
        ("+0 close(3 = 0\n", 3, 12, "`)` or `,` in the list"),
        // Missing event time.
        ("close(3) = 0\n", 3, 1, "expected an event time"),
        // Garbage after the time.
        ("+0 = 0\n", 3, 4, "expected a packet"),
        // Options after events.
        (
            "--foo=1\n",
            3,
            1,
            "option `--foo` must come before the first event",
        ),
        // Unsupported encapsulations name the construct.
        (
            "+0 < ipv4 2.2.2.2 > 1.1.1.1: gre: . 1:1(0) win 1\n",
            3,
            30,
            "GRE encapsulation (`gre`) is not supported",
        ),
        (
            "+0 < mpls (label 1, tc 0, ttl 1): . 1:1(0) win 1\n",
            3,
            6,
            "MPLS",
        ),
        (
            "+0 > . 1:1(0) {mut tcp mss}\n",
            3,
            15,
            "packet fuzzing parameters",
        ),
        // ect01 inbound.
        (
            "+0 < [ect01] . 1:1(0) win 1\n",
            3,
            7,
            "[ect01] can only be used with outbound",
        ),
        // Bad IP header item.
        (
            "+0 < [ce, ttl 300] . 1:1(0) win 1\n",
            3,
            15,
            "TTL `300` is out of range",
        ),
        // Bad hex cookie.
        (
            "+0 > S 0:0(0) <FO abc,nop>\n",
            3,
            19,
            "not a hex string with an even number",
        ),
        // Mixed struct.
        ("+0 f({a=1, 2}) = 0\n", 3, 12, "cannot mix"),
        // Float as an expression.
        ("+0 f(1.5) = 0\n", 3, 6, "fractional number"),
        // Integer overflow.
        (
            "+0 f(99999999999999999999) = 0\n",
            3,
            6,
            "does not fit in 64 bits",
        ),
        // Unterminated note.
        ("+0 f() = -1 EFOO (oops\n", 3, 18, "unterminated note"),
        // Unterminated string (lexer) keeps its position.
        ("+0 write(3, \"abc, 3) = 3\n", 3, 13, "unterminated string"),
        // Bad IPv4 address.
        (
            "+0 < 300.1.1.1:80 > 1.1.1.1:80 . 1:1(0) win 1\n",
            3,
            6,
            "invalid IPv4 address",
        ),
        // ICMP without a type.
        ("+0 < icmp [1:1(0)]\n", 3, 11, "ICMP type"),
        // Truncated packet line.
        ("+0 > S. 0:0(0) ack\n", 4, 1, "TCP ack number"),
    ];
    for &(line, l, c, needle) in cases {
        let src = format!("{PRELUDE}{line}");
        assert_error(&src, l, c, needle);
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let src = format!("0 f({}1{}) = 0\n", "[".repeat(100_000), "]".repeat(100_000));
    assert_error(&src, 1, 38, "nested too deeply");
    let braces = format!("0 f({}1{}) = 0\n", "{".repeat(50), "}".repeat(50));
    assert_error(&braces, 1, 38, "nested too deeply");
}

#[test]
fn long_bit_or_chains_are_fine() {
    let chain = vec!["A"; 100_000].join("|");
    let script = parse_script(&format!("0 f({chain}) = 0\n")).unwrap();
    assert_eq!(script.events.len(), 1);
}

#[test]
fn error_display_names_line_and_column() {
    let err = parse_script("0 close(3) = 0\n+0 < S 0:0(0)\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "line 2, column 6: window must be specified for inbound packets (add `win N`)"
    );
}
