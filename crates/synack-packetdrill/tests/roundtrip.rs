//! Packet lines (and whole events) print back in packetdrill notation and
//! parse again to the same AST.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use synack_packetdrill::*;

fn only_packet(src: &str) -> PacketEvent {
    let script = parse_script(src).unwrap_or_else(|e| panic!("{src:?}: {e}"));
    assert_eq!(script.events.len(), 1);
    match &script.events[0].kind {
        EventKind::Packet(p) => p.clone(),
        other => panic!("not a packet: {other:?}"),
    }
}

/// Canonical packet lines print back exactly as written.
#[test]
fn canonical_lines_print_back_verbatim() {
    let lines = [
        "< S 0:0(0) win 32792 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>",
        "> S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 8>",
        "< . 1:1(0) ack 1 win 257",
        "> P. 1:1001(1000) ack 1 <...>",
        "< . 1:1(0) ack 1001 win 257 <nop,nop,sack 2001:3001 4001:5001>",
        "> F. 1001:1001(0) ack 2",
        "< R 1:1(0) win 0",
        "< R. 0:0(0) ack 1 win 0",
        "< FP. 1:11(10) ack 1 win 100 urg 3",
        "> [ect0] SEWA 0:0(0) <mss 1460,ECN e1b 1 ceb 0 e0b 1,nop>",
        "> [ce] P.6 1:101(100) ack 1",
        "> [tos 0x2, flowlabel 0x12345, ttl 9] . 1:1(0) ack 1",
        "< - 1:1(0) win 10",
        "> S 0:0(0) <mss 1460,nop,nop,sackOK,nop,wscale 8,FO,nop,nop>",
        "> S 0:0(0) <FO abcd1234,FOEXP 01020304,nop,eol>",
        "< S 0:0(0) win 1 <md5 000102030405060708090a0b0c0d0e0f,nop,nop>",
        "< icmp unreachable frag_needed mtu 1200 [1:1001(1000)]",
        "< icmp unreachable port_unreachable [1:1001(1000)]",
        "> icmp echo_reply id 7",
        "< icmp time_exceeded [udp (100)]",
        "< icmp unreachable [raw (20)]",
        "< udp (100)",
        "< udp 5000 > 53 (100)",
        "< 8080 > 80 . 1:1(0) ack 1 win 1000",
        "< 192.0.2.1:8080 > 192.168.0.1:80 S 0:0(0) win 1000",
        "> [2001:db8::1]:80 > [2001:db8::2]:8080 S. 0:0(0) ack 1",
        "< ipv4 2.2.2.2 > 1.1.1.1: . 1:1001(1000) ack 1 win 123",
        "> ipv6 [ect1] 1::1111 > 2::2222: ipv6 1::1111 > 2::2222: . 1:1001(1000) ack 1",
    ];
    for line in lines {
        let p = only_packet(&format!("+0 {line}\n"));
        assert_eq!(p.to_string(), line);
    }
}

/// Non-canonical spellings print canonically and keep their meaning.
#[test]
fn non_canonical_lines_normalize() {
    let cases = [
        ("+0 < EAP. 1:1(0) win 1", "< PEA. 1:1(0) win 1"),
        (
            "+0 < (ect0) .  1:1(0)   win 0x10",
            "< [ect0] . 1:1(0) win 16",
        ),
        ("+0 > S 0:0(0) <FO ABCD>", "> S 0:0(0) <FO abcd>"),
    ];
    for (src, printed) in cases {
        let p = only_packet(src);
        assert_eq!(p.to_string(), printed);
        assert_eq!(only_packet(&format!("+0 {printed}")), p);
    }
}

#[test]
fn syscalls_and_events_print_back() {
    let src = "\
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0.1 setsockopt(3, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, 8) = 0
+0...0.2 poll([{fd=3, events=POLLIN|POLLOUT, revents=POLLOUT}], 1, 100) = 1
+0 connect(3, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr(\"192.0.2.1\")}, 16) = -1 EINPROGRESS (Operation now in progress)
+0 sendmsg(4, {msg_name(...)=..., msg_iov(1)=[{..., 1000}], msg_flags=0}, 0) = 1000
+0 write(4, \"abc\"..., 0x10) = 16
* > . 1:1(0) ack 1
0.1~0.25 > . 1:1(0) ack 1
+0.000001~+2 > . 1:1(0) ack 1
+0 `sysctl -q x=1`
+0 %{ print(1) }%
`cleanup`
";
    let script = parse_script(src).unwrap();
    let printed: Vec<String> = script.events.iter().map(|e| e.to_string()).collect();
    let expected: Vec<&str> = src.lines().collect();
    assert_eq!(printed, expected);
    // The whole script prints and reparses to the same AST (line numbers
    // included, since it prints one event per line).
    assert_eq!(parse_script(&script.to_string()).unwrap(), script);
}

fn arb_flags() -> impl Strategy<Value = TcpFlags> {
    (
        any::<[bool; 6]>(),
        prop_oneof![
            Just((false, false, false, None)),
            any::<(bool, bool, bool)>().prop_map(|(e, w, a)| (e, w, a, None)),
            (0u8..8).prop_map(|ace| (false, false, false, Some(ace))),
        ],
    )
        .prop_map(|([fin, syn, rst, psh, ack, urg], (ece, cwr, ae, ace))| {
            // A lone ACE digit would read as a number; packetdrill writes
            // it after a letter or after `.`.
            let no_letter = !(fin || syn || rst || psh || urg);
            let ack = ack || (ace.is_some() && no_letter);
            TcpFlags {
                fin,
                syn,
                rst,
                psh,
                ack,
                urg,
                ece,
                cwr,
                ae,
                ace,
            }
        })
}

fn arb_option() -> impl Strategy<Value = OptionSpec> {
    prop_oneof![
        Just(OptionSpec::Nop),
        Just(OptionSpec::Eol),
        any::<u16>().prop_map(OptionSpec::Mss),
        any::<u8>().prop_map(OptionSpec::WindowScale),
        Just(OptionSpec::SackPermitted),
        prop::collection::vec((any::<u32>(), any::<u32>()), 1..4).prop_map(|b| {
            OptionSpec::Sack(
                b.into_iter()
                    .map(|(left, right)| SackBlock { left, right })
                    .collect(),
            )
        }),
        (any::<u32>(), any::<u32>()).prop_map(|(val, ecr)| OptionSpec::Timestamp { val, ecr }),
        prop::collection::vec(any::<u8>(), 1..17).prop_map(OptionSpec::Md5),
        prop::collection::vec(any::<u8>(), 0..17).prop_map(OptionSpec::FastOpen),
        prop::collection::vec(any::<u8>(), 0..17).prop_map(OptionSpec::FastOpenExp),
        prop::collection::vec(
            (
                prop_oneof![
                    Just(AccEcnField::E0b),
                    Just(AccEcnField::Ceb),
                    Just(AccEcnField::E1b)
                ],
                0u32..0x100_0000
            ),
            0..4
        )
        .prop_map(OptionSpec::AccEcn),
    ]
}

/// Option lists that fit the 40-byte space, padded with nops to a multiple
/// of 4 bytes (RFC 9293 §3.1), or `<...>` (None).
fn arb_options(outbound: bool) -> impl Strategy<Value = Option<Vec<OptionSpec>>> {
    let list = prop::collection::vec(arb_option(), 0..5).prop_map(|mut opts| {
        while opts.iter().map(OptionSpec::encoded_len).sum::<usize>() > 40 {
            opts.pop();
        }
        while opts.iter().map(OptionSpec::encoded_len).sum::<usize>() % 4 != 0 {
            opts.push(OptionSpec::Nop);
        }
        Some(opts)
    });
    if outbound {
        prop_oneof![1 => Just(None), 4 => list].boxed()
    } else {
        list.boxed()
    }
}

fn arb_ip_info(outbound: bool) -> impl Strategy<Value = IpInfo> {
    let ecn = prop_oneof![
        Just(IpEcn::NotEct),
        Just(IpEcn::Ect0),
        Just(IpEcn::Ect1),
        Just(IpEcn::Ce)
    ];
    let tos = if outbound {
        prop_oneof![
            ecn.prop_map(TosSpec::Ecn),
            Just(TosSpec::Ect01),
            any::<u8>().prop_map(TosSpec::Tos)
        ]
        .boxed()
    } else {
        prop_oneof![
            ecn.prop_map(TosSpec::Ecn),
            any::<u8>().prop_map(TosSpec::Tos)
        ]
        .boxed()
    };
    (
        prop::option::of(tos),
        prop::option::of(0u32..0x10_0000),
        prop::option::of(any::<u8>()),
    )
        .prop_map(|(tos, flow_label, ttl)| IpInfo {
            tos,
            flow_label,
            ttl,
        })
}

fn arb_addr(v4: bool) -> BoxedStrategy<IpAddr> {
    if v4 {
        any::<u32>()
            .prop_map(|a| IpAddr::V4(Ipv4Addr::from(a)))
            .boxed()
    } else {
        any::<u128>()
            .prop_map(|a| IpAddr::V6(Ipv6Addr::from(a)))
            .boxed()
    }
}

fn arb_endpoints() -> impl Strategy<Value = Option<Endpoints>> {
    let with_addrs = any::<bool>().prop_flat_map(|v4| {
        (arb_addr(v4), any::<u16>(), arb_addr(v4), any::<u16>()).prop_map(
            |(s, src_port, d, dst_port)| Endpoints {
                src_addr: Some(s),
                src_port,
                dst_addr: Some(d),
                dst_port,
            },
        )
    });
    let ports = (any::<u16>(), any::<u16>()).prop_map(|(src_port, dst_port)| Endpoints {
        src_addr: None,
        src_port,
        dst_addr: None,
        dst_port,
    });
    prop::option::of(prop_oneof![ports, with_addrs])
}

fn arb_encapsulation(outbound: bool) -> impl Strategy<Value = Vec<IpEncapsulation>> {
    let one = any::<bool>().prop_flat_map(move |v4| {
        (arb_ip_info(outbound), arb_addr(v4), arb_addr(v4))
            .prop_map(|(ip, src, dst)| IpEncapsulation { ip, src, dst })
    });
    prop::collection::vec(one, 0..3)
}

fn arb_tcp(outbound: bool) -> impl Strategy<Value = PacketBody> {
    (
        arb_flags(),
        any::<u32>(),
        any::<u16>(),
        prop::option::of(any::<u32>()),
        any::<u16>(),
        any::<bool>(),
        prop::option::of(any::<u16>()),
        arb_options(outbound),
    )
        .prop_map(
            move |(flags, seq_start, payload_len, ack, win, omit_win, urgent, options)| {
                PacketBody::Tcp(TcpSegmentSpec {
                    flags,
                    seq_start,
                    seq_end: seq_start.wrapping_add(u32::from(payload_len)),
                    payload_len,
                    ack,
                    window: if outbound && omit_win {
                        None
                    } else {
                        Some(win)
                    },
                    urgent,
                    options,
                })
            },
        )
}

fn arb_icmp() -> impl Strategy<Value = PacketBody> {
    let name = "[a-z][a-z_]{0,12}".prop_filter("keywords", |s| s != "mtu" && s != "id");
    let echoed = prop_oneof![
        (any::<u32>(), any::<u16>()).prop_map(|(s, l)| IcmpEchoed::Tcp {
            seq_start: s,
            seq_end: s.wrapping_add(u32::from(l)),
            payload_len: l
        }),
        any::<u16>().prop_map(|l| IcmpEchoed::Udp { payload_len: l }),
        any::<u16>().prop_map(|l| IcmpEchoed::Raw { payload_len: l }),
    ];
    (
        name.clone(),
        prop::option::of(name),
        prop::option::of(any::<u32>()),
        prop::option::of(any::<u16>()),
        prop::option::of(echoed),
    )
        .prop_map(|(icmp_type, code, mtu, echo_id, echoed)| {
            PacketBody::Icmp(IcmpSpec {
                icmp_type,
                code,
                mtu,
                echo_id,
                echoed,
            })
        })
}

fn arb_packet() -> impl Strategy<Value = PacketEvent> {
    any::<bool>().prop_flat_map(|outbound| {
        let direction = if outbound {
            Direction::Outbound
        } else {
            Direction::Inbound
        };
        let body = prop_oneof![
            3 => (arb_endpoints(), arb_tcp(outbound)),
            1 => (arb_endpoints(), any::<u16>().prop_map(|payload_len| PacketBody::Udp { payload_len })),
            1 => (Just(None), arb_icmp()),
        ];
        (arb_encapsulation(outbound), arb_ip_info(outbound), body).prop_map(
            move |(encapsulation, ip, (endpoints, body))| PacketEvent {
                direction,
                encapsulation,
                ip,
                endpoints,
                body,
            },
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Display then parse gives back the same packet.
    #[test]
    fn packet_display_round_trips(packet in arb_packet(), relative in any::<bool>(), us in 0u64..10_000_000_000) {
        let time = if relative { EventTime::Relative(us) } else { EventTime::Absolute(us) };
        let line = format!("{time} {packet}\n");
        let script = parse_script(&line).map_err(|e| TestCaseError::fail(format!("{line:?}: {e}")))?;
        prop_assert_eq!(script.events.len(), 1);
        prop_assert_eq!(script.events[0].time, time);
        prop_assert_eq!(&script.events[0].kind, &EventKind::Packet(packet));
    }
}

/// Found by the packetdrill fuzz target (fuzz/regressions/packetdrill/
/// note-spanning-a-comment-line): a note that spans lines took a comment line inside it
/// as text, so the printed script, with the note on one line, had its `)` commented
/// out and did not parse.
#[test]
fn a_comment_inside_a_multi_line_note_is_not_note_text() {
    let text = "+0 accept(3, ..., ...) = -1 EINVAL (one (two) three\n// a comment\nfour)\n";
    let script = parse_script(text).unwrap();
    let EventKind::Syscall(call) = &script.events[0].kind else {
        panic!("{script:?}");
    };
    assert_eq!(call.note.as_deref(), Some("one (two) three four"));
    let printed = script.to_string();
    let again = parse_script(&printed).unwrap();
    assert_eq!(again.events[0].kind, script.events[0].kind, "{printed}");
}

/// Found by the packetdrill fuzz target (fuzz/regressions/packetdrill/
/// errno-after-a-multi-line-string): the errno and note must be on the line where the
/// result ends, which for a string spanning lines is its last line.
#[test]
fn errno_after_a_string_that_spans_lines() {
    let text = "+0 read(3, ..., 5) = \"ab\ncd\" EAGAIN (try again)\n+0 close(3) = 0\n";
    let script = parse_script(text).unwrap();
    assert_eq!(script.events.len(), 2, "{script:?}");
    let EventKind::Syscall(call) = &script.events[0].kind else {
        panic!("{script:?}");
    };
    assert_eq!(call.errno.as_deref(), Some("EAGAIN"));
    assert_eq!(call.note.as_deref(), Some("try again"));
    let again = parse_script(&script.to_string()).unwrap();
    assert_eq!(again.events[0].kind, script.events[0].kind);
}

/// Found by the packetdrill fuzz target (fuzz/regressions/packetdrill/
/// option-word-equals-string): an option value written `word="string"` was printed
/// inside quotes of its own, which nested them.
#[test]
fn option_value_with_an_assignment_round_trips() {
    let text = "--ip_version=x=\"a b\"\n--cmd=y=`echo hi`\n0 close(3) = 0\n";
    let script = parse_script(text).unwrap();
    assert_eq!(script.options[0].1, "x=\"a b\"");
    let again = parse_script(&script.to_string()).unwrap();
    assert_eq!(again.options, script.options);
}
