//! Each link impairment observed end to end through toy hosts: latency and jitter,
//! independent and bursty loss, duplication, reordering, corruption, bandwidth and
//! queue, MTU, partitions, asymmetric links.

mod common;

use common::{addr, seq_of, verify, Echo, Sender, Sink, A, B};
use synack_core::time::{Duration, Instant};
use synack_sim::{DropReason, GilbertElliott, HostId, LinkConfig, LinkId, Network};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A sender of `n` packets (one every `every`) and a sink over a link with `cfg`.
fn one_way(
    seed: u64,
    n: u32,
    every: Duration,
    cfg: LinkConfig,
) -> (Network, HostId, HostId, LinkId) {
    let mut net = Network::new(seed);
    net.enable_packet_log();
    let s = net.add_host(Sender::new(A, B, n).every(every), [addr(A)]);
    let k = net.add_host(Sink::default(), [addr(B)]);
    let l = net.add_link(s, k, cfg);
    assert!(net.run_until_idle(Instant::from_secs(100_000)).is_idle());
    (net, s, k, l)
}

#[test]
fn jitter_delays_within_bounds_and_varies() {
    let cfg = LinkConfig::with_latency(ms(20)).jitter(ms(5));
    let (net, _, k, _) = one_way(3, 2000, ms(1), cfg);
    let log = net.packet_log().unwrap();
    let delays: Vec<Duration> = log
        .delivered()
        .map(|r| r.delivered_at().unwrap() - r.sent_at)
        .collect();
    assert_eq!(delays.len(), 2000);
    assert!(delays.iter().all(|&d| d >= ms(20) && d <= ms(25)));
    let mean = delays.iter().map(|d| d.as_micros() as f64).sum::<f64>() / 2000.0;
    assert!((mean - 22_500.0).abs() < 200.0, "mean delay {mean} µs");
    // Jitter larger than the spacing reorders some packets.
    let sink_order: Vec<u32> = net.host::<Sink>(k).unwrap().valid_seqs();
    assert!(sink_order.windows(2).any(|w| w[1] < w[0]));
}

#[test]
fn independent_loss_rate_is_within_bounds() {
    let n = 20_000;
    let (net, s, k, l) = one_way(17, n, ms(1), LinkConfig::default().loss(0.1));
    let st = net.link_stats(l, s);
    let got = net.host::<Sink>(k).unwrap().received.len() as u64;
    assert_eq!(st.sent, u64::from(n));
    assert_eq!(got, st.delivered);
    assert_eq!(st.lost + st.delivered, st.sent);
    // Binomial(20000, 0.1): sd ~ 42; allow ~5 sd.
    assert!((1790..=2210).contains(&st.lost), "lost {}", st.lost);
    let log = net.packet_log().unwrap();
    assert!(log
        .dropped()
        .all(|r| r.drop_reason() == Some(DropReason::Loss)));
}

#[test]
fn bursty_loss_comes_in_runs() {
    let ge = GilbertElliott::gilbert(0.02, 0.2);
    let n = 20_000;
    let (net, s, k, l) = one_way(5, n, ms(1), LinkConfig::default().burst_loss(ge));
    let st = net.link_stats(l, s);
    let expect = ge.steady_state_loss() * f64::from(n);
    assert!(
        (st.lost as f64 - expect).abs() < 0.25 * expect,
        "lost {} vs {expect}",
        st.lost
    );
    let mut got = vec![false; n as usize];
    for seq in net.host::<Sink>(k).unwrap().valid_seqs() {
        got[seq as usize] = true;
    }
    let lost_after_lost = got.windows(2).filter(|w| !w[0] && !w[1]).count() as f64;
    let lost_first = got.windows(2).filter(|w| !w[0]).count() as f64;
    // Mean burst 5 packets: P(lost | previous lost) ~ 0.8, far above the ~9% mean.
    assert!(lost_after_lost / lost_first > 0.6);
    let log = net.packet_log().unwrap();
    assert!(log
        .dropped()
        .all(|r| r.drop_reason() == Some(DropReason::BurstLoss)));
}

#[test]
fn duplication_delivers_copies() {
    let n = 5000;
    let (net, s, k, l) = one_way(8, n, ms(1), LinkConfig::default().duplicate(0.1));
    let st = net.link_stats(l, s);
    let seqs = net.host::<Sink>(k).unwrap().valid_seqs();
    assert_eq!(seqs.len() as u64, u64::from(n) + st.duplicated);
    assert_eq!(st.delivered, seqs.len() as u64);
    assert!(
        (400..=600).contains(&st.duplicated),
        "dup {}",
        st.duplicated
    );
    let mut sorted = seqs.clone();
    sorted.sort_unstable();
    let repeats = sorted.windows(2).filter(|w| w[0] == w[1]).count() as u64;
    assert_eq!(repeats, st.duplicated);
}

#[test]
fn reordering_holds_some_packets_back() {
    let n = 1000;
    let cfg = LinkConfig::default().reorder(0.1, ms(5));
    let (net, s, k, l) = one_way(21, n, ms(1), cfg);
    let st = net.link_stats(l, s);
    assert!(
        (60..=140).contains(&st.reordered),
        "reordered {}",
        st.reordered
    );
    let seqs = net.host::<Sink>(k).unwrap().valid_seqs();
    assert_eq!(seqs.len(), n as usize);
    let inversions = seqs.windows(2).filter(|w| w[1] < w[0]).count();
    assert!(inversions > 0);
    let log = net.packet_log().unwrap();
    for r in log.delivered() {
        let delay = r.delivered_at().unwrap() - r.sent_at;
        assert_eq!(delay, if r.reordered { ms(15) } else { ms(10) });
    }
}

#[test]
fn corruption_flips_one_bit_past_the_ip_header() {
    let n = 2000;
    let (net, s, k, l) = one_way(4, n, ms(1), LinkConfig::default().corrupt(0.25));
    let st = net.link_stats(l, s);
    let sink = net.host::<Sink>(k).unwrap();
    let bad = sink.received.iter().filter(|r| r.1.is_none()).count() as u64;
    assert_eq!(bad, st.corrupted, "the payload checksum catches every flip");
    assert!(
        (400..=600).contains(&st.corrupted),
        "corrupted {}",
        st.corrupted
    );
    let log = net.packet_log().unwrap();
    for (rec, (_, valid, bytes)) in log.delivered().zip(&sink.received) {
        let diff: u32 = rec
            .bytes
            .iter()
            .zip(bytes)
            .map(|(a, b)| (a ^ b).count_ones())
            .sum();
        assert_eq!(diff, u32::from(rec.corrupted));
        assert_eq!(valid.is_none(), rec.corrupted);
        assert_eq!(rec.bytes[..20], bytes[..20], "IP header untouched");
    }
}

#[test]
fn corrupted_packets_reach_the_echo_and_fail_its_check() {
    let mut net = Network::new(2);
    let s = net.add_host(Sender::new(A, B, 100).every(ms(1)), [addr(A)]);
    let e = net.add_host(Echo::default(), [addr(B)]);
    net.add_link(s, e, LinkConfig::default().corrupt(1.0));
    assert!(net.run_until_idle(Instant::from_secs(5)).is_idle());
    assert!(net
        .host::<Echo>(e)
        .unwrap()
        .received
        .iter()
        .all(|r| r.1.is_none()));
    // Two flips (one each way) can cancel only if they hit the same bit; nearly all
    // replies stay broken.
    let replies = &net.host::<Sender>(s).unwrap().replies;
    assert_eq!(replies.len(), 100);
    assert!(replies.iter().filter(|r| r.1.is_none()).count() >= 95);
}

#[test]
fn bandwidth_serializes_and_queue_drops_the_tail() {
    // 1250-byte packets at 1 Mbit/s take 10 ms each; the queue holds 5 of them.
    let cfg = LinkConfig::with_latency(ms(10))
        .bandwidth(1_000_000)
        .queue_bytes(5 * 1250);
    let mut net = Network::new(1);
    net.enable_packet_log();
    let s = net.add_host(Sender::new(A, B, 10).size(1250), [addr(A)]);
    let k = net.add_host(Sink::default(), [addr(B)]);
    let l = net.add_link(s, k, cfg);
    assert!(net.run_until_idle(Instant::from_secs(5)).is_idle());
    let st = net.link_stats(l, s);
    assert_eq!(st.dropped_queue, 5);
    assert_eq!(st.delivered, 5);
    assert_eq!(st.max_queue_bytes, 5 * 1250);
    let sink = net.host::<Sink>(k).unwrap();
    let times: Vec<_> = sink.received.iter().map(|r| r.0).collect();
    let expect: Vec<_> = (1..=5).map(|i| Instant::from_millis(10 + 10 * i)).collect();
    assert_eq!(times, expect);
    assert_eq!(sink.valid_seqs(), vec![0, 1, 2, 3, 4]);
    let log = net.packet_log().unwrap();
    let dropped: Vec<u32> = log.dropped().map(|r| seq_of(&r.bytes)).collect();
    assert_eq!(dropped, vec![5, 6, 7, 8, 9]);
    assert!(log
        .dropped()
        .all(|r| r.drop_reason() == Some(DropReason::Queue)));
}

#[test]
fn paced_sender_below_bandwidth_sees_no_queue_drops() {
    // 1250 bytes every 20 ms on a 1 Mbit/s link: 50% utilisation.
    let cfg = LinkConfig::with_latency(ms(10))
        .bandwidth(1_000_000)
        .queue_bytes(1250);
    let mut net = Network::new(1);
    let s = net.add_host(Sender::new(A, B, 50).every(ms(20)).size(1250), [addr(A)]);
    let k = net.add_host(Sink::default(), [addr(B)]);
    let l = net.add_link(s, k, cfg);
    assert!(net.run_until_idle(Instant::from_secs(5)).is_idle());
    assert_eq!(net.link_stats(l, s).dropped_queue, 0);
    assert_eq!(net.host::<Sink>(k).unwrap().received.len(), 50);
    let sink = net.host::<Sink>(k).unwrap();
    assert!(sink
        .received
        .iter()
        .enumerate()
        .all(|(i, r)| r.0 == Instant::from_millis(20 * i as u64 + 20)));
}

#[test]
fn mtu_drops_larger_packets() {
    let mut net = Network::new(1);
    let k = net.add_host(Sink::default(), [addr(B)]);
    let mut hosts = Vec::new();
    for (i, size) in [500usize, 1000, 1001, 1500].into_iter().enumerate() {
        let a = format!("10.0.1.{}", i + 1);
        let h = net.add_host(Sender::new(&a, B, 1).size(size), [addr(&a)]);
        hosts.push((h, net.add_link(h, k, LinkConfig::default().mtu(1000))));
    }
    assert!(net.run_until_idle(Instant::from_secs(5)).is_idle());
    let dropped: Vec<u64> = hosts
        .iter()
        .map(|&(h, l)| net.link_stats(l, h).dropped_mtu)
        .collect();
    assert_eq!(dropped, vec![0, 0, 1, 1]);
    let sizes: Vec<usize> = net
        .host::<Sink>(k)
        .unwrap()
        .received
        .iter()
        .map(|r| r.2.len())
        .collect();
    assert_eq!(sizes, vec![500, 1000]);
}

#[test]
fn partition_drops_exactly_the_packets_sent_in_the_window() {
    let mut net = Network::new(1);
    net.enable_packet_log();
    let s = net.add_host(Sender::new(A, B, 100).every(ms(10)), [addr(A)]);
    let e = net.add_host(Echo::default(), [addr(B)]);
    let l = net.add_link(s, e, LinkConfig::default());
    net.partition(l, Instant::from_millis(300), Instant::from_millis(500));
    assert!(net.run_until_idle(Instant::from_secs(5)).is_idle());

    // Forward: sent at 300..=490 ms are dropped (20 packets).
    let st = net.link_stats(l, s);
    assert_eq!(st.dropped_partition, 20);
    let echo = net.host::<Echo>(e).unwrap();
    let got: Vec<u32> = echo.received.iter().filter_map(|r| r.1).collect();
    let expect: Vec<u32> = (0..100).filter(|i| !(30..50).contains(i)).collect();
    assert_eq!(got, expect);
    // Backward: the echo of the packet sent at 290 ms leaves at 300 ms and is dropped;
    // the next echo to leave is that of 500 ms, at 510 ms.
    let back = net.link_stats(l, e);
    assert_eq!(back.dropped_partition, 1);
    let replies: Vec<u32> = net
        .host::<Sender>(s)
        .unwrap()
        .replies
        .iter()
        .filter_map(|r| r.1)
        .collect();
    let expect: Vec<u32> = (0..100).filter(|i| !(29..50).contains(i)).collect();
    assert_eq!(replies, expect);
    let log = net.packet_log().unwrap();
    for r in log.records() {
        let in_window =
            r.sent_at >= Instant::from_millis(300) && r.sent_at < Instant::from_millis(500);
        assert_eq!(r.drop_reason() == Some(DropReason::Partition), in_window);
    }
}

#[test]
fn asymmetric_links_impair_one_direction_only() {
    let mut net = Network::new(6);
    let s = net.add_host(Sender::new(A, B, 500).every(ms(1)), [addr(A)]);
    let e = net.add_host(Echo::default(), [addr(B)]);
    let l = net.add_link_asymmetric(
        s,
        e,
        LinkConfig::with_latency(ms(5)),
        LinkConfig::with_latency(ms(30)).loss(0.5),
    );
    assert!(net.run_until_idle(Instant::from_secs(5)).is_idle());
    assert_eq!(net.link_stats(l, s).lost, 0);
    let back = net.link_stats(l, e);
    assert!((200..=300).contains(&back.lost), "lost {}", back.lost);
    let sender = net.host::<Sender>(s).unwrap();
    for (t, seq) in &sender.replies {
        let seq = seq.unwrap();
        assert_eq!(*t, sender.sent_at[seq as usize] + ms(35));
    }
    assert_eq!(net.link_config(l, e).loss, 0.5);
    assert_eq!(net.link_config(l, s).loss, 0.0);
}

#[test]
fn changing_a_link_mid_run_applies_from_then_on() {
    let mut net = Network::new(1);
    let s = net.add_host(Sender::new(A, B, 20).every(ms(10)), [addr(A)]);
    let k = net.add_host(Sink::default(), [addr(B)]);
    let l = net.add_link(s, k, LinkConfig::default());
    net.run_until(Instant::from_millis(95));
    net.link_config_mut(l, s).loss = 1.0;
    assert!(net.run_until_idle(Instant::from_secs(5)).is_idle());
    assert_eq!(
        net.host::<Sink>(k).unwrap().valid_seqs(),
        (0..10).collect::<Vec<_>>()
    );
    assert_eq!(net.link_stats(l, s).lost, 10);
    assert!(verify(&net.host::<Sink>(k).unwrap().received[0].2).is_some());
}
