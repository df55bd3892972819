//! RFC 9293 §3.10.7.3 SYN-SENT: the acceptable SYN-ACK establishes (textbook numbers),
//! an unacceptable ACK is answered `<SEQ=SEG.ACK><CTL=RST>`, an RST counts only with an
//! acceptable ACK (RFC 5961 §3.2: "connection refused"), a bare SYN is a simultaneous
//! open; SYN retransmission with exponential backoff (RFC 6298 §5.5) until the retry
//! limit ends the connect with `TimedOut`.

mod common;
use common::*;
use synack_core::{Config, ConnError, Event, RecvError, SendError, State};
use synack_wire::TcpOptions;

fn connect(t: &mut Lone) -> (synack_core::ConnHandle, Seg) {
    let h = t.stack.connect(t.now, t.peer, None).unwrap();
    assert_eq!(t.stack.state(h), Some(State::SynSent));
    let out = t.out();
    assert_eq!(out.len(), 1, "{out:#?}");
    (h, out[0].clone())
}

#[test]
fn connect_sends_syn_with_isn_and_options() {
    let mut t = Lone::new(Config::default());
    let (h, syn) = connect(&mut t);
    assert_eq!(syn.flags(), SYN);
    assert_eq!(syn.ack(), 0);
    assert_eq!(syn.dst, t.peer);
    assert_eq!(syn.seq(), t.stack.info(h).unwrap().iss);
    let o = syn.tcp.options;
    assert_eq!(o.mss, Some(1460));
    assert!(o.sack_permitted);
    assert!(o.window_scale.is_some());
    assert!(o.timestamp.is_some());
    assert!(syn.payload.is_empty());
}

#[test]
fn syn_ack_establishes_with_textbook_numbers() {
    let mut t = Lone::new(quick_cfg());
    let (h, syn) = connect(&mut t);
    let a = syn.seq();
    let b = 0x8000_0000u32;
    let out = t.inject(syn.src, tcp(SYN | ACK, b, a + 1, 65535), &[]);
    one(&out, ACK, a + 1, b + 1);
    assert_eq!(t.stack.state(h), Some(State::Established));
    // Timestamps were offered but the peer declined them: the SYN was timed anyway.
    assert!(t.stack.info(h).unwrap().srtt.is_some());
    let ev = events(&mut t.stack);
    assert!(ev.contains(&Event::Connected(h)), "{ev:?}");
    assert_eq!(t.stack.info(h).unwrap().irs, b);
}

#[test]
fn syn_ack_with_data_and_fin_is_delivered() {
    let mut t = Lone::new(quick_cfg());
    let (h, syn) = connect(&mut t);
    let a = syn.seq();
    let out = t.inject(syn.src, tcp(SYN | ACK | FIN, 10, a + 1, 65535), b"hi");
    one(&out, ACK, a + 1, 14);
    assert_eq!(t.stack.state(h), Some(State::CloseWait));
    let mut buf = [0u8; 8];
    assert_eq!(t.stack.recv(h, &mut buf), Ok(2));
    assert_eq!(&buf[..2], b"hi");
    assert_eq!(t.stack.recv(h, &mut buf), Ok(0));
}

#[test]
fn unacceptable_ack_gets_rst_and_connection_stays_in_syn_sent() {
    let mut t = Lone::new(quick_cfg());
    let (h, syn) = connect(&mut t);
    let a = syn.seq();
    for bad in [a, a + 2, a.wrapping_sub(1000)] {
        let out = t.inject(syn.src, tcp(SYN | ACK, 77, bad, 65535), &[]);
        one(&out, RST, bad, 0);
        let out = t.inject(syn.src, tcp(ACK, 77, bad, 65535), &[]);
        one(&out, RST, bad, 0);
    }
    assert_eq!(t.stack.state(h), Some(State::SynSent));
    // The real SYN-ACK still works.
    let out = t.inject(syn.src, tcp(SYN | ACK, 77, a + 1, 65535), &[]);
    one(&out, ACK, a + 1, 78);
}

#[test]
fn syn_ack_echoing_a_timestamp_we_never_sent_gets_rst() {
    // RFC 7323 §3.2: TSecr echoes a TSval we sent; Linux resets a SYN-ACK whose TSecr
    // lies outside [our first SYN's TSval, now] and stays in SYN-SENT.
    let mut t = Lone::new(quick_cfg());
    let (h, syn) = connect(&mut t);
    let a = syn.seq();
    let (tsval, _) = syn
        .tcp
        .options
        .timestamp
        .expect("our SYN offers timestamps");
    t.advance(ms(10));
    for bad in [tsval.wrapping_add(9_999), tsval.wrapping_sub(5_000)] {
        let mut sa = tcp(SYN | ACK, 77, a + 1, 65535);
        sa.options.timestamp = Some((500, bad));
        let out = t.inject(syn.src, sa, &[]);
        one(&out, RST, a + 1, 0);
        assert_eq!(t.stack.state(h), Some(State::SynSent));
    }
    let mut sa = tcp(SYN | ACK, 77, a + 1, 65535);
    sa.options.timestamp = Some((500, tsval));
    let out = t.inject(syn.src, sa, &[]);
    one(&out, ACK, a + 1, 78);
    assert_eq!(t.stack.state(h), Some(State::Established));
}

#[test]
fn rst_with_acceptable_ack_refuses_the_connection() {
    let mut t = Lone::new(quick_cfg());
    let (h, syn) = connect(&mut t);
    let out = t.inject(syn.src, tcp(RST | ACK, 0, syn.seq() + 1, 0), &[]);
    none(&out);
    assert_eq!(t.stack.state(h), Some(State::Closed));
    assert_eq!(
        closed_with(&events(&mut t.stack), h),
        Some(Some(ConnError::Refused))
    );
    let mut buf = [0u8; 4];
    assert_eq!(
        t.stack.recv(h, &mut buf),
        Err(RecvError::Closed(ConnError::Refused))
    );
    assert_eq!(
        t.stack.send(h, b"x"),
        Err(SendError::Closed(ConnError::Refused))
    );
    assert_eq!(t.stack.info(h).unwrap().error, Some(ConnError::Refused));
    t.stack.close(t.now, h);
    assert_eq!(t.stack.connection_count(), 0);
}

#[test]
fn rst_without_acceptable_ack_is_ignored() {
    let mut t = Lone::new(quick_cfg());
    let (h, syn) = connect(&mut t);
    none(&t.inject(syn.src, tcp(RST, syn.seq() + 1, 0, 0), &[]));
    none(&t.inject(syn.src, tcp(RST | ACK, 0, syn.seq() + 5, 0), &[]));
    assert_eq!(t.stack.state(h), Some(State::SynSent));
    assert!(events(&mut t.stack).is_empty());
}

#[test]
fn bare_ack_and_data_without_syn_are_dropped() {
    let mut t = Lone::new(quick_cfg());
    let (h, syn) = connect(&mut t);
    none(&t.inject(syn.src, tcp(ACK, 5, syn.seq() + 1, 65535), &[]));
    none(&t.inject(syn.src, tcp(FIN, 5, 0, 65535), b"zz"));
    assert_eq!(t.stack.state(h), Some(State::SynSent));
}

#[test]
fn bare_syn_is_a_simultaneous_open() {
    let mut t = Lone::new(quick_cfg());
    let (h, syn) = connect(&mut t);
    let a = syn.seq();
    // RFC 9293 §3.10.7.3 fourth: enter SYN-RECEIVED, send <SEQ=ISS><ACK=RCV.NXT><SYN,ACK>.
    let out = t.inject(syn.src, tcp(SYN, 900, 0, 65535), &[]);
    one(&out, SYN | ACK, a, 901);
    assert_eq!(t.stack.state(h), Some(State::SynReceived));
    // The peer's ACK of our SYN completes the open; the application hears of it.
    none(&t.inject(syn.src, tcp(ACK, 901, a + 1, 65535), &[]));
    assert_eq!(t.stack.state(h), Some(State::Established));
    let ev = events(&mut t.stack);
    assert!(ev.contains(&Event::Connected(h)), "{ev:?}");
    assert_eq!(t.stack.send(h, b"abc"), Ok(3));
    let out = t.out();
    one(&out, ACK | PSH, a + 1, 901);
}

#[test]
fn rst_in_simultaneous_open_syn_received_refuses() {
    let mut t = Lone::new(quick_cfg());
    let (h, syn) = connect(&mut t);
    t.inject(syn.src, tcp(SYN, 900, 0, 65535), &[]);
    // RFC 9293 §3.10.7.4 second, SYN-RECEIVED from an active OPEN: "connection refused".
    none(&t.inject(syn.src, tcp(RST, 901, 0, 0), &[]));
    assert_eq!(t.stack.state(h), Some(State::Closed));
    assert_eq!(
        closed_with(&events(&mut t.stack), h),
        Some(Some(ConnError::Refused))
    );
}

#[test]
fn syn_is_retransmitted_with_exponential_backoff_then_times_out() {
    let mut t = Lone::new(Config::default());
    let (h, syn) = connect(&mut t);
    let mut gaps = Vec::new();
    loop {
        let (d, out) = t.next_timer().expect("a timer is pending until the end");
        gaps.push(d.as_millis() as u64);
        if t.stack.state(h) == Some(State::Closed) {
            none(&out);
            break;
        }
        let s = one(&out, SYN, syn.seq(), 0);
        assert_eq!(s.tcp.options.mss, syn.tcp.options.mss);
    }
    // 6 retransmissions (Config::syn_retries) 1 s, 2 s, 4 s, ... apart, then give up
    // one more backed-off RTO later.
    assert_eq!(gaps, vec![1000, 2000, 4000, 8000, 16000, 32000, 64000]);
    assert_eq!(
        closed_with(&events(&mut t.stack), h),
        Some(Some(ConnError::TimedOut))
    );
    let mut buf = [0u8; 4];
    assert_eq!(
        t.stack.recv(h, &mut buf),
        Err(RecvError::Closed(ConnError::TimedOut))
    );
    assert_eq!(
        t.stack.send(h, b"x"),
        Err(SendError::Closed(ConnError::TimedOut))
    );
    assert_eq!(t.stack.info(h).unwrap().stats.timeouts, 6);
}

#[test]
fn syn_retries_follow_config_and_socket_option() {
    let mut t = Lone::new(Config {
        syn_retries: 2,
        ..Config::default()
    });
    let (h, _) = connect(&mut t);
    let mut n = 0;
    while let Some((_, out)) = t.next_timer() {
        n += out.len();
    }
    assert_eq!(n, 2);
    assert_eq!(t.stack.info(h).unwrap().error, Some(ConnError::TimedOut));

    let mut t = Lone::new(Config::default());
    let (h, _) = connect(&mut t);
    t.stack.set_options(t.now, h, |o| o.syn_retries = 1);
    let mut n = 0;
    while let Some((_, out)) = t.next_timer() {
        n += out.len();
    }
    assert_eq!(n, 1);
    assert_eq!(t.stack.info(h).unwrap().error, Some(ConnError::TimedOut));
}

#[test]
fn syn_ack_after_retransmission_still_establishes_without_rtt_sample() {
    let mut t = Lone::new(Config {
        timestamps: false,
        ..quick_cfg()
    });
    let (h, syn) = connect(&mut t);
    let (_, out) = t.next_timer().unwrap();
    assert_eq!(out.len(), 1);
    t.advance(ms(100));
    let out = t.inject(syn.src, tcp(SYN | ACK, 5, syn.seq() + 1, 65535), &[]);
    one(&out, ACK, syn.seq() + 1, 6);
    // Karn's rule (RFC 6298 §3): the SYN was retransmitted, so no sample.
    assert_eq!(t.stack.info(h).unwrap().srtt, None);
}

#[test]
fn data_written_in_syn_sent_goes_out_after_the_handshake() {
    let mut t = Lone::new(quick_cfg());
    let (h, syn) = connect(&mut t);
    assert_eq!(t.stack.send(h, b"early"), Ok(5));
    none(&t.out());
    let a = syn.seq();
    let out = t.inject(syn.src, tcp(SYN | ACK, 50, a + 1, 65535), &[]);
    // The handshake's final ACK goes alone (as Linux sends it), then the data.
    assert_eq!(out.len(), 2, "{:?}", brief(&out));
    assert_eq!(
        (out[0].flags(), out[0].seq(), out[0].ack()),
        (ACK, a + 1, 51)
    );
    assert!(out[0].payload.is_empty());
    // The window is the full buffer, not shrunk by the peer's ISN.
    assert_eq!(out[0].tcp.window, 65535);
    assert_eq!((out[1].seq(), out[1].ack()), (a + 1, 51));
    assert_eq!(out[1].payload, b"early");
}

#[test]
fn shutdown_in_syn_sent_closes_without_fin() {
    let mut t = Lone::new(quick_cfg());
    let (h, _) = connect(&mut t);
    t.stack.shutdown(t.now, h).unwrap();
    assert_eq!(t.stack.state(h), Some(State::Closed));
    none(&t.out());
    t.stack.close(t.now, h);
    assert_eq!(t.stack.connection_count(), 0);
}

#[test]
fn syn_ack_without_options_negotiates_defaults() {
    let mut t = Lone::new(quick_cfg());
    let (h, syn) = connect(&mut t);
    let mut sa = tcp(SYN | ACK, 5, syn.seq() + 1, 65535);
    sa.options = TcpOptions::default();
    t.inject(syn.src, sa, &[]);
    let info = t.stack.info(h).unwrap();
    // RFC 9293 §3.7.1: without the option the send MSS is 536.
    assert_eq!(info.mss, 536);
    // RFC 7323 §2.2: no scaling when the SYN-ACK has no window scale option.
    assert_eq!(info.snd_wnd, 65535);
    assert!(info.rcv_wnd <= 65535);
}
