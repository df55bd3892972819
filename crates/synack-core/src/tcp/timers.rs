//! Deadlines: retransmission timeout with backoff and retry limits (RFC 6298 §5,
//! RFC 1122 §4.2.3.5), user timeout (RFC 5482), delayed ACK (RFC 1122 §4.2.3.2), the
//! persist timer (RFC 9293 §3.8.6.1), keep-alive (RFC 1122 §4.2.3.6), TIME-WAIT (2*MSL,
//! RFC 9293 §3.4.2) and the FIN-WAIT-2 timeout.
//!
//! Nothing is held forever: data and FIN retransmissions give up after
//! `Config::retries` (Linux `tcp_retries2`), or `Config::orphan_retries` once the
//! application has closed the connection (Linux `tcp_orphan_retries`); zero-window
//! probes give up after as many unanswered probes (Linux `tcp_probe_timer`: a peer that
//! keeps answering the probes with a zero window keeps the connection open, as RFC 1122
//! §4.2.2.17 requires, unless the user timeout is set; an orphan is dropped even then
//! once its probes have backed off to `rto_max` as many times as its limit). A
//! connection that gives up reports its last ICMP soft error, else `TimedOut` (Linux
//! `tcp_write_err`).

use super::{Connection, Env};
use crate::cc::CongestionControl;
use crate::error::ConnError;
use crate::state::State;
use crate::time::Duration;

/// Linux `TCP_RESOURCE_PROBE_INTERVAL`: the retry interval after a local drop.
const RESOURCE_PROBE_INTERVAL: Duration = Duration::from_millis(500);

/// Linux `TCP_TIMEOUT_MIN` (2 jiffies): the shortest clamped probe interval.
const TIMEOUT_MIN: Duration = Duration::from_millis(2);

impl Connection {
    /// Act on every deadline that is due at `env.now`.
    pub(crate) fn handle_timeout(&mut self, env: &mut Env<'_>) {
        let now = env.now;
        if self.linger_at.is_some_and(|t| t <= now) {
            self.linger_at = None;
            match self.state {
                // RFC 9293 §3.10.8: when the time-wait timeout expires, delete the TCB.
                State::TimeWait | State::FinWait2 => {
                    self.set_state(State::Closed, env);
                    return;
                }
                _ => {}
            }
        }
        if self.rto_at.is_some_and(|t| t <= now) {
            self.rto_at = None;
            self.on_rto(env);
            if self.state == State::Closed {
                return;
            }
        }
        if self.rack_deadline().is_some_and(|t| t <= now) {
            // RFC 8985 §6.3: the reordering timer.
            self.rack_on_timeout(env);
        }
        if self.pace_armed && self.pace_at <= now {
            // The next paced segment may leave (the stack polls the connection).
            self.pace_armed = false;
            self.pace_waited = true;
        }
        if self.delack_at.is_some_and(|t| t <= now) {
            self.delack_at = None;
            self.fastopen_delack_fired();
            self.pend.ack_now = true;
        }
        if self.persist_at.is_some_and(|t| t <= now) {
            self.persist_at = None;
            self.on_persist(env);
        }
        if self.keepalive_at.is_some_and(|t| t <= now) {
            self.keepalive_at = None;
            self.on_keepalive(env);
        }
        self.arm_keepalive(env);
    }

    /// The retransmission timer fired (RFC 6298 §5.4–5.6).
    fn on_rto(&mut self, env: &mut Env<'_>) {
        let now = env.now;
        match self.state {
            State::SynSent | State::SynReceived => {
                self.retries += 1;
                let limit = if self.state == State::SynSent {
                    self.opts.syn_retries
                } else {
                    env.cfg.synack_retries
                };
                if self.retries > limit || self.user_timeout_expired(env) {
                    self.give_up(env);
                    return;
                }
                self.stats.timeouts += 1;
                self.rto_fired_ms = self.rtt.rto().as_millis().min(u128::from(u32::MAX)) as u32;
                self.rtt.backoff();
                self.snd_nxt = self.iss;
                self.rto_at = Some(self.clamp_to_user_timeout(now + self.rtt.rto()));
            }
            State::Closed | State::Listen | State::TimeWait => {}
            _ => {
                if self.snd_una == self.snd_max {
                    return;
                }
                if self.pto_armed {
                    // RFC 8985 §7.3: the probe timeout, not the RTO.
                    self.on_pto(env);
                    return;
                }
                self.retries += 1;
                if self.retries > self.retry_limit(env) || self.user_timeout_expired(env) {
                    self.give_up(env);
                    return;
                }
                self.stats.timeouts += 1;
                let mss = u32::from(self.mss);
                // RFC 5681 §3.1 eq. 4 and RFC 6582 §4: leave recovery, go back to SND.UNA.
                self.cc.on_rto(now, self.flight_size(), mss);
                self.in_recovery = false;
                self.pace_refill = false;
                self.sack_on_rto();
                if let Some(rack) = self.rack.as_deref_mut() {
                    rack.on_rto();
                }
                self.dupacks = 0;
                self.recover = self.snd_max;
                self.snd_nxt = self.snd_una;
                self.rtt_probe = None;
                self.rto_fired_ms = self.rtt.rto().as_millis().min(u128::from(u32::MAX)) as u32;
                self.rtt.backoff();
                self.rto_at = Some(self.clamp_to_user_timeout(now + self.rtt.rto()));
                if env.trace.is_some() {
                    self.trace_congestion(env);
                }
            }
        }
    }

    /// Retransmission timeouts (or unanswered zero-window probes) allowed before the
    /// connection gives up: `Config::retries` (RFC 1122 §4.2.3.5 R2, Linux
    /// `tcp_retries2`), or for an orphan the orphan limit (Linux `tcp_orphan_retries`:
    /// the configured count, where 0 means 8 while the RTO is below its maximum, and
    /// none at all once it is not and an ICMP error said the path is broken).
    pub(crate) fn retry_limit(&self, env: &Env<'_>) -> u32 {
        if !self.orphan {
            return env.cfg.retries;
        }
        let alive = self.rtt.rto() < env.cfg.rto_max;
        match env.cfg.orphan_retries {
            _ if self.soft_error.is_some() && !alive => 0,
            0 if alive => 8,
            n => n,
        }
    }

    /// Give up on the peer (Linux `tcp_write_err`): the connection fails with the
    /// last ICMP soft error it heard, else `TimedOut` (RFC 1122 §4.2.3.9).
    fn give_up(&mut self, env: &mut Env<'_>) {
        let err = self.soft_error.take().unwrap_or(ConnError::TimedOut);
        self.fail(err, env);
    }

    /// RFC 5482: the connection must fail when the user timeout ends, not at the
    /// next backed-off RTO after it (Linux tcp_clamp_rto_to_user_timeout).
    fn clamp_to_user_timeout(&self, at: crate::time::Instant) -> crate::time::Instant {
        match (self.opts.user_timeout, self.stalled_since) {
            (Some(ut), Some(since)) => at.min(since + ut),
            _ => at,
        }
    }

    /// RFC 5482: the user timeout bounds how long sent data may stay unacknowledged.
    fn user_timeout_expired(&self, env: &Env<'_>) -> bool {
        match (self.opts.user_timeout, self.stalled_since) {
            (Some(ut), Some(since)) => env.now.saturating_duration_since(since) >= ut,
            _ => false,
        }
    }

    /// The persist timer fired: probe the zero window (RFC 9293 §3.8.6.1) with
    /// exponential backoff, or, for the SWS override, send what is queued.
    fn on_persist(&mut self, env: &mut Env<'_>) {
        if !self.state.is_synchronized() {
            return;
        }
        if self.snd_wnd == 0 {
            // Linux tcp_probe_timer: give up after as many unanswered probes as
            // retransmissions (an acceptable segment from the peer resets the count,
            // so a peer that answers keeps the connection: RFC 1122 §4.2.2.17).
            let limit = self.retry_limit(env);
            // An orphan is dropped even while the peer answers, once the probe
            // interval has backed off to rto_max and as many times as its limit
            // (tcp_probe_timer on a dead socket): nobody will read what it holds.
            let backed_off = self
                .rtt
                .rto()
                .checked_mul(1u32 << self.persist_backoff.min(10))
                .is_none_or(|w| w >= env.cfg.rto_max);
            let orphan_done = self.orphan && backed_off && u32::from(self.persist_backoff) >= limit;
            if self.user_timeout_expired(env) || u32::from(self.probes_out) >= limit || orphan_done
            {
                self.give_up(env);
                return;
            }
            self.probes_out = self.probes_out.saturating_add(1);
            if self.stalled_since.is_none() {
                self.stalled_since = Some(env.now);
            }
            self.pend.probe_pending = true;
            // Linux tcp_send_probe0: the backoff grows up to tcp_retries2.
            let cap = env.cfg.retries.clamp(1, 16) as u16;
            self.persist_backoff = (self.persist_backoff + 1).min(cap);
            let rto = self.rtt.rto();
            let wait = rto
                .checked_mul(1u32 << self.persist_backoff.min(10))
                .unwrap_or(env.cfg.rto_max)
                .min(env.cfg.rto_max);
            self.persist_at = Some(env.now + wait);
        } else if env.egress_blocked && self.unsent_bytes() > 0 {
            self.on_resource_probe(env);
        } else {
            // SWS override timeout (RFC 9293 §3.8.6.2.1): send a small segment anyway.
            self.pend.force_send = true;
        }
    }

    /// The probe timer fired while the device refuses every packet (stack/egress.rs):
    /// the probe is refused too, so count it and retry in 500 ms (Linux
    /// `tcp_probe_timer` / `tcp_send_probe0` after a local drop,
    /// `TCP_RESOURCE_PROBE_INTERVAL`), no later than the user timeout (RFC 5482),
    /// counted from the first probe (`icsk_probes_tstamp`,
    /// `tcp_clamp_probe0_to_user_timeout`).
    fn on_resource_probe(&mut self, env: &mut Env<'_>) {
        match self.stalled_since {
            None => self.stalled_since = Some(env.now),
            Some(_) if self.user_timeout_expired(env) => {
                self.give_up(env);
                return;
            }
            Some(_) => {}
        }
        if u32::from(self.probes_out) >= self.retry_limit(env) {
            self.give_up(env);
            return;
        }
        self.probes_out = self.probes_out.saturating_add(1);
        let mut wait = RESOURCE_PROBE_INTERVAL;
        if let (Some(ut), Some(since)) = (self.opts.user_timeout, self.stalled_since) {
            let remaining = ut.saturating_sub(env.now.saturating_duration_since(since));
            wait = wait.min(remaining.max(TIMEOUT_MIN));
        }
        self.persist_at = Some(env.now + wait);
    }

    /// Keep-alive timer (RFC 1122 §4.2.3.6).
    fn on_keepalive(&mut self, env: &mut Env<'_>) {
        let Some(ka) = self.opts.keepalive else {
            return;
        };
        if !matches!(self.state, State::Established | State::CloseWait) {
            return;
        }
        let idle = env.now.saturating_duration_since(self.last_recv_at);
        let due = if self.keepalive_probes == 0 {
            ka.idle
        } else {
            ka.interval
        };
        if idle < due && self.keepalive_probes == 0 {
            return; // arm_keepalive reschedules
        }
        if self.keepalive_probes >= ka.count {
            // The peer is gone: tell it, in case it is only silent (Linux
            // tcp_keepalive_timer sends an RST; RFC 1122 §4.2.3.6 leaves it open).
            self.pend.rst_pending = env.cfg.keepalive_rst;
            self.give_up(env);
            return;
        }
        self.keepalive_probes += 1;
        self.pend.keepalive_pending = true;
        self.keepalive_at = Some(env.now + ka.interval);
    }

    /// Make sure the keep-alive deadline is set when keep-alive is on. The deadline is
    /// re-armed lazily: a busy connection is not rescheduled on every segment.
    pub(crate) fn arm_keepalive(&mut self, _env: &mut Env<'_>) {
        match self.opts.keepalive {
            Some(ka) if matches!(self.state, State::Established | State::CloseWait) => {
                if self.keepalive_at.is_none() {
                    self.keepalive_at = Some(self.last_recv_at + ka.idle);
                }
            }
            _ => self.keepalive_at = None,
        }
    }
}
