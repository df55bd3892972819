//! Parses representative packetdrill scripts and checks the AST in detail.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use synack_packetdrill::*;

fn packet(event: &Event) -> &PacketEvent {
    match &event.kind {
        EventKind::Packet(p) => p,
        other => panic!("line {}: expected a packet, got {other:?}", event.line),
    }
}

fn tcp(event: &Event) -> &TcpSegmentSpec {
    match &packet(event).body {
        PacketBody::Tcp(t) => t,
        other => panic!("line {}: expected TCP, got {other:?}", event.line),
    }
}

fn syscall(event: &Event) -> &SyscallEvent {
    match &event.kind {
        EventKind::Syscall(s) => s,
        other => panic!("line {}: expected a syscall, got {other:?}", event.line),
    }
}

fn int(v: i64) -> Expr {
    Expr::Int {
        value: v,
        hex: false,
    }
}

fn sym(s: &str) -> Expr {
    Expr::Symbol(s.to_string())
}

fn flags(spec: &str) -> TcpFlags {
    TcpFlags::from_spec(spec).unwrap()
}

const HANDSHAKE: &str = "\
// Passive open, data, and close.
--tolerance_usecs=10000
--ip_version=ipv4
--dry_run

0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0  setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0  bind(3, ..., ...) = 0
+0  listen(3, 1) = 0

/* SYN with the usual Linux options */
+0  < S 0:0(0) win 32792 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>
+0  > S. 0:0(0) ack 1 <mss 1460,sackOK,TS val 700 ecr 100,nop,wscale 8>
+.1 < . 1:1(0) ack 1 win 257 <nop,nop,TS val 200 ecr 700>
+0  accept(3, ..., ...) = 4

+0  write(4, ..., 1000) = 1000
+0  > P. 1:1001(1000) ack 1 <nop,nop,TS val 800 ecr 200>
+.1 < . 1:1(0) ack 1001 win 257 <nop,nop,TS val 300 ecr 800,nop,nop,sack 2001:3001 4001:5001>
+0  close(4) = 0
+0  > F. 1001:1001(0) ack 1 <...>
+.1 < F. 1:1(0) ack 1002 win 257
+0  > . 1002:1002(0) ack 2
";

#[test]
fn handshake_data_and_close() {
    let script = parse_script(HANDSHAKE).unwrap();
    assert_eq!(
        script.options,
        vec![
            ("tolerance_usecs".to_string(), "10000".to_string()),
            ("ip_version".to_string(), "ipv4".to_string()),
            ("dry_run".to_string(), String::new()),
        ]
    );
    assert_eq!(script.events.len(), 15);

    let socket = &script.events[0];
    assert_eq!(socket.line, 6);
    assert_eq!(socket.time, EventTime::Absolute(0));
    let call = syscall(socket);
    assert_eq!(call.name, "socket");
    assert_eq!(
        call.args,
        vec![Expr::Ellipsis, sym("SOCK_STREAM"), sym("IPPROTO_TCP")]
    );
    assert_eq!(call.result, int(3));
    assert_eq!(call.errno, None);
    assert_eq!(call.end_us, None);

    let setsockopt = syscall(&script.events[1]);
    assert_eq!(script.events[1].time, EventTime::Relative(0));
    assert_eq!(setsockopt.args[3], Expr::Array(vec![int(1)]));

    let syn = &script.events[4];
    assert_eq!(syn.line, 12);
    let p = packet(syn);
    assert_eq!(p.direction, Direction::Inbound);
    assert!(p.encapsulation.is_empty());
    assert!(p.ip.is_empty());
    assert_eq!(p.endpoints, None);
    let t = tcp(syn);
    assert_eq!(t.flags, flags("S"));
    assert!(t.flags.syn && !t.flags.ack);
    assert_eq!((t.seq_start, t.seq_end, t.payload_len), (0, 0, 0));
    assert_eq!(t.ack, None);
    assert_eq!(t.window, Some(32792));
    assert_eq!(
        t.options,
        Some(vec![
            OptionSpec::Mss(1460),
            OptionSpec::SackPermitted,
            OptionSpec::Timestamp { val: 100, ecr: 0 },
            OptionSpec::Nop,
            OptionSpec::WindowScale(7),
        ])
    );

    let synack = &script.events[5];
    assert_eq!(packet(synack).direction, Direction::Outbound);
    let t = tcp(synack);
    assert!(t.flags.syn && t.flags.ack && !t.flags.fin);
    assert_eq!(t.ack, Some(1));
    assert_eq!(t.window, None);

    let ack = &script.events[6];
    assert_eq!(ack.time, EventTime::Relative(100_000));
    assert_eq!(tcp(ack).flags, flags("."));

    let data = tcp(&script.events[9]);
    assert!(data.flags.psh && data.flags.ack);
    assert_eq!(
        (data.seq_start, data.seq_end, data.payload_len),
        (1, 1001, 1000)
    );

    let sack = tcp(&script.events[10]);
    assert_eq!(
        sack.options.as_ref().unwrap().last(),
        Some(&OptionSpec::Sack(vec![
            SackBlock {
                left: 2001,
                right: 3001
            },
            SackBlock {
                left: 4001,
                right: 5001
            },
        ]))
    );

    let fin = tcp(&script.events[12]);
    assert!(fin.flags.fin && fin.flags.ack);
    assert_eq!(fin.options, None, "<...> means options are not checked");

    let last = &script.events[14];
    assert_eq!(last.line, 23);
    assert_eq!(tcp(last).options, Some(vec![]));
}

#[test]
fn blocking_calls_and_time_forms() {
    let src = "\
0.000...0.200 read(4, ..., 1000) = 1000
+0...0.100 read(4, ..., 2000) = 2000
+.002 ... 0.052 connect(4, ..., ...) = 0
1.5 > . 1:1(0) ack 1
* > . 1:1(0) ack 1
0.1~0.25 > . 1:1(0) ack 1
+0.1~+0.2 > . 1:1(0) ack 1
2 write(4, ..., 10) = 10
";
    let s = parse_script(src).unwrap();
    let times: Vec<EventTime> = s.events.iter().map(|e| e.time).collect();
    assert_eq!(
        times,
        vec![
            EventTime::Absolute(0),
            EventTime::Relative(0),
            EventTime::Relative(2_000),
            EventTime::Absolute(1_500_000),
            EventTime::Any,
            EventTime::AbsoluteRange {
                start_us: 100_000,
                end_us: 250_000
            },
            EventTime::RelativeRange {
                start_us: 100_000,
                end_us: 200_000
            },
            EventTime::Absolute(2_000_000),
        ]
    );
    assert_eq!(syscall(&s.events[0]).end_us, Some(200_000));
    assert_eq!(syscall(&s.events[1]).end_us, Some(100_000));
    assert_eq!(syscall(&s.events[2]).end_us, Some(52_000));
    assert_eq!(syscall(&s.events[2]).name, "connect");
    assert_eq!(syscall(&s.events[7]).end_us, None);
    let lines: Vec<usize> = s.events.iter().map(|e| e.line).collect();
    assert_eq!(lines, (1..=8).collect::<Vec<_>>());
}

#[test]
fn poll_with_multi_line_struct_args_and_errno() {
    let src = "\
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0
+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation is now in progress)
+0...0.010 poll([{fd=3,
                  events=POLLIN|POLLOUT|POLLERR,
                  revents=POLLOUT}], 1, 100) = 1
+0 getsockopt(3, SOL_SOCKET, SO_ERROR, [0], [4]) = 0
+0 recv(3, ..., 100, 0) = -1 EAGAIN (Resource temporarily unavailable)
";
    let s = parse_script(src).unwrap();
    let fcntl = syscall(&s.events[1]);
    assert_eq!(
        fcntl.args[2],
        Expr::BitOr(vec![sym("O_RDWR"), sym("O_NONBLOCK")])
    );
    let connect = syscall(&s.events[2]);
    assert_eq!(connect.result, int(-1));
    assert_eq!(connect.errno.as_deref(), Some("EINPROGRESS"));
    assert_eq!(
        connect.note.as_deref(),
        Some("Operation is now in progress")
    );

    let poll_event = &s.events[3];
    assert_eq!(poll_event.line, 4);
    let poll = syscall(poll_event);
    assert_eq!(poll.end_us, Some(10_000));
    let Expr::Array(fds) = &poll.args[0] else {
        panic!("poll fds not an array: {:?}", poll.args[0]);
    };
    assert_eq!(fds.len(), 1);
    assert_eq!(fds[0].field("fd"), Some(&int(3)));
    assert_eq!(
        fds[0].field("events"),
        Some(&Expr::BitOr(vec![
            sym("POLLIN"),
            sym("POLLOUT"),
            sym("POLLERR")
        ]))
    );
    assert_eq!(fds[0].field("revents"), Some(&sym("POLLOUT")));
    assert_eq!(&poll.args[1..], &[int(1), int(100)]);
    assert_eq!(poll.result, int(1));

    let get = syscall(&s.events[4]);
    assert_eq!(get.args[3], Expr::Array(vec![int(0)]));
    assert_eq!(s.events[5].line, 8);
    assert_eq!(syscall(&s.events[5]).errno.as_deref(), Some("EAGAIN"));
}

#[test]
fn setsockopt_linger_sockaddr_msghdr_and_strings() {
    let src = r#"
0 setsockopt(3, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, 8) = 0
+0 connect(3, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr("192.0.2.1")}, 16) = 0
+0 sendmsg(4, {msg_name(...)=..., msg_iov(1)=[{..., 1000}], msg_flags=0}, 0) = 1000
+0 write(4, "hello" " world"..., 0x10) = 16
+0 ioctl(4, SIOCINQ, [1000]) = 0
+0 shutdown(4, SHUT_WR) = 0
+0 getpid() = ...
"#;
    let s = parse_script(src).unwrap();
    let linger = &syscall(&s.events[0]).args[3];
    assert_eq!(
        linger,
        &Expr::Struct(vec![
            StructField {
                name: "onoff".into(),
                arg: None,
                value: int(1)
            },
            StructField {
                name: "linger".into(),
                arg: None,
                value: int(0)
            },
        ])
    );
    assert_eq!(s.events[0].line, 2);

    let addr = &syscall(&s.events[1]).args[1];
    assert_eq!(addr.field("sa_family"), Some(&sym("AF_INET")));
    assert_eq!(
        addr.field("sin_port"),
        Some(&Expr::Call {
            name: "htons".into(),
            args: vec![int(8080)]
        })
    );
    assert_eq!(
        addr.field("sin_addr"),
        Some(&Expr::Call {
            name: "inet_addr".into(),
            args: vec![Expr::Str {
                text: "192.0.2.1".into(),
                trailing_ellipsis: false
            }]
        })
    );

    let Expr::Struct(msg) = &syscall(&s.events[2]).args[1] else {
        panic!("msghdr not a struct");
    };
    assert_eq!(msg[0].name, "msg_name");
    assert_eq!(msg[0].arg, Some(Expr::Ellipsis));
    assert_eq!(msg[0].value, Expr::Ellipsis);
    assert_eq!(msg[1].name, "msg_iov");
    assert_eq!(msg[1].arg, Some(int(1)));
    assert_eq!(
        msg[1].value,
        Expr::Array(vec![Expr::Tuple(vec![Expr::Ellipsis, int(1000)])])
    );

    let write = syscall(&s.events[3]);
    assert_eq!(
        write.args[1],
        Expr::Str {
            text: "hello world".into(),
            trailing_ellipsis: true
        }
    );
    assert_eq!(
        write.args[2],
        Expr::Int {
            value: 16,
            hex: true
        }
    );
    assert_eq!(syscall(&s.events[4]).name, "ioctl");
    assert_eq!(syscall(&s.events[5]).args, vec![int(4), sym("SHUT_WR")]);
    let getpid = syscall(&s.events[6]);
    assert!(getpid.args.is_empty());
    assert_eq!(getpid.result, Expr::Ellipsis);
}

#[test]
fn icmp_packets() {
    let src = "\
+0 < icmp unreachable frag_needed mtu 1200 [1:1001(1000)]
+0 < icmp unreachable port_unreachable [1:1001(1000)]
+0 > icmp echo_reply id 7
+0 < icmp time_exceeded [udp (100)]
+0 < [ect0] icmp unreachable
";
    let s = parse_script(src).unwrap();
    let icmp = |i: usize| match &packet(&s.events[i]).body {
        PacketBody::Icmp(icmp) => icmp.clone(),
        other => panic!("not icmp: {other:?}"),
    };
    assert_eq!(
        icmp(0),
        IcmpSpec {
            icmp_type: "unreachable".into(),
            code: Some("frag_needed".into()),
            mtu: Some(1200),
            echo_id: None,
            echoed: Some(IcmpEchoed::Tcp {
                seq_start: 1,
                seq_end: 1001,
                payload_len: 1000
            }),
        }
    );
    assert_eq!(icmp(1).code.as_deref(), Some("port_unreachable"));
    assert_eq!(icmp(1).mtu, None);
    assert_eq!(packet(&s.events[2]).direction, Direction::Outbound);
    assert_eq!(icmp(2).code, None);
    assert_eq!(icmp(2).echo_id, Some(7));
    assert_eq!(icmp(3).echoed, Some(IcmpEchoed::Udp { payload_len: 100 }));
    assert_eq!(packet(&s.events[4]).ip.tos, Some(TosSpec::Ecn(IpEcn::Ect0)));
}

#[test]
fn shell_commands_and_code_blocks_are_their_own_nodes() {
    let src = "\
`../common/defaults.sh
 sysctl -q net.ipv4.tcp_timestamps=0`
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 `sysctl -q net.ipv4.tcp_ecn=1`
+0 %{ assert tcpi_options & 4 == 0, tcpi_options }%
+0 %{
print(tcpi_rto)
}%
`/tmp/sysctl_restore_${PPID}.sh`
";
    let s = parse_script(src).unwrap();
    assert_eq!(s.events.len(), 6);
    assert_eq!(s.events[0].time, EventTime::Untimed);
    assert_eq!(s.events[0].line, 1);
    assert_eq!(
        s.events[0].kind,
        EventKind::Command("../common/defaults.sh\n sysctl -q net.ipv4.tcp_timestamps=0".into())
    );
    assert_eq!(s.events[1].line, 3);
    assert_eq!(s.events[2].time, EventTime::Relative(0));
    assert_eq!(
        s.events[2].kind,
        EventKind::Command("sysctl -q net.ipv4.tcp_ecn=1".into())
    );
    assert_eq!(
        s.events[3].kind,
        EventKind::Code("assert tcpi_options & 4 == 0, tcpi_options".into())
    );
    assert_eq!(s.events[4].line, 6);
    assert_eq!(
        s.events[4].kind,
        EventKind::Code("\nprint(tcpi_rto)\n".into())
    );
    assert_eq!(s.events[5].line, 9);
    assert_eq!(s.events[5].time, EventTime::Untimed);
}

#[test]
fn comments_everywhere() {
    let src = "\
// leading comment
--tolerance_usecs=5000 // trailing comment on an option
/* block
   comment */ 0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3 // done
+0 < S 0:0(0) /* inline */ win 1000
// +0 > S. 0:0(0) ack 1   (commented out, must not appear)
";
    let s = parse_script(src).unwrap();
    assert_eq!(s.options, vec![("tolerance_usecs".into(), "5000".into())]);
    assert_eq!(s.events.len(), 2);
    assert_eq!(s.events[0].line, 4);
    assert_eq!(s.events[1].line, 5);
    assert_eq!(tcp(&s.events[1]).window, Some(1000));
}

#[test]
fn ecn_flags_ip_info_and_accecn_option() {
    let src = "\
+.002 > [noecn] SEWA 0:0(0) <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 8>
+0.05 < [ce] SW. 0:0(0) ack 1 win 32767 <mss 1460,ECN e0b 1 ceb 0 e1b 1,nop,nop,nop,sackOK,nop,wscale 8>
+.002 > [ect0] P.6 1:101(100) ack 1 <ECN e1b 1 ceb 0 e0b 1,nop>
+.002 > [ect01] .6 101:101(0) ack 101
+0 < (ect1) R 1:1(0) win 0 urg 5
+0 < [tos 0x2, flowlabel 0x12345] U. 1:1(0) ack 1 win 10
+0 < [ttl 64] FP. 1:1(0) ack 1 win 10
+0 < - 1:1(0) win 10
";
    let s = parse_script(src).unwrap();
    let syn = &s.events[0];
    assert_eq!(packet(syn).ip.tos, Some(TosSpec::Ecn(IpEcn::NotEct)));
    let f = tcp(syn).flags;
    assert!(f.syn && f.ece && f.cwr && f.ae && !f.ack);
    assert_eq!(f.ace, None);

    let synack = tcp(&s.events[1]);
    assert_eq!(packet(&s.events[1]).ip.tos, Some(TosSpec::Ecn(IpEcn::Ce)));
    assert!(synack.flags.syn && synack.flags.cwr && synack.flags.ack && !synack.flags.ece);
    assert_eq!(
        synack.options.as_ref().unwrap()[1],
        OptionSpec::AccEcn(vec![
            (AccEcnField::E0b, 1),
            (AccEcnField::Ceb, 0),
            (AccEcnField::E1b, 1)
        ])
    );

    let data = tcp(&s.events[2]);
    assert!(data.flags.psh && data.flags.ack);
    assert_eq!(data.flags.ace, Some(6));
    assert_eq!(packet(&s.events[3]).ip.tos, Some(TosSpec::Ect01));
    assert_eq!(tcp(&s.events[3]).flags.ace, Some(6));
    assert!(tcp(&s.events[3]).flags.ack);

    assert_eq!(packet(&s.events[4]).ip.tos, Some(TosSpec::Ecn(IpEcn::Ect1)));
    assert_eq!(tcp(&s.events[4]).urgent, Some(5));
    assert!(tcp(&s.events[4]).flags.rst);

    let info = packet(&s.events[5]).ip;
    assert_eq!(info.tos, Some(TosSpec::Tos(2)));
    assert_eq!(info.flow_label, Some(0x12345));
    assert!(tcp(&s.events[5]).flags.urg);
    assert_eq!(packet(&s.events[6]).ip.ttl, Some(64));
    assert!(tcp(&s.events[6]).flags.fin && tcp(&s.events[6]).flags.psh);
    assert!(tcp(&s.events[7]).flags.is_empty());
}

#[test]
fn fast_open_and_md5_options() {
    let src = "\
+0 > S 0:0(0) <mss 1460,nop,nop,sackOK,nop,wscale 8,FO,nop,nop>
+0 < S. 123:123(0) ack 1 win 5840 <mss 1040,nop,nop,sackOK,nop,wscale 6,FO abcd1234,nop,nop>
+0 < S 0:0(0) win 1000 <FOEXP 0011223344556677>
+0 < S 0:0(0) win 1000 <md5 000102030405060708090a0b0c0d0e0f,nop,nop>
";
    let s = parse_script(src).unwrap();
    assert_eq!(
        tcp(&s.events[0]).options.as_ref().unwrap()[6],
        OptionSpec::FastOpen(vec![])
    );
    assert_eq!(
        tcp(&s.events[1]).options.as_ref().unwrap()[6],
        OptionSpec::FastOpen(vec![0xab, 0xcd, 0x12, 0x34])
    );
    assert_eq!(
        tcp(&s.events[2]).options.as_ref().unwrap()[0],
        OptionSpec::FastOpenExp(vec![0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77])
    );
    assert_eq!(
        tcp(&s.events[3]).options.as_ref().unwrap()[0],
        OptionSpec::Md5((0..16).collect())
    );
}

#[test]
fn addresses_ports_and_encapsulation() {
    let src = "\
+0 < 192.0.2.1:8080 > 192.168.0.1:80 S 0:0(0) win 1000
+0 > [2001:db8::1]:80 > [2001:db8::2]:8080 S. 0:0(0) ack 1
+0 < 8080 > 80 . 1:1(0) ack 1 win 1000
+0 < ipv4 2.2.2.2 > 1.1.1.1: . 1:1001(1000) ack 1 win 123
+0 > ipv6 1::1111 > 2::2222: ipv6 1::1111 > 2::2222: . 1:1001(1000) ack 1
+0 < udp 5000 > 53 (100)
";
    let s = parse_script(src).unwrap();
    assert_eq!(
        packet(&s.events[0]).endpoints,
        Some(Endpoints {
            src_addr: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))),
            src_port: 8080,
            dst_addr: Some(IpAddr::V4(Ipv4Addr::new(192, 168, 0, 1))),
            dst_port: 80,
        })
    );
    let v6 = packet(&s.events[1]).endpoints.unwrap();
    assert_eq!(
        v6.src_addr,
        Some(IpAddr::V6("2001:db8::1".parse::<Ipv6Addr>().unwrap()))
    );
    assert_eq!(v6.dst_port, 8080);
    let ports = packet(&s.events[2]).endpoints.unwrap();
    assert_eq!(
        (ports.src_addr, ports.src_port, ports.dst_port),
        (None, 8080, 80)
    );

    let ipip = packet(&s.events[3]);
    assert_eq!(ipip.encapsulation.len(), 1);
    assert_eq!(
        ipip.encapsulation[0].src,
        IpAddr::V4(Ipv4Addr::new(2, 2, 2, 2))
    );
    assert_eq!(tcp(&s.events[3]).payload_len, 1000);
    let double = packet(&s.events[4]);
    assert_eq!(double.encapsulation.len(), 2);
    assert_eq!(
        double.encapsulation[1].dst,
        IpAddr::V6("2::2222".parse::<Ipv6Addr>().unwrap())
    );
    let udp = packet(&s.events[5]);
    assert_eq!(udp.body, PacketBody::Udp { payload_len: 100 });
    assert_eq!(udp.endpoints.unwrap().dst_port, 53);
}

#[test]
fn option_value_forms() {
    let src = "\
--local_ip=192.168.0.1
--gateway_ip=fd00::1
--define=PROTO=IPPROTO_TCP
--define=CC=\"reno\"
--remote_ip \"10.0.0.1\"
--tolerance_percent=2.5
";
    // `--remote_ip "10.0.0.1"` has no `=`: it is a flag, then an event time
    // is expected, so the string is an error.
    let err = parse_script(src).unwrap_err();
    assert_eq!(err.line, 5);
    let ok =
        parse_script(&src.replace("--remote_ip \"10.0.0.1\"", "--remote_ip=\"10.0.0.1\"")).unwrap();
    assert_eq!(
        ok.options,
        vec![
            ("local_ip".into(), "192.168.0.1".into()),
            ("gateway_ip".into(), "fd00::1".into()),
            ("define".into(), "PROTO=IPPROTO_TCP".into()),
            ("define".into(), "CC=\"reno\"".into()),
            ("remote_ip".into(), "10.0.0.1".into()),
            ("tolerance_percent".into(), "2.5".into()),
        ]
    );
    assert!(ok.events.is_empty());
}

#[test]
fn sequence_numbers_wrap_modulo_2_32() {
    // RFC 9293 §3.4: sequence space arithmetic is modulo 2^32.
    let s = parse_script("+0 < . 4294967295:999(1000) ack 1 win 100\n").unwrap();
    let t = tcp(&s.events[0]);
    assert_eq!((t.seq_start, t.seq_end), (4_294_967_295, 999));
}
