//! Congestion control: the [`CongestionControl`] trait that decides cwnd and ssthresh,
//! the built-in controllers ([`NewReno`], RFC 5681 / RFC 6582, and [`Cubic`], RFC 9438
//! with HyStart++, RFC 9406, the default as in Linux; [`Bbr`], v1, paced), and [`Algorithm`], the choice a
//! [`Config`](crate::Config) or a connection makes, which may name a controller of the
//! application's own.
//!
//! How the work divides: loss *detection* (duplicate ACKs, the SACK scoreboard, the
//! probe timeout, the RTO) and the window *during* recovery (RFC 6582 inflation, RFC
//! 6675 pipe) belong to the connection; a controller decides how the window grows on
//! ACKs of new data outside recovery (slow start, congestion avoidance), how far it
//! backs off when a loss is detected or the RTO fires, and optionally the pacing
//! rate. The connection only calls [`CongestionControl::on_ack`] while the flow is
//! limited by cwnd (RFC 7661 §4.3: a window that is not used is not validated, so it
//! must not grow), and calls [`CongestionControl::on_idle_restart`] when it sends
//! after an idle period longer than the RTO (RFC 5681 §4.1, RFC 7661 §4.4).
//!
//! Both built-in controllers share the slow-start rule (RFC 5681 §3.1 with Appropriate
//! Byte Counting, RFC 3465 §2.2, L = 2*SMSS) and the fast-recovery window rules (RFC
//! 5681 §3.2, RFC 6582 §3.2), which are the trait's default methods. They differ in
//! congestion avoidance and in how much they back off: NewReno halves and adds one SMSS
//! per RTT; CUBIC keeps 70% and follows a cubic function of the time since the last
//! congestion event.
//!
//! # Writing a controller
//!
//! A controller implements five required methods; everything else has a default.
//! This toy one grows by one segment per ACK and halves on every congestion signal:
//!
//! ```
//! use synack_core::cc::{Ack, Algorithm, CongestionControl};
//! use synack_core::{Config, Instant};
//!
//! #[derive(Debug)]
//! struct Toy {
//!     cwnd: u32,
//!     ssthresh: u32,
//! }
//!
//! impl CongestionControl for Toy {
//!     fn name(&self) -> &'static str {
//!         "toy"
//!     }
//!     fn cwnd(&self) -> u32 {
//!         self.cwnd
//!     }
//!     fn set_cwnd(&mut self, cwnd: u32) {
//!         self.cwnd = cwnd;
//!     }
//!     fn ssthresh(&self) -> u32 {
//!         self.ssthresh
//!     }
//!     fn on_ack(&mut self, _now: Instant, ack: &Ack) {
//!         self.cwnd = self.cwnd.saturating_add(ack.mss);
//!     }
//!     fn on_congestion_event(&mut self, _now: Instant, flight_size: u32, mss: u32) {
//!         self.ssthresh = (flight_size / 2).max(2 * mss);
//!     }
//!     fn on_rto(&mut self, now: Instant, flight_size: u32, mss: u32) {
//!         self.on_congestion_event(now, flight_size, mss);
//!         self.cwnd = mss;
//!     }
//! }
//!
//! // Every connection of this stack gets its own Toy, made from the initial window.
//! let cfg = Config {
//!     congestion: Algorithm::custom("toy", |initial_cwnd| {
//!         Box::new(Toy { cwnd: initial_cwnd, ssthresh: u32::MAX })
//!     }),
//!     ..Config::default()
//! };
//! assert_eq!(cfg.congestion.name(), "toy");
//! ```

mod bbr;
mod cubic;
mod hystart;
mod newreno;

pub use bbr::{Bbr, BbrMode};
pub use cubic::Cubic;
pub use hystart::HyStart;
pub use newreno::NewReno;

use crate::time::{Duration, Instant};
use alloc::boxed::Box;
use alloc::sync::Arc;
use core::fmt;

/// What an ACK of new data tells a controller (outside loss recovery).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ack {
    /// Bytes newly acknowledged (SND.UNA advanced by this much).
    pub bytes_acked: u32,
    /// The sender's SMSS.
    pub mss: u32,
    /// Smoothed RTT (RFC 6298), once measured.
    pub srtt: Option<Duration>,
    /// The RTT sample this ACK gave, if it gave one (RFC 6298 §3 / RFC 7323 §4).
    pub rtt_sample: Option<Duration>,
    /// This ACK ends a round: it acknowledges the data that was the highest sent when
    /// the previous round ended (RFC 9406 §4.2's windowEnd).
    pub new_round: bool,
    /// The connection paces its data ([`Config::pacing`](crate::Config::pacing)), so
    /// a round's ACKs are spread by the sender, not only by the path.
    pub paced: bool,
}

impl Ack {
    /// An ACK of `bytes_acked` bytes with no RTT sample and no round boundary.
    pub fn new(bytes_acked: u32, mss: u32, srtt: Option<Duration>) -> Ack {
        Ack {
            bytes_acked,
            mss,
            srtt,
            rtt_sample: None,
            new_round: false,
            paced: false,
        }
    }
}

/// What every ACK tells a controller, in recovery or not, for model-based controllers
/// such as BBR ([`CongestionControl::on_delivery`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// Bytes newly delivered to the peer by this ACK: cumulatively acknowledged or
    /// newly SACKed (each byte counted once).
    pub delivered: u32,
    /// Bytes in flight after this ACK: RFC 6675's pipe when SACK is in use (sent,
    /// not SACKed, not deemed lost), else SND.NXT - SND.UNA.
    pub in_flight: u32,
    /// Bytes this ACK newly showed lost (RACK's marks, RFC 8985 §6.2).
    pub lost: u32,
    /// The connection is in loss recovery after this ACK's processing: fast
    /// recovery, or the repair after a retransmission timeout, until SND.UNA passes
    /// what was outstanding when the timer fired (RFC 6582's "recover"; Linux's
    /// Loss state).
    pub in_recovery: bool,
    /// The sender's SMSS.
    pub mss: u32,
    /// The RTT sample this ACK gave, if any.
    pub rtt_sample: Option<Duration>,
    /// This ACK ends a round (see [`Ack::new_round`]).
    pub new_round: bool,
    /// The sender had nothing more to send: the application, not the network, limits
    /// the rate now.
    pub app_limited: bool,
}

/// A congestion controller: decides cwnd and ssthresh (all sizes in bytes). See the
/// [module documentation](self) for how the work is divided with the connection and
/// an example.
pub trait CongestionControl: fmt::Debug + Send {
    /// A short name, as Linux's `TCP_CONGESTION` uses ("reno", "cubic", ...).
    fn name(&self) -> &'static str;
    /// Congestion window.
    fn cwnd(&self) -> u32;
    /// Set the congestion window. Loss recovery uses this while it governs the window
    /// (RFC 5681 §3.2 inflation, RFC 6582 deflation, RFC 6675 cwnd = ssthresh).
    fn set_cwnd(&mut self, cwnd: u32);
    /// Slow-start threshold.
    fn ssthresh(&self) -> u32;
    /// New data acknowledged outside recovery while the flow is cwnd-limited (RFC 5681
    /// §3.1: slow start below ssthresh, congestion avoidance above).
    fn on_ack(&mut self, now: Instant, ack: &Ack);
    /// A loss was detected (three duplicate ACKs, or the SACK scoreboard: RFC 5681
    /// §3.2, RFC 6675 §5): set ssthresh for the reduction. The connection sets cwnd for
    /// the recovery that follows.
    fn on_congestion_event(&mut self, now: Instant, flight_size: u32, mss: u32);
    /// Retransmission timeout (RFC 5681 §3.1 eq. 4: ssthresh = max(FlightSize/2,
    /// 2*SMSS) unless this timeout repeats one without progress since; cwnd = the loss
    /// window, 1 SMSS).
    fn on_rto(&mut self, now: Instant, flight_size: u32, mss: u32);

    /// Three duplicate ACKs without SACK: enter fast recovery (RFC 5681 §3.2 steps
    /// 2–3: the reduction, then cwnd = ssthresh + 3*SMSS).
    fn on_fast_retransmit(&mut self, now: Instant, flight_size: u32, mss: u32) {
        self.on_congestion_event(now, flight_size, mss);
        self.set_cwnd(self.ssthresh().saturating_add(mss.saturating_mul(3)));
    }
    /// Enter SACK-based loss recovery (RFC 6675 §5 step (4.2)): the reduction, then
    /// cwnd = ssthresh without inflation (the sender's `pipe` governs what is sent).
    fn on_sack_recovery(&mut self, now: Instant, flight_size: u32, mss: u32) {
        self.on_congestion_event(now, flight_size, mss);
        self.set_cwnd(self.ssthresh());
    }
    /// The peer echoed a CE mark (ECE, RFC 3168 §6.1.2): respond as to a loss, once
    /// per window of data (the connection sees to that), without retransmitting:
    /// the reduction computed from `cwnd` (§6.1.2 halves the congestion window, not
    /// FlightSize; the connection passes its cwnd), then cwnd = ssthresh.
    /// Controllers that keep their own window in recovery (BBR v1) ignore it, as
    /// Linux's BBR sets its window whatever the CWR state.
    fn on_ecn_echo(&mut self, now: Instant, cwnd: u32, mss: u32) {
        if self.controls_recovery_window() {
            return;
        }
        self.on_congestion_event(now, cwnd, mss);
        self.set_cwnd(self.ssthresh().max(mss));
    }
    /// A further duplicate ACK in fast recovery: inflate cwnd by SMSS (RFC 5681 §3.2
    /// step 4).
    fn on_recovery_dup_ack(&mut self, mss: u32) {
        self.set_cwnd(self.cwnd().saturating_add(mss));
    }
    /// A partial ACK in fast recovery (RFC 6582 §3.2 step 5): deflate by the amount
    /// acknowledged, add back SMSS if that amount was at least SMSS; never below one
    /// SMSS, so the retransmission the partial ACK calls for can be sent.
    fn on_partial_ack(&mut self, bytes_acked: u32, mss: u32) {
        let mut cwnd = self.cwnd().saturating_sub(bytes_acked);
        if bytes_acked >= mss {
            cwnd = cwnd.saturating_add(mss);
        }
        self.set_cwnd(cwnd.max(mss));
    }
    /// A full ACK ends recovery (RFC 6582 §3.2 step 6 option 1:
    /// cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS)).
    fn on_recovery_exit(&mut self, flight_size: u32, mss: u32) {
        let cwnd = self
            .ssthresh()
            .min(flight_size.max(mss).saturating_add(mss));
        self.set_cwnd(cwnd);
    }
    /// The last reduction was spurious: every retransmission of the recovery turned
    /// out to be a duplicate (the peer reported each with a D-SACK, RFC 2883 §5), or
    /// the ACK that ended it echoed the original's timestamp (the Eifel detection of
    /// RFC 3522). Restore what was held before it, as Linux's undo does (the response
    /// of RFC 4015 §2). The default restores cwnd; controllers that keep ssthresh
    /// restore it too.
    fn on_spurious_recovery(&mut self, prior_cwnd: u32, prior_ssthresh: u32) {
        let _ = prior_ssthresh;
        if prior_cwnd > self.cwnd() {
            self.set_cwnd(prior_cwnd);
        }
    }
    /// Restart after an idle period longer than an RTO (RFC 5681 §4.1:
    /// cwnd = min(RW, cwnd)).
    fn on_idle_restart(&mut self, restart_window: u32) {
        self.set_cwnd(self.cwnd().min(restart_window));
    }
    /// Every ACK, in loss recovery too, with what it delivered. Model-based
    /// controllers (BBR) act here; the default does nothing.
    fn on_delivery(&mut self, _now: Instant, _delivery: &Delivery) {}
    /// The rate this controller wants segments paced at, in bytes per second, or
    /// `None` to leave it to the connection (which paces at a multiple of cwnd/SRTT
    /// when pacing is on: [`Config::pacing`](crate::Config::pacing)).
    fn pacing_rate(&self, _srtt: Option<Duration>) -> Option<u64> {
        None
    }
    /// True when the controller sets the window during loss recovery itself (BBR), so
    /// the connection's PRR (RFC 6937) leaves it alone.
    fn controls_recovery_window(&self) -> bool {
        false
    }
    /// True while in slow start (cwnd below ssthresh), for the pacing gain.
    fn in_slow_start(&self) -> bool {
        self.cwnd() < self.ssthresh()
    }
    /// True when a loss reduces from cwnd, not FlightSize (RFC 9438 §4.6 allows the
    /// cwnd form where cwnd cannot grow past what the flow uses, which the
    /// connection's window validation ensures; as Linux's CUBIC). False (the
    /// default, RFC 5681 §3.1): the `flight_size` the loss callbacks get is always
    /// SND.MAX − SND.UNA, capped at cwnd.
    fn reduces_from_cwnd(&self) -> bool {
        false
    }
}

/// Slow start (RFC 5681 §3.1 eq. 2) with Appropriate Byte Counting (RFC 3465 §2.2):
/// cwnd += min(bytes_acked, L*SMSS), not beyond ssthresh. NewReno uses RFC 3465's
/// L = 2; CUBIC with HyStart++ RFC 9406 §4.2's L = 8 for a sender that does not pace,
/// so a stretch ACK (an ACK for a GRO super-segment, or one ACK for a burst that
/// arrived at once) still lets the window double per round.
pub(crate) fn slow_start(cwnd: u32, ssthresh: u32, bytes_acked: u32, mss: u32, l: u32) -> u32 {
    let inc = bytes_acked.min(mss.saturating_mul(l));
    cwnd.saturating_add(inc).min(ssthresh.max(cwnd))
}

/// RFC 5681 §3.1 eq. 4 / §3.2 step 2: ssthresh = max(FlightSize / 2, 2*SMSS).
pub(crate) fn reno_ssthresh(flight_size: u32, mss: u32) -> u32 {
    (flight_size / 2).max(mss.saturating_mul(2))
}

/// Makes a connection's controller from its initial window, for
/// [`Algorithm::Custom`].
pub type MakeController = dyn Fn(u32) -> Box<dyn CongestionControl> + Send + Sync;

/// A controller of the application's own, by name and constructor.
#[derive(Clone)]
pub struct CustomAlgorithm {
    name: &'static str,
    make: Arc<MakeController>,
}

impl fmt::Debug for CustomAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CustomAlgorithm")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl PartialEq for CustomAlgorithm {
    /// Two custom algorithms are the same when they share the constructor.
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.make, &other.make)
    }
}

impl Eq for CustomAlgorithm {}

/// Which congestion controller a connection uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Algorithm {
    /// RFC 5681 + RFC 6582.
    NewReno,
    /// RFC 9438 with HyStart++ (RFC 9406): the default, as in Linux.
    #[default]
    Cubic,
    /// BBR v1, paced (see [`Bbr`]).
    Bbr,
    /// The application's own controller.
    Custom(CustomAlgorithm),
}

impl Algorithm {
    /// An algorithm of the application's own: `make` builds each connection's
    /// controller from its initial window in bytes.
    pub fn custom(
        name: &'static str,
        make: impl Fn(u32) -> Box<dyn CongestionControl> + Send + Sync + 'static,
    ) -> Algorithm {
        Algorithm::Custom(CustomAlgorithm {
            name,
            make: Arc::new(make),
        })
    }

    /// The name Linux's `TCP_CONGESTION` uses for it ("reno", "cubic"), or the custom
    /// algorithm's name.
    pub fn name(&self) -> &'static str {
        match self {
            Algorithm::NewReno => "reno",
            Algorithm::Cubic => "cubic",
            Algorithm::Bbr => "bbr",
            Algorithm::Custom(c) => c.name,
        }
    }

    /// The built-in algorithm of that name ("reno" or "newreno", "cubic", "bbr"), as
    /// `TCP_CONGESTION` takes it.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        match name {
            "reno" | "newreno" => Some(Algorithm::NewReno),
            "cubic" => Some(Algorithm::Cubic),
            "bbr" => Some(Algorithm::Bbr),
            _ => None,
        }
    }
}

/// A connection's congestion controller: the built-in ones inline, so a connection
/// that uses one allocates nothing for it; a custom one boxed.
#[derive(Debug)]
pub enum Congestion {
    /// NewReno.
    NewReno(NewReno),
    /// CUBIC.
    Cubic(Cubic),
    /// BBR.
    Bbr(Bbr),
    /// The application's own.
    Custom(Box<dyn CongestionControl>),
}

impl Congestion {
    /// A controller of `algorithm` with initial window `initial_cwnd` bytes.
    pub fn new(algorithm: &Algorithm, initial_cwnd: u32) -> Congestion {
        match algorithm {
            Algorithm::NewReno => Congestion::NewReno(NewReno::new(initial_cwnd)),
            Algorithm::Cubic => Congestion::Cubic(Cubic::new(initial_cwnd)),
            Algorithm::Bbr => Congestion::Bbr(Bbr::new(initial_cwnd)),
            Algorithm::Custom(c) => Congestion::Custom((c.make)(initial_cwnd)),
        }
    }

    /// False for the controllers that keep the trait's no-op
    /// [`CongestionControl::on_delivery`] (NewReno and CUBIC; the test
    /// `reno_and_cubic_ignore_deliveries` holds them to it): the connection then does
    /// not describe each ACK's delivery for nothing.
    #[inline]
    pub(crate) fn observes_delivery(&self) -> bool {
        !matches!(self, Congestion::NewReno(_) | Congestion::Cubic(_))
    }

    /// [`CongestionControl::pacing_rate`] from SRTT in microseconds, turned into a
    /// `Duration` only for the controllers that may set a rate: NewReno and CUBIC keep
    /// the trait's default, `None` (the test `reno_and_cubic_set_no_pacing_rate`
    /// holds them to it), and this runs for every data segment.
    #[inline]
    pub(crate) fn pacing_rate_us(&self, srtt_us: Option<u64>) -> Option<u64> {
        match self {
            Congestion::NewReno(_) | Congestion::Cubic(_) => None,
            cc => cc.pacing_rate(srtt_us.map(Duration::from_micros)),
        }
    }
}

macro_rules! delegate {
    ($self:ident, $cc:ident => $e:expr) => {
        match $self {
            Congestion::NewReno($cc) => $e,
            Congestion::Cubic($cc) => $e,
            Congestion::Bbr($cc) => $e,
            Congestion::Custom($cc) => $e,
        }
    };
}

impl CongestionControl for Congestion {
    fn name(&self) -> &'static str {
        delegate!(self, cc => cc.name())
    }
    fn cwnd(&self) -> u32 {
        delegate!(self, cc => cc.cwnd())
    }
    fn set_cwnd(&mut self, cwnd: u32) {
        delegate!(self, cc => cc.set_cwnd(cwnd))
    }
    fn ssthresh(&self) -> u32 {
        delegate!(self, cc => cc.ssthresh())
    }
    fn on_ack(&mut self, now: Instant, ack: &Ack) {
        delegate!(self, cc => cc.on_ack(now, ack))
    }
    fn on_congestion_event(&mut self, now: Instant, flight_size: u32, mss: u32) {
        delegate!(self, cc => cc.on_congestion_event(now, flight_size, mss))
    }
    fn on_rto(&mut self, now: Instant, flight_size: u32, mss: u32) {
        delegate!(self, cc => cc.on_rto(now, flight_size, mss))
    }
    fn on_fast_retransmit(&mut self, now: Instant, flight_size: u32, mss: u32) {
        delegate!(self, cc => cc.on_fast_retransmit(now, flight_size, mss))
    }
    fn on_sack_recovery(&mut self, now: Instant, flight_size: u32, mss: u32) {
        delegate!(self, cc => cc.on_sack_recovery(now, flight_size, mss))
    }
    fn on_recovery_dup_ack(&mut self, mss: u32) {
        delegate!(self, cc => cc.on_recovery_dup_ack(mss))
    }
    fn on_ecn_echo(&mut self, now: Instant, cwnd: u32, mss: u32) {
        delegate!(self, cc => cc.on_ecn_echo(now, cwnd, mss))
    }
    fn on_partial_ack(&mut self, bytes_acked: u32, mss: u32) {
        delegate!(self, cc => cc.on_partial_ack(bytes_acked, mss))
    }
    fn on_recovery_exit(&mut self, flight_size: u32, mss: u32) {
        delegate!(self, cc => cc.on_recovery_exit(flight_size, mss))
    }
    fn on_spurious_recovery(&mut self, prior_cwnd: u32, prior_ssthresh: u32) {
        delegate!(self, cc => cc.on_spurious_recovery(prior_cwnd, prior_ssthresh))
    }
    fn on_idle_restart(&mut self, restart_window: u32) {
        delegate!(self, cc => cc.on_idle_restart(restart_window))
    }
    fn on_delivery(&mut self, now: Instant, delivery: &Delivery) {
        delegate!(self, cc => cc.on_delivery(now, delivery))
    }
    fn pacing_rate(&self, srtt: Option<Duration>) -> Option<u64> {
        delegate!(self, cc => cc.pacing_rate(srtt))
    }
    fn in_slow_start(&self) -> bool {
        delegate!(self, cc => cc.in_slow_start())
    }
    fn controls_recovery_window(&self) -> bool {
        delegate!(self, cc => cc.controls_recovery_window())
    }
    fn reduces_from_cwnd(&self) -> bool {
        delegate!(self, cc => cc.reduces_from_cwnd())
    }
}

#[cfg(test)]
mod tests;
