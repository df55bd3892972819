//! Unit tests for NewReno and CUBIC window rules.

use super::*;
use alloc::vec::Vec;

const MSS: u32 = 1000;

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

/// One round trip of a bulk sender: a whole cwnd is sent and acknowledged, one ACK per
/// `per_ack` bytes, the ACKs spread evenly over the RTT. Returns the time after it.
fn one_rtt(
    cc: &mut impl CongestionControl,
    start: Instant,
    rtt: Duration,
    per_ack: u32,
) -> Instant {
    let window = cc.cwnd();
    let acks = window.div_ceil(per_ack).max(1);
    let mut left = window;
    for i in 0..acks {
        let now = start + rtt * i / acks;
        let n = left.min(per_ack);
        left -= n;
        cc.on_ack(now, &Ack::new(n, MSS, Some(rtt)));
    }
    start + rtt
}

/// Put a controller into congestion avoidance at `cwnd` after a loss at `loss_cwnd`.
fn after_loss<C: CongestionControl>(mut cc: C, loss_cwnd: u32) -> C {
    // Slow start up to the loss window.
    let mut now = Instant::ZERO;
    while cc.cwnd() < loss_cwnd {
        let n = (loss_cwnd - cc.cwnd()).min(MSS);
        cc.on_ack(now, &Ack::new(n, MSS, Some(ms(100))));
        now += ms(1);
    }
    assert_eq!(cc.cwnd(), loss_cwnd);
    cc.on_fast_retransmit(now, loss_cwnd, MSS);
    // Full ACK with the whole reduced window still in flight.
    cc.on_recovery_exit(loss_cwnd, MSS);
    cc
}

#[test]
fn initial_state() {
    for alg in [Algorithm::NewReno, Algorithm::Cubic] {
        let cc = Congestion::new(&alg, 10 * MSS);
        assert_eq!(cc.name(), alg.name());
        assert_eq!(cc.cwnd(), 10 * MSS);
        // RFC 5681 §3.1: "arbitrarily high".
        assert_eq!(cc.ssthresh(), u32::MAX);
    }
}

#[test]
fn reno_and_cubic_ignore_deliveries() {
    // `Congestion::observes_delivery` lets the connection skip them.
    for alg in [Algorithm::NewReno, Algorithm::Cubic] {
        let mut cc = Congestion::new(&alg, 10 * MSS);
        assert!(!cc.observes_delivery());
        let mut now = Instant::ZERO;
        for (i, in_recovery) in [(0u32, false), (1, true), (2, false)] {
            if in_recovery {
                cc.on_congestion_event(now, 10 * MSS, MSS);
            }
            let before = format!("{cc:?}");
            now += ms(10);
            cc.on_delivery(
                now,
                &Delivery {
                    delivered: i * MSS,
                    in_flight: 5 * MSS,
                    lost: i * 100,
                    in_recovery,
                    mss: MSS,
                    rtt_sample: Some(ms(10)),
                    new_round: i % 2 == 0,
                    app_limited: i == 2,
                },
            );
            assert_eq!(format!("{cc:?}"), before, "{}", alg.name());
        }
    }
    assert!(Congestion::new(&Algorithm::Bbr, 10 * MSS).observes_delivery());
}

#[test]
fn reno_and_cubic_set_no_pacing_rate() {
    // `Congestion::pacing_rate_us` skips asking them.
    for alg in [Algorithm::NewReno, Algorithm::Cubic] {
        let cc = Congestion::new(&alg, 10 * MSS);
        for srtt in [None, Some(ms(1)), Some(ms(100))] {
            assert_eq!(cc.pacing_rate(srtt), None);
        }
        assert_eq!(cc.pacing_rate_us(Some(100_000)), None);
    }
    let bbr = Congestion::new(&Algorithm::Bbr, 10 * MSS);
    assert_eq!(
        bbr.pacing_rate_us(Some(100_000)),
        bbr.pacing_rate(Some(ms(100)))
    );
}

#[test]
fn slow_start_doubles_per_rtt() {
    for alg in [Algorithm::NewReno, Algorithm::Cubic] {
        // An ACK per segment, and delayed ACKs (one per two segments): both double.
        for per_ack in [MSS, 2 * MSS] {
            let mut cc = Congestion::new(&alg, 10 * MSS);
            let mut now = Instant::ZERO;
            for round in 1..=5 {
                now = one_rtt(&mut cc, now, ms(100), per_ack);
                assert_eq!(cc.cwnd(), (10 << round) * MSS, "{alg:?} per_ack {per_ack}");
            }
        }
    }
}

#[test]
fn slow_start_byte_counting_limit() {
    // RFC 3465 §2.2: a stretch ACK for 4 segments adds at most 2*SMSS.
    let mut cc = NewReno::new(10 * MSS);
    cc.on_ack(Instant::ZERO, &Ack::new(4 * MSS, MSS, None));
    assert_eq!(cc.cwnd(), 12 * MSS);
    cc.on_ack(Instant::ZERO, &Ack::new(300, MSS, None));
    assert_eq!(cc.cwnd(), 12 * MSS + 300);
    cc.on_ack(Instant::ZERO, &Ack::new(0, MSS, None));
    assert_eq!(cc.cwnd(), 12 * MSS + 300);
    // CUBIC's slow start follows RFC 9406 §4.2: L = 8 for a sender that does not pace.
    let mut cc = Cubic::new(10 * MSS);
    cc.on_ack(Instant::ZERO, &Ack::new(6 * MSS, MSS, None));
    assert_eq!(cc.cwnd(), 16 * MSS);
    cc.on_ack(Instant::ZERO, &Ack::new(20 * MSS, MSS, None));
    assert_eq!(cc.cwnd(), 24 * MSS);
}

#[test]
fn slow_start_stops_at_ssthresh() {
    let mut cc = NewReno::new(10 * MSS);
    cc.on_rto(Instant::ZERO, 9 * MSS, MSS); // ssthresh = 4.5 MSS
    assert_eq!(cc.ssthresh(), 4500);
    for _ in 0..4 {
        cc.on_ack(Instant::ZERO, &Ack::new(MSS, MSS, None));
    }
    assert_eq!(cc.cwnd(), 4500, "slow start is capped at ssthresh");
}

#[test]
fn newreno_congestion_avoidance_one_mss_per_rtt() {
    let mut cc = after_loss(NewReno::new(10 * MSS), 40 * MSS);
    assert_eq!(cc.ssthresh(), 20 * MSS);
    assert_eq!(cc.cwnd(), 20 * MSS);
    let mut now = Instant::from_secs(1);
    for round in 1..=10 {
        now = one_rtt(&mut cc, now, ms(100), MSS);
        assert_eq!(cc.cwnd(), (20 + round) * MSS);
    }
    // Delayed ACKs do not change the per-RTT growth under byte counting.
    for round in 1..=10 {
        now = one_rtt(&mut cc, now, ms(100), 2 * MSS);
        assert_eq!(cc.cwnd(), (30 + round) * MSS);
    }
}

#[test]
fn newreno_fast_retransmit_numbers() {
    let mut cc = NewReno::new(20 * MSS);
    // RFC 5681 §3.2 steps 2-3: FlightSize 20 MSS -> ssthresh 10, cwnd 13 MSS.
    cc.on_fast_retransmit(Instant::ZERO, 20 * MSS, MSS);
    assert_eq!(cc.ssthresh(), 10 * MSS);
    assert_eq!(cc.cwnd(), 13 * MSS);
    // Step 4: each further duplicate ACK inflates by 1 MSS.
    cc.on_recovery_dup_ack(MSS);
    cc.on_recovery_dup_ack(MSS);
    assert_eq!(cc.cwnd(), 15 * MSS);
    // RFC 6582 §3.2 step 5: partial ACK of 3 MSS deflates by 3, adds 1 back.
    cc.on_partial_ack(3 * MSS, MSS);
    assert_eq!(cc.cwnd(), 13 * MSS);
    // Less than one MSS acknowledged: no add-back.
    cc.on_partial_ack(400, MSS);
    assert_eq!(cc.cwnd(), 13 * MSS - 400);
    // Step 6 option 1: min(ssthresh, max(FlightSize, SMSS) + SMSS).
    let mut a = cc.clone();
    a.on_recovery_exit(4 * MSS, MSS);
    assert_eq!(a.cwnd(), 5 * MSS);
    let mut b = cc.clone();
    b.on_recovery_exit(30 * MSS, MSS);
    assert_eq!(b.cwnd(), 10 * MSS);
    let mut c = cc;
    c.on_recovery_exit(0, MSS);
    assert_eq!(c.cwnd(), 2 * MSS);
}

#[test]
fn ssthresh_floor_is_two_mss() {
    let mut cc = NewReno::new(10 * MSS);
    cc.on_fast_retransmit(Instant::ZERO, 3 * MSS, MSS);
    assert_eq!(cc.ssthresh(), 2 * MSS);
    assert_eq!(cc.cwnd(), 5 * MSS);
    let mut cc = Cubic::new(10 * MSS);
    cc.on_fast_retransmit(Instant::ZERO, 2 * MSS, MSS);
    assert_eq!(cc.ssthresh(), 2 * MSS);
}

#[test]
fn partial_ack_never_below_one_mss() {
    let mut cc = NewReno::new(10 * MSS);
    cc.on_fast_retransmit(Instant::ZERO, 4 * MSS, MSS);
    cc.on_partial_ack(100 * MSS, MSS);
    assert_eq!(cc.cwnd(), MSS);
}

#[test]
fn rto_collapses_window_and_holds_ssthresh_on_repeat() {
    for alg in [Algorithm::NewReno, Algorithm::Cubic] {
        let mut cc = Congestion::new(&alg, 30 * MSS);
        cc.on_rto(Instant::ZERO, 30 * MSS, MSS);
        assert_eq!(cc.cwnd(), MSS, "{alg:?}: loss window is 1 SMSS");
        let first = cc.ssthresh();
        let want = match alg {
            Algorithm::NewReno => 15 * MSS,
            Algorithm::Cubic => 21 * MSS,
            Algorithm::Bbr | Algorithm::Custom(_) => unreachable!("NewReno and CUBIC only"),
        };
        assert_eq!(first, want, "{alg:?}");
        // The retransmission times out again: ssthresh is held (RFC 5681 §3.1).
        cc.on_rto(Instant::from_secs(1), MSS, MSS);
        assert_eq!(cc.ssthresh(), first, "{alg:?}");
        assert_eq!(cc.cwnd(), MSS);
        // After new data is acknowledged, a later timeout recomputes it.
        cc.on_ack(Instant::from_secs(2), &Ack::new(MSS, MSS, Some(ms(100))));
        assert_eq!(cc.cwnd(), 2 * MSS);
        cc.on_rto(Instant::from_secs(3), 2 * MSS, MSS);
        assert_eq!(cc.ssthresh(), 2 * MSS, "{alg:?}");
    }
}

#[test]
fn idle_restart_caps_cwnd() {
    for alg in [Algorithm::NewReno, Algorithm::Cubic] {
        let mut cc = Congestion::new(&alg, 50 * MSS);
        cc.on_idle_restart(10 * MSS);
        assert_eq!(cc.cwnd(), 10 * MSS);
        // Never raises it.
        let mut cc = Congestion::new(&alg, 4 * MSS);
        cc.on_idle_restart(10 * MSS);
        assert_eq!(cc.cwnd(), 4 * MSS);
    }
}

#[test]
fn cubic_multiplicative_decrease_and_fast_convergence() {
    let mut cc = Cubic::new(100 * MSS);
    assert_eq!(cc.w_max(), 0);
    // RFC 9438 §4.6: ssthresh = 0.7 * FlightSize; W_max = cwnd at the loss.
    cc.on_fast_retransmit(Instant::ZERO, 100 * MSS, MSS);
    assert_eq!(cc.ssthresh(), 70 * MSS);
    assert_eq!(cc.cwnd(), 73 * MSS);
    assert_eq!(cc.w_max(), 100 * MSS);
    cc.on_recovery_exit(70 * MSS, MSS);
    assert_eq!(cc.cwnd(), 70 * MSS);
    // A second loss below W_max: fast convergence (RFC 9438 §4.7) sets
    // W_max = cwnd * (1 + 0.7) / 2.
    cc.on_fast_retransmit(Instant::from_secs(1), 70 * MSS, MSS);
    assert_eq!(cc.w_max(), 59_500);
    assert_eq!(cc.ssthresh(), 49 * MSS);
}

#[test]
fn cubic_k_matches_rfc_formula() {
    let mut cc = after_loss(Cubic::new(10 * MSS), 100 * MSS);
    assert_eq!(cc.cwnd(), 70 * MSS);
    assert_eq!(cc.k(), None);
    cc.on_ack(Instant::from_secs(10), &Ack::new(MSS, MSS, Some(ms(100))));
    // K = cbrt((100 - 70) / 0.4) = cbrt(75) s.
    let k = cc.k().unwrap().as_secs_f64();
    assert!((k - 75f64.cbrt()).abs() < 1e-6, "K = {k}");
}

/// Run a bulk CUBIC flow after a loss at `w_max` segments and return cwnd (in
/// segments) sampled once per RTT, with the time since the epoch.
fn cubic_trace(w_max: u32, rtt: Duration, rtts: usize) -> (Cubic, Vec<(f64, f64)>) {
    let mut cc = after_loss(Cubic::new(10 * MSS), w_max * MSS);
    let start = Instant::from_secs(10);
    let mut now = start;
    let mut trace = Vec::new();
    for _ in 0..rtts {
        now = one_rtt(&mut cc, now, rtt, MSS);
        trace.push((
            (now - start).as_secs_f64(),
            f64::from(cc.cwnd()) / f64::from(MSS),
        ));
    }
    (cc, trace)
}

#[test]
fn cubic_reaches_w_max_near_k_concave_then_convex() {
    // A large window (1000 segments at 100 ms) so that the cubic function, not the
    // Reno-friendly estimate, governs around K.
    let rtt = ms(100);
    let (cc, trace) = cubic_trace(1000, rtt, 140);
    let k = cc.k().unwrap().as_secs_f64();
    // K = cbrt((1000 - 700) / 0.4) = cbrt(750) s.
    assert!((k - 750f64.cbrt()).abs() < 1e-6);
    let at = |t: f64| {
        trace
            .iter()
            .min_by(|a, b| (a.0 - t).abs().total_cmp(&(b.0 - t).abs()))
            .unwrap()
            .1
    };
    // Near K the window is back at W_max.
    let w_at_k = at(k);
    assert!((w_at_k - 1000.0).abs() <= 3.0, "cwnd at K = {w_at_k}");
    // Never shrinks during congestion avoidance.
    assert!(trace.windows(2).all(|w| w[1].1 >= w[0].1));
    // Concave before K: growth per second shrinks as W_max approaches.
    let g1 = at(2.0) - at(1.0);
    let g2 = at(4.0) - at(3.0);
    let g3 = at(6.0) - at(5.0);
    assert!(g1 > g2 && g2 > g3, "concave: {g1} {g2} {g3}");
    // A plateau around K.
    let plateau = at(k + 0.5) - at(k - 0.5);
    assert!(plateau < 2.0 && plateau < g3, "plateau {plateau} vs {g3}");
    // Convex after K: growth per second rises.
    let h1 = at(k + 1.0) - at(k);
    let h2 = at(k + 2.0) - at(k + 1.0);
    let h3 = at(k + 3.0) - at(k + 2.0);
    assert!(h1 < h2 && h2 < h3, "convex: {h1} {h2} {h3}");
    // And it follows W_cubic: W(K + 3 s) = 1000 + 0.4 * 27 = 1010.8 segments (cwnd
    // aims one RTT ahead: W(K + 3.1 s) = 1011.9).
    let w = at(k + 3.0);
    assert!((w - 1011.0).abs() < 3.0, "cwnd at K+3 = {w}");
    let w = at(k + 4.0);
    assert!((w - 1025.6).abs() < 4.0, "cwnd at K+4 = {w}");
}

#[test]
fn cubic_reno_friendly_region_at_small_windows() {
    // W_max = 100 segments at 100 ms: K = 4.2 s, but by K + 3 s the Reno estimate
    // (70 + ~0.53 per RTT up to 100, then 1 per RTT) is ~115 segments, above
    // W_cubic = 110.8: cwnd follows W_est (RFC 9438 §4.3).
    let (cc, trace) = cubic_trace(100, ms(100), 72);
    let k = cc.k().unwrap().as_secs_f64();
    let (t, w) = *trace.last().unwrap();
    assert!((t - (k + 3.0)).abs() < 0.1);
    assert!(w > 113.0 && w < 117.0, "cwnd {w}");
}

#[test]
fn cubic_growth_is_bounded_per_rtt() {
    // RFC 9438 §4.2: the target is at most 1.5 * cwnd, so cwnd at most 1.5x per RTT.
    let (_, trace) = cubic_trace(100, ms(100), 120);
    for w in trace.windows(2) {
        assert!(w[1].1 <= w[0].1 * 1.5 + 1.0, "{:?}", w);
    }
}

#[test]
fn cubic_reno_friendly_region_on_short_rtt() {
    // With a 1 ms RTT the cubic curve is slow in wall-clock time, so the Reno estimate
    // (RFC 9438 §4.3) governs: CUBIC must not be slower than NewReno.
    let rtt = ms(1);
    let mut cubic = after_loss(Cubic::new(10 * MSS), 20 * MSS);
    let mut reno = after_loss(NewReno::new(10 * MSS), 20 * MSS);
    assert_eq!(cubic.cwnd(), 14 * MSS);
    assert_eq!(reno.cwnd(), 10 * MSS);
    let (mut tc, mut tr) = (Instant::from_secs(10), Instant::from_secs(10));
    for _ in 0..300 {
        tc = one_rtt(&mut cubic, tc, rtt, MSS);
        tr = one_rtt(&mut reno, tr, rtt, MSS);
    }
    let c = cubic.cwnd() / MSS;
    let r = reno.cwnd() / MSS;
    // W_cubic(0.3 s) is below 20 segments; the Reno estimate is ~ 300 segments.
    assert!(c >= 250, "cubic cwnd {c} segments");
    assert!(c + 10 >= r, "cubic {c} vs reno {r}");
}

#[test]
fn cubic_after_timeout_uses_k_zero() {
    let mut cc = Cubic::new(10 * MSS);
    cc.on_rto(Instant::ZERO, 40 * MSS, MSS);
    assert_eq!(cc.ssthresh(), 28 * MSS);
    let mut now = Instant::from_secs(1);
    while cc.cwnd() < cc.ssthresh() {
        cc.on_ack(now, &Ack::new(MSS, MSS, Some(ms(100))));
        now += ms(10);
    }
    assert_eq!(cc.cwnd(), 28 * MSS);
    assert_eq!(cc.k(), None, "still slow start");
    cc.on_ack(now, &Ack::new(MSS, MSS, Some(ms(100))));
    // RFC 9438 §4.8: K = 0 and W_max = cwnd at the start of congestion avoidance.
    assert_eq!(cc.k(), Some(Duration::ZERO));
    assert_eq!(cc.w_max(), 28 * MSS);
}

#[test]
fn cubic_idle_restart_resets_epoch() {
    let (mut cc, _) = cubic_trace(100, ms(100), 5);
    assert!(cc.k().is_some());
    cc.on_idle_restart(10 * MSS);
    assert_eq!(cc.cwnd(), 10 * MSS);
    assert_eq!(cc.k(), None);
}

#[test]
fn zero_mss_does_not_panic() {
    for alg in [Algorithm::NewReno, Algorithm::Cubic] {
        let mut cc = Congestion::new(&alg, 0);
        cc.on_fast_retransmit(Instant::ZERO, 0, 0);
        cc.on_recovery_exit(0, 0);
        cc.on_ack(Instant::from_secs(1), &Ack::new(10, 0, None));
        cc.on_ack(
            Instant::from_secs(2),
            &Ack::new(u32::MAX, 0, Some(Duration::MAX)),
        );
        cc.on_partial_ack(u32::MAX, 0);
        cc.on_rto(Instant::FAR_FUTURE, u32::MAX, u32::MAX);
        cc.on_ack(
            Instant::FAR_FUTURE,
            &Ack::new(u32::MAX, u32::MAX, Some(Duration::MAX)),
        );
        let _ = cc.cwnd();
    }
}

/// One slow-start round of a HyStart++ sender: a whole cwnd acknowledged one MSS at a
/// time, every ACK with an RTT sample of `rtt`; the first ACK ends the previous round.
fn hystart_round(cc: &mut Cubic, now: &mut Instant, rtt: Duration) {
    let acks = (cc.cwnd() / MSS).max(1);
    for i in 0..acks {
        let ack = Ack {
            bytes_acked: MSS,
            mss: MSS,
            srtt: Some(rtt),
            rtt_sample: Some(rtt),
            new_round: i == 0,
            paced: false,
        };
        cc.on_ack(*now, &ack);
        // 0.1 ms apart: a round's ACKs are a short train, far from filling the path.
        *now += Duration::from_micros(100);
    }
}

#[test]
fn hystart_leaves_slow_start_when_the_rtt_rises() {
    // RFC 9406 §4.2: rounds at a steady 50 ms double cwnd; once a round's minimum RTT
    // is RttThresh = clamp(50/8, 4, 16) = 6.25 ms above the last round's, CSS grows by
    // a quarter, and CSS_ROUNDS = 5 rounds later slow start ends with ssthresh = cwnd.
    let mut cc = Cubic::new(10 * MSS);
    let mut now = Instant::ZERO;
    for _ in 0..3 {
        hystart_round(&mut cc, &mut now, ms(50));
    }
    assert!(!cc.hystart().in_css());
    assert_eq!(cc.cwnd(), 80 * MSS, "doubling: 10 → 20 → 40 → 80");
    // The queue builds: 57 ms ≥ 50 + 6.25.
    hystart_round(&mut cc, &mut now, ms(57));
    assert!(cc.hystart().in_css(), "delay increase detected");
    let before = cc.cwnd();
    hystart_round(&mut cc, &mut now, ms(57));
    let grown = cc.cwnd() - before;
    // A round acknowledges `before` bytes; CSS adds a quarter of slow start's growth.
    assert!(
        grown <= before / 4 + MSS,
        "CSS grows at most a quarter as fast: {grown} of {before}"
    );
    assert_eq!(cc.ssthresh(), u32::MAX);
    for _ in 0..4 {
        hystart_round(&mut cc, &mut now, ms(57));
    }
    assert!(cc.hystart().is_done());
    // Slow start ended without a loss at the start of the last round (ssthresh =
    // cwnd then); the rest of that round was congestion avoidance.
    assert!(cc.ssthresh() < u32::MAX, "slow start ended without a loss");
    assert!(cc.cwnd() >= cc.ssthresh() && cc.cwnd() < cc.ssthresh() + cc.ssthresh() / 50);
    // Five more rounds of doubling would have made it 32 times larger; CSS grows by
    // at most a quarter per round (1.25^5 ≈ 3).
    assert!(cc.cwnd() < 4 * before, "far below where doubling would be");
}

#[test]
fn hystart_resumes_slow_start_when_the_rise_was_spurious() {
    let mut cc = Cubic::new(10 * MSS);
    let mut now = Instant::ZERO;
    for _ in 0..2 {
        hystart_round(&mut cc, &mut now, ms(50));
    }
    hystart_round(&mut cc, &mut now, ms(60));
    assert!(cc.hystart().in_css());
    // RTTs below the CSS baseline: back to standard slow start (RFC 9406 §4.2).
    hystart_round(&mut cc, &mut now, ms(50));
    assert!(!cc.hystart().in_css());
    assert!(!cc.hystart().is_done());
    let before = cc.cwnd();
    hystart_round(&mut cc, &mut now, ms(50));
    assert_eq!(cc.cwnd(), 2 * before, "doubling again");
}

#[test]
fn hystart_steps_aside_after_a_loss_and_without_samples() {
    // Without RTT samples HyStart++ never triggers: plain slow start.
    let mut cc = Cubic::new(10 * MSS);
    for _ in 0..200 {
        cc.on_ack(Instant::ZERO, &Ack::new(MSS, MSS, Some(ms(50))));
    }
    assert_eq!(cc.cwnd(), 210 * MSS);
    assert!(!cc.hystart().in_css());
    // A loss ends it for good (RFC 9406 §4.3: the initial slow start only).
    cc.on_sack_recovery(Instant::ZERO, 210 * MSS, MSS);
    assert!(cc.hystart().is_done());
}

#[derive(Debug)]
struct Doubler {
    cwnd: u32,
    ssthresh: u32,
}

impl CongestionControl for Doubler {
    fn name(&self) -> &'static str {
        "doubler"
    }
    fn cwnd(&self) -> u32 {
        self.cwnd
    }
    fn set_cwnd(&mut self, cwnd: u32) {
        self.cwnd = cwnd;
    }
    fn ssthresh(&self) -> u32 {
        self.ssthresh
    }
    fn on_ack(&mut self, _now: Instant, ack: &Ack) {
        self.cwnd += ack.bytes_acked;
    }
    fn on_congestion_event(&mut self, _now: Instant, flight_size: u32, mss: u32) {
        self.ssthresh = (flight_size / 4).max(mss);
    }
    fn on_rto(&mut self, now: Instant, flight_size: u32, mss: u32) {
        self.on_congestion_event(now, flight_size, mss);
        self.cwnd = mss;
    }
}

#[test]
fn custom_controllers_get_the_shared_recovery_rules() {
    let alg = Algorithm::custom("doubler", |iw| {
        Box::new(Doubler {
            cwnd: iw,
            ssthresh: u32::MAX,
        })
    });
    assert_eq!(alg.name(), "doubler");
    assert_eq!(alg, alg.clone());
    assert_ne!(alg, Algorithm::Cubic);
    let mut cc = Congestion::new(&alg, 10 * MSS);
    assert_eq!(cc.name(), "doubler");
    cc.on_ack(Instant::ZERO, &Ack::new(3 * MSS, MSS, None));
    assert_eq!(cc.cwnd(), 13 * MSS);
    // The default fast-retransmit rule: its own ssthresh, then + 3 SMSS (RFC 5681 §3.2).
    cc.on_fast_retransmit(Instant::ZERO, 40 * MSS, MSS);
    assert_eq!(cc.ssthresh(), 10 * MSS);
    assert_eq!(cc.cwnd(), 13 * MSS);
    cc.on_recovery_dup_ack(MSS);
    assert_eq!(cc.cwnd(), 14 * MSS);
    cc.on_recovery_exit(40 * MSS, MSS);
    assert_eq!(cc.cwnd(), 10 * MSS);
    assert_eq!(Algorithm::from_name("cubic"), Some(Algorithm::Cubic));
    assert_eq!(Algorithm::from_name("reno"), Some(Algorithm::NewReno));
    assert_eq!(Algorithm::from_name("vegas"), None);
}

#[test]
fn built_in_controllers_stay_small() {
    // Every connection carries its controller inline: the largest built-in one sets
    // the size of all (idle connections are held to about 1 KiB each).
    assert!(
        core::mem::size_of::<Congestion>() <= 64,
        "{}",
        core::mem::size_of::<Congestion>()
    );
}

/// One slow-start round whose ACKs arrive `gap` apart, each with an RTT sample of
/// `rtt`; `paced` as the connection says.
fn train_round(cc: &mut Cubic, now: &mut Instant, rtt: Duration, gap: Duration, paced: bool) {
    let acks = (cc.cwnd() / MSS).max(1);
    for i in 0..acks {
        let ack = Ack {
            bytes_acked: MSS,
            mss: MSS,
            srtt: Some(rtt),
            rtt_sample: Some(rtt),
            new_round: i == 0,
            paced,
        };
        cc.on_ack(*now, &ack);
        *now += gap;
    }
}

#[test]
fn an_unbroken_ack_train_longer_than_half_the_rtt_ends_slow_start() {
    // Linux HyStart's ACK train: 50 ms RTT, ACKs 1 ms apart. The 20-segment round
    // (20 ms of ACKs) stays below half the RTT; in the 40-segment round the train
    // passes 25 ms and slow start ends there, with no RTT rise and no loss.
    let mut cc = Cubic::new(10 * MSS);
    let mut now = Instant::ZERO;
    train_round(&mut cc, &mut now, ms(50), ms(1), false);
    train_round(&mut cc, &mut now, ms(50), ms(1), false);
    assert_eq!(cc.ssthresh(), u32::MAX, "20 ms of ACKs: still slow start");
    assert_eq!(cc.cwnd(), 40 * MSS);
    train_round(&mut cc, &mut now, ms(50), ms(1), false);
    assert!(cc.hystart().is_done());
    // The train passed 25 ms at the 27th ACK (26 ms after the round began): cwnd grew
    // by 26 segments, then ssthresh = cwnd and the rest was congestion avoidance.
    assert_eq!(cc.ssthresh(), 66 * MSS);
    assert!(
        cc.cwnd() >= 66 * MSS && cc.cwnd() < 68 * MSS,
        "{}",
        cc.cwnd() / MSS
    );
}

#[test]
fn a_paced_or_broken_ack_train_does_not_end_slow_start() {
    // Paced: the threshold is the whole minimum RTT, 40 ms of ACKs pass it not.
    let mut cc = Cubic::new(10 * MSS);
    let mut now = Instant::ZERO;
    for _ in 0..3 {
        train_round(&mut cc, &mut now, ms(50), ms(1), true);
    }
    assert_eq!(cc.ssthresh(), u32::MAX);
    assert_eq!(cc.cwnd(), 80 * MSS);
    // Unpaced but with gaps of 3 ms (> 2 ms): no train, however long the round.
    let mut cc = Cubic::new(10 * MSS);
    let mut now = Instant::ZERO;
    for _ in 0..4 {
        train_round(&mut cc, &mut now, ms(50), ms(3), false);
    }
    assert_eq!(cc.ssthresh(), u32::MAX);
    assert_eq!(cc.cwnd(), 160 * MSS);
    // Below 16 segments the test does not run, even on a train past half the RTT.
    let mut cc = Cubic::new(10 * MSS);
    let mut now = Instant::ZERO;
    train_round(&mut cc, &mut now, ms(10), ms(1), false);
    assert_eq!(cc.cwnd(), 20 * MSS);
    assert_eq!(cc.ssthresh(), u32::MAX);
}

#[test]
fn bbr_gets_its_window_back_when_the_repair_after_a_timeout_is_done() {
    // As Linux's BBR leaves the Loss state: the window saved at the timeout comes
    // back once what was outstanding is repaired (the connection reports that
    // repair as recovery), not at the first ACK and not never.
    let mut cc = Bbr::new(10 * MSS);
    let mut now = Instant::ZERO;
    let ack = |delivered: u32, in_recovery: bool| Delivery {
        delivered,
        in_flight: 20 * MSS,
        lost: 0,
        in_recovery,
        mss: MSS,
        rtt_sample: Some(ms(10)),
        new_round: false,
        app_limited: false,
    };
    for _ in 0..40 {
        now += ms(1);
        cc.on_delivery(now, &ack(2 * MSS, false));
    }
    let before = cc.cwnd();
    assert!(before >= 40 * MSS, "{before}");
    cc.on_rto(now, before, MSS);
    assert_eq!(cc.cwnd(), MSS);
    for _ in 0..3 {
        now += ms(10);
        cc.on_delivery(now, &ack(MSS, true));
        assert!(cc.cwnd() <= 8 * MSS, "restored before the repair was done");
    }
    now += ms(10);
    cc.on_delivery(now, &ack(MSS, false));
    // Back to the saved window, within what the model allows (gain x BDP).
    assert!(
        cc.cwnd() >= before / 2,
        "{} after, {before} before",
        cc.cwnd()
    );
}
