//! RACK (RFC 8985 §6): time-based loss detection for the sending side, with SACK.
//!
//! The sender keeps a transmission log: one record per segment (or TSO super-segment)
//! it sent, covering `[SND.UNA, SND.MAX)` without gaps, each with the time it was last
//! sent and whether it was SACKed, deemed lost, or retransmitted. Records split where
//! a SACK block or a retransmission begins or ends, so each record is SACKed whole or
//! not at all. From the log RACK learns, on every ACK, the send time of the most
//! recently sent segment the peer has (RACK.xmit_ts, §6.2 step 2); any segment sent
//! more than RACK.rtt + RACK.reo_wnd before it and still not delivered is lost (§6.2
//! step 5), and when a segment is not yet that old the reordering timer (§6.3) fires
//! when it will be. The reordering window starts at zero (DupThresh behaviour, §6.2
//! step 4) until reordering is seen, then is a quarter of the minimum RTT, widened for
//! each round in which the peer reports a D-SACK (RFC 2883) and narrowed again after
//! 16 recoveries without one.
//!
//! Loss marks replace RFC 6675's IsLost() (DupThresh counting) once the peer SACKs:
//! pipe counts what is neither SACKed nor lost-and-not-retransmitted (RFC 8985 §6 with
//! RFC 6675 §4 SetPipe), NextSeg resends the lost records in sequence order, and a
//! retransmission that is itself older than the newest delivered segment is lost again
//! (§6.2: retransmissions are ordinary segments with a new send time).
//!
//! The log lives behind an `Option<Box<_>>` that is allocated when data is first sent
//! on a connection that negotiated SACK; its records are freed as they are
//! acknowledged. When a connection is over, the stack hands its box (emptied) to the
//! next connection that takes the slot's memory, so churn does not allocate a log
//! per connection.

use super::{Connection, Env};
use crate::cc::CongestionControl;
use crate::seq::Seq;
use crate::time::Instant;
use alloc::boxed::Box;
use alloc::collections::VecDeque;
use synack_wire::TcpRepr;

/// The peer SACKed the record.
const SACKED: u8 = 1;
/// RACK deemed the record lost and it was not sent again since.
const LOST: u8 = 2;
/// The record was retransmitted (its time is the retransmission's).
const RETRANS: u8 = 4;
/// The record was sent more than once, or its delivery state was forgotten (an RTO
/// clears `RETRANS`, reneging clears `SACKED`): its send time can no longer time an
/// ACK (Karn's rule, RFC 6298 §3). Never cleared.
const AMBIGUOUS: u8 = 8;

/// D-SACK rounds that keep a widened reordering window (RFC 8985 §6.2 step 4).
const REO_WND_PERSIST: u8 = 16;

/// Floor of a non-zero reordering window, microseconds: the timer granularity RFC 8985
/// §6.2 leaves to the sender (Linux's comes from its clock tick and the 2-jiffy floor of
/// its reordering timer). Without it a path with a microsecond RTT would have no
/// window at all and take every reordering for loss.
const REO_WND_MIN_US: u64 = 1_000;

/// Largest multiplier of the reordering window (RFC 8985 §6.2 step 4 bounds it by
/// SRTT anyway).
const REO_WND_MULT_MAX: u8 = 32;

/// Records from which a cumulative ACK takes the plain leading ones in one pass
/// (`Rack::take_plain`); a short log goes through the general loop alone.
const PLAIN_RUN_MIN: usize = 8;

/// Most records a spare log keeps room for ([`Connection::take_rack_for_reuse`]): a
/// short exchange's log (a connection that never sends data holds its spare, so it
/// stays small: 128 bytes of records).
const SPARE_LOG_RECORDS: usize = 8;

/// One transmission: the record covers `[previous record's end, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TxRec {
    /// First sequence number after the record.
    end: Seq,
    /// When the record was last sent, microseconds of engine time.
    xmit: u64,
    /// `SACKED`, `LOST`, `RETRANS`.
    flags: u8,
}

/// RFC 8985 §6.2 RACK_sent_after(t1, seq1, t2, seq2).
fn sent_after(t1: u64, seq1: Seq, t2: u64, seq2: Seq) -> bool {
    t1 > t2 || (t1 == t2 && seq1 > seq2)
}

/// What loss detection found on one run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Detected {
    /// Records newly deemed lost.
    pub(crate) lost: u32,
    /// Of those, records that were retransmissions.
    pub(crate) lost_retransmissions: u32,
    /// Bytes in the records newly deemed lost.
    pub(crate) lost_bytes: u32,
}

/// What a recovery may have to undo (RFC 2883 §5, RFC 3522, Linux's undo_marker).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Undo {
    /// cwnd before the reduction.
    prior_cwnd: u32,
    /// ssthresh before the reduction.
    prior_ssthresh: u32,
    /// SND.UNA when recovery began: D-SACKs at or above it report this recovery's
    /// retransmissions.
    marker: Seq,
    /// Retransmitted segments not yet reported as duplicates.
    retrans: u32,
    /// Whether anything was retransmitted.
    any: bool,
    /// TSval of the first retransmission (timestamps only).
    first_rtx_ts: Option<u32>,
}

impl Undo {
    /// RFC 3522 §3.2 (Eifel): an ACK echoing `tsecr`, older than the first
    /// retransmission's TSval, was sent for the original: it arrived.
    fn eifel(&self, tsecr: Option<u32>) -> bool {
        matches!((self.first_rtx_ts, tsecr), (Some(first), Some(ecr))
            if ecr != 0 && (ecr.wrapping_sub(first) as i32) < 0)
    }
}

/// The transmission log and RACK's variables (RFC 8985 §6.1).
#[derive(Debug, Clone)]
pub(crate) struct Rack {
    /// Records from SND.UNA up, in sequence order.
    log: VecDeque<TxRec>,
    /// Start of the first record (SND.UNA once acknowledgments are processed).
    start: Seq,
    /// Bytes in records marked `LOST` (neither SACKed nor sent again).
    lost_out: u32,
    /// RACK.xmit_ts: send time of the most recently sent segment delivered.
    xmit: u64,
    /// RACK.end_seq: its end.
    end_seq: Seq,
    /// RACK.rtt, microseconds: the RTT of the last segment an ACK delivered, as
    /// Linux keeps it (see [`Rack::update`]).
    rtt: u64,
    /// RACK.fack: the highest end of any segment delivered.
    fack: Seq,
    /// RACK.min_RTT, microseconds (`u64::MAX` until measured).
    min_rtt: u64,
    /// RACK.reordering_seen.
    reordering_seen: bool,
    /// RACK.reo_wnd_mult.
    reo_wnd_mult: u8,
    /// RACK.reo_wnd_persist.
    reo_wnd_persist: u8,
    /// RACK.dsack_round: SND.NXT when the last counted D-SACK arrived.
    dsack_round: Option<Seq>,
    /// ACKs that carried a D-SACK block (for `ConnStats::dsacks_received`).
    pub(crate) dsacks: u32,
    /// Recoveries undone as spurious (for `ConnStats::spurious_recoveries`).
    pub(crate) undone: u32,
    /// The last recovery's undo record, until the next one or an RTO.
    undo: Option<Undo>,
    /// A segment was delivered since RACK was created (xmit/end_seq/rtt are valid).
    valid: bool,
    /// The reordering timer (RFC 8985 §6.3).
    pub(crate) reo_at: Option<Instant>,
    /// RTT samples of the ACK being processed, from the log's send times (RFC 6298 §3
    /// with Karn's rule per record; see [`Rack::ack_rtt`]).
    ack: AckTimes,
}

/// Send times of what one ACK newly delivered, among records never retransmitted
/// (Linux's `first_ackt`/`last_ackt` and `first_sackt`/`last_sackt`).
#[derive(Debug, Clone, Copy, Default)]
struct AckTimes {
    /// Lowest and latest send time among the newly cumulatively acknowledged records.
    acked: Option<(u64, u64)>,
    /// A retransmitted record was cumulatively acknowledged: Karn's rule (RFC 6298
    /// §3) forbids the cumulative sample, which may answer either copy.
    acked_rtx: bool,
    /// The same for the newly SACKed records.
    sacked: Option<(u64, u64)>,
    /// RTT of the last record this ACK newly acknowledged cumulatively (in sequence
    /// order) that may time RACK: it becomes RACK.rtt once the ACK's SACK blocks
    /// are taken ([`Rack::end_ack`]).
    cum_rtt: Option<u64>,
}

impl AckTimes {
    fn note(slot: &mut Option<(u64, u64)>, xmit: u64) {
        *slot = Some(match *slot {
            None => (xmit, xmit),
            Some((first, last)) => (first, last.max(xmit)),
        });
    }
}

/// RTT samples one ACK gave, from per-record send times (see [`Rack::ack_rtt`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AckRtt {
    /// For SRTT and RTTVAR (RFC 6298 §2): from the earliest newly delivered record,
    /// as a timestamp echo would measure it (RFC 7323 §4.3 echoes the oldest).
    pub(crate) srtt_us: u64,
    /// For the congestion controller's minimum RTT: from the most recently sent one.
    pub(crate) ca_us: u64,
}

impl Rack {
    /// A log starting at `start`; `min_rtt_us` is an RTT already measured (the
    /// handshake's), if any, as the first RACK.min_RTT.
    pub(crate) fn new(start: Seq, min_rtt_us: Option<u64>) -> Rack {
        Rack {
            log: VecDeque::new(),
            start,
            lost_out: 0,
            xmit: 0,
            end_seq: start,
            rtt: 0,
            fack: start,
            min_rtt: min_rtt_us.map_or(u64::MAX, |m| m.max(1)),
            reordering_seen: false,
            reo_wnd_mult: 1,
            reo_wnd_persist: 0,
            dsack_round: None,
            dsacks: 0,
            undone: 0,
            undo: None,
            valid: false,
            reo_at: None,
            ack: AckTimes::default(),
        }
    }

    /// This (emptied) box as [`Rack::new`] would make it, keeping the log's memory.
    fn reuse(mut self: Box<Rack>, start: Seq, min_rtt_us: Option<u64>) -> Box<Rack> {
        let mut log = core::mem::take(&mut self.log);
        log.clear();
        *self = Rack {
            log,
            ..Rack::new(start, min_rtt_us)
        };
        self
    }

    /// A new ACK's processing begins: forget the last one's samples.
    pub(crate) fn begin_ack(&mut self) {
        self.ack = AckTimes::default();
    }

    /// The RTT this ACK measured at `now_us`, from the send times of the records it
    /// newly delivered that were never retransmitted, so no sample can answer an
    /// earlier copy or include a backoff (RFC 6298 §3, Karn's rule, applied per
    /// record as Linux's `tcp_ack_update_rtt` does): the cumulatively acknowledged
    /// ones first (unless a retransmitted record was among them), else the newly
    /// SACKed ones. During recovery, when SND.UNA waits on a hole for a round trip
    /// or more, the SACKs still time every round.
    pub(crate) fn ack_rtt(&self, now_us: u64) -> Option<AckRtt> {
        let (first, last) = match (self.ack.acked, self.ack.sacked) {
            (Some(a), _) if !self.ack.acked_rtx => a,
            (_, Some(s)) => s,
            _ => return None,
        };
        Some(AckRtt {
            srtt_us: now_us.checked_sub(first)?,
            ca_us: now_us.checked_sub(last)?,
        })
    }

    /// End of the last record (SND.MAX as far as the log knows).
    fn log_end(&self) -> Seq {
        self.log.back().map_or(self.start, |r| r.end)
    }

    /// Start of record `i`.
    fn rec_start(&self, i: usize) -> Seq {
        if i == 0 {
            self.start
        } else {
            self.log[i - 1].end
        }
    }

    /// Make `at` a record boundary (when it lies inside a record); returns the index
    /// of the first record starting at or after `at`.
    fn split(&mut self, at: Seq) -> usize {
        let i = self.log.partition_point(|r| r.end <= at);
        if i < self.log.len() && self.rec_start(i) < at {
            let mut first = self.log[i];
            first.end = at;
            self.log.insert(i, first);
            return i + 1;
        }
        i
    }

    /// A segment `[seq, end)` left at `now_us`; `retransmission` when it was sent
    /// before.
    #[inline]
    pub(crate) fn on_send(&mut self, seq: Seq, end: Seq, now_us: u64) {
        if self.log.is_empty() {
            self.start = self.start.max(seq);
        }
        let log_end = self.log_end();
        // The part below the log's end was sent before: a retransmission.
        if seq < log_end && end > self.start {
            self.on_resend(seq, end, log_end, now_us);
        }
        if end > log_end {
            if seq > log_end {
                // Never expected (data leaves from SND.NXT ≤ SND.MAX); keep the log
                // contiguous.
                self.log.push_back(TxRec {
                    end: seq,
                    xmit: now_us,
                    flags: 0,
                });
            }
            self.log.push_back(TxRec {
                end,
                xmit: now_us,
                flags: 0,
            });
        }
    }

    /// The part of `[seq, end)` below `log_end` went out again at `now_us`.
    #[inline(never)]
    fn on_resend(&mut self, seq: Seq, end: Seq, log_end: Seq, now_us: u64) {
        let from = self.split(seq.max(self.start));
        let to = self.split(end.min(log_end));
        // Sent again: no longer lost (per record, not a rescan of the whole log:
        // this runs for every retransmission in recovery).
        let mut s = self.rec_start(from);
        let mut resent_lost = 0u32;
        for r in self.log.range_mut(from..to) {
            if r.flags & LOST != 0 {
                resent_lost = resent_lost.saturating_add(r.end.since(s));
            }
            if r.flags & SACKED == 0 {
                r.flags = RETRANS | AMBIGUOUS;
                r.xmit = now_us;
            }
            s = r.end;
        }
        self.lost_out = self.lost_out.saturating_sub(resent_lost);
    }

    /// RFC 8985 §6.2 steps 2 and 3 for one newly delivered record. Returns false if
    /// the record may not time RACK (a retransmission answered too soon).
    fn update(&mut self, rec: TxRec, now_us: u64) -> bool {
        let rtt = now_us.saturating_sub(rec.xmit);
        if rec.flags & RETRANS != 0 && rtt < self.min_rtt {
            // Step 2: an ACK sooner than any RTT seen after a retransmission answers
            // the original transmission (RFC 8985 §6.2). The step's other test, an
            // echo (TSecr) older than the retransmission, is left out as Linux's
            // tcp_rack_advance leaves it out: a receiver updates TS.Recent only from
            // segments at its left edge (RFC 7323 §4.3), so every SACK of a
            // retransmission beyond the first hole echoes an older TSval and the test
            // would hide it, and with it the retransmissions lost before it. Tried in
            // the eighth session: CUBIC on the simulated P1 fell from 65 to 29 Mbit/s
            // (its 73 lost retransmissions went undetected until an RTO).
            return false;
        }
        if rec.flags & RETRANS == 0 {
            self.min_rtt = self.min_rtt.min(rtt.max(1));
            // Step 3: a segment never retransmitted delivered below one delivered
            // earlier: the network reordered them.
            if self.valid && rec.end < self.fack {
                self.reordering_seen = true;
            }
        }
        if rec.end > self.fack {
            self.fack = rec.end;
        }
        // RACK.rtt is the RTT of the last segment delivered, in Linux's order (an
        // ACK's SACKed segments in sequence order, then its cumulatively
        // acknowledged ones: `tcp_rack_advance` sets `rack.rtt_us` on every call),
        // not only of one sent after RACK.xmit_ts as RFC 8985 §6.2 step 2 has it.
        // Where the network reorders, a late segment that fills a hole brings its
        // own, longer RTT, and segments sent just before the latest delivered one
        // are given that much longer to arrive: on a path with 20 ms of jitter the
        // RFC's shortest recent RTT marked segments lost that were already
        // delivered (the simulated P5 and its real-time twin).
        self.rtt = rtt;
        if !self.valid || sent_after(rec.xmit, rec.end, self.xmit, self.end_seq) {
            self.xmit = rec.xmit;
            self.end_seq = rec.end;
            self.valid = true;
        }
        true
    }

    /// The ACK's records are all taken: a cumulatively acknowledged one sets RACK.rtt
    /// last, as Linux processes the cumulative part of an ACK after its SACK blocks.
    pub(crate) fn end_ack(&mut self) {
        if let Some(rtt) = self.ack.cum_rtt {
            self.rtt = rtt;
        }
    }

    /// SND.UNA moved to `una`: records below it are delivered (those not SACKed
    /// before count for RACK now) and leave the log.
    pub(crate) fn on_cum_ack(&mut self, una: Seq, now_us: u64) {
        if una <= self.start {
            return;
        }
        if self.log.len() >= PLAIN_RUN_MIN {
            self.take_plain(una, now_us);
        }
        while let Some(&front) = self.log.front() {
            let r = if front.end <= una {
                self.log.pop_front();
                front
            } else if self.start < una {
                // A record acknowledged in part delivered that part only: split it, so
                // the delivered end is SND.UNA, not the record's end (which would pass
                // for a high fack and make the rest look reordered). The rest stays,
                // starting at SND.UNA.
                TxRec { end: una, ..front }
            } else {
                break;
            };
            if r.flags & LOST != 0 {
                self.lost_out = self.lost_out.saturating_sub(r.end.since(self.start));
            }
            if r.flags & AMBIGUOUS != 0 {
                self.ack.acked_rtx = true;
            } else if r.flags & SACKED == 0 {
                AckTimes::note(&mut self.ack.acked, r.xmit);
            }
            if r.flags & SACKED == 0 && self.update(r, now_us) {
                self.ack.cum_rtt = Some(self.rtt);
            }
            self.start = r.end;
        }
        self.start = self.start.max(una);
        if self.log.is_empty() && self.log.capacity() > 64 {
            self.log.shrink_to(16);
        }
    }

    /// The first part of [`Rack::on_cum_ack`] on a long log (a stretch ACK of bulk
    /// data): the leading records wholly below `una` that were sent once and never
    /// marked (flags 0) leave the log with the same effect as in the general loop
    /// there (one [`AckTimes::note`] and one [`Rack::update`] each, in order),
    /// computed in locals.
    #[inline(never)]
    fn take_plain(&mut self, una: Seq, now_us: u64) {
        let mut n = 0;
        let mut acked = self.ack.acked;
        let (mut min_rtt, mut fack, mut valid) = (self.min_rtt, self.fack, self.valid);
        let (mut xmit, mut end_seq, mut rtt) = (self.xmit, self.end_seq, self.rtt);
        let mut reordering_seen = self.reordering_seen;
        let mut start = self.start;
        let (a, b) = self.log.as_slices();
        for r in a.iter().chain(b) {
            if r.end > una || r.flags != 0 {
                break;
            }
            n += 1;
            AckTimes::note(&mut acked, r.xmit);
            // `update` for a record never retransmitted.
            let r_rtt = now_us.saturating_sub(r.xmit);
            min_rtt = min_rtt.min(r_rtt.max(1));
            if valid && r.end < fack {
                reordering_seen = true;
            }
            if r.end > fack {
                fack = r.end;
            }
            rtt = r_rtt;
            if !valid || sent_after(r.xmit, r.end, xmit, end_seq) {
                xmit = r.xmit;
                end_seq = r.end;
                valid = true;
            }
            start = r.end;
        }
        if n == 0 {
            return;
        }
        self.log.drain(..n);
        self.ack.acked = acked;
        (self.min_rtt, self.fack, self.valid) = (min_rtt, fack, valid);
        (self.xmit, self.end_seq, self.rtt) = (xmit, end_seq, rtt);
        self.ack.cum_rtt = Some(rtt);
        self.reordering_seen = reordering_seen;
        self.start = start;
    }

    /// The peer SACKed `[left, right)` (already clipped to `[SND.UNA, SND.MAX)`).
    pub(crate) fn on_sack(&mut self, left: Seq, right: Seq, now_us: u64) {
        if right <= left || right <= self.start || left >= self.log_end() {
            return;
        }
        let from = self.split(left.max(self.start));
        let to = self.split(right.min(self.log_end()));
        for i in from..to {
            let r = self.log[i];
            if r.flags & SACKED != 0 {
                continue;
            }
            if r.flags & LOST != 0 {
                let len = r.end.since(self.rec_start(i));
                self.lost_out = self.lost_out.saturating_sub(len);
            }
            self.log[i].flags = SACKED;
            if r.flags & AMBIGUOUS == 0 {
                AckTimes::note(&mut self.ack.sacked, r.xmit);
            }
            self.update(r, now_us);
        }
    }

    /// RFC 8985 §6.2 step 4: a D-SACK arrived (`snd_nxt` is SND.NXT now).
    pub(crate) fn on_dsack(&mut self, snd_una: Seq, snd_nxt: Seq) {
        if self.dsack_round.is_some_and(|r| snd_una >= r) {
            self.dsack_round = None;
        }
        if self.dsack_round.is_none() {
            self.dsack_round = Some(snd_nxt);
            self.reo_wnd_mult = (self.reo_wnd_mult + 1).min(REO_WND_MULT_MAX);
            self.reo_wnd_persist = REO_WND_PERSIST;
            // A D-SACK shows a spurious retransmission: reordering (or delay), not loss.
            self.reordering_seen = true;
        }
    }

    /// RFC 8985 §6.2 step 4: leaving fast or RTO recovery.
    pub(crate) fn on_recovery_exit(&mut self) {
        self.reo_wnd_persist = self.reo_wnd_persist.saturating_sub(1);
        if self.reo_wnd_persist == 0 {
            self.reo_wnd_mult = 1;
        }
    }

    /// RFC 8985 §6.2 step 4 RACK_update_reo_wnd(), microseconds. `in_recovery`: fast
    /// or RTO recovery; `dupthresh`: the SACKed data reaches DupThresh.
    pub(crate) fn reo_wnd(&self, srtt_us: u64, in_recovery: bool, dupthresh: bool) -> u64 {
        if !self.reordering_seen && (in_recovery || dupthresh) {
            return 0;
        }
        let base = if self.min_rtt == u64::MAX {
            srtt_us
        } else {
            self.min_rtt
        };
        (u64::from(self.reo_wnd_mult) * base / 4)
            .min(srtt_us)
            .max(REO_WND_MIN_US)
    }

    /// RFC 8985 §6.2 step 5 RACK_detect_loss(): mark what is lost; returns what was
    /// found and the time the reordering timer should fire, if any.
    pub(crate) fn detect_loss(&mut self, now_us: u64, reo_wnd: u64) -> (Detected, Option<u64>) {
        let mut found = Detected::default();
        if !self.valid {
            return (found, None);
        }
        let mut timeout: Option<u64> = None;
        let mut s = self.start;
        for r in self.log.iter_mut() {
            let len = r.end.since(s);
            s = r.end;
            if r.flags & (SACKED | LOST) != 0 {
                continue;
            }
            if !sent_after(self.xmit, self.end_seq, r.xmit, r.end) {
                if r.flags & RETRANS == 0 {
                    // Sent after RACK.xmit_ts, and so is everything above that was
                    // never retransmitted; later retransmissions are later still.
                    break;
                }
                continue;
            }
            let due = r.xmit.saturating_add(self.rtt).saturating_add(reo_wnd);
            if due <= now_us {
                found.lost += 1;
                found.lost_bytes = found.lost_bytes.saturating_add(len);
                if r.flags & RETRANS != 0 {
                    found.lost_retransmissions += 1;
                }
                r.flags = LOST | (r.flags & AMBIGUOUS);
                self.lost_out = self.lost_out.saturating_add(len);
            } else {
                timeout = Some(timeout.map_or(due, |t: u64| t.max(due)));
            }
        }
        (found, timeout)
    }

    /// The first record deemed lost and not yet sent again: `[start, end)`.
    pub(crate) fn next_lost(&self) -> Option<(Seq, Seq)> {
        if self.lost_out == 0 {
            return None;
        }
        let mut s = self.start;
        for r in &self.log {
            if r.flags & LOST != 0 {
                return Some((s, r.end));
            }
            s = r.end;
        }
        None
    }

    /// Bytes deemed lost and not yet sent again.
    pub(crate) fn lost_out(&self) -> u32 {
        self.lost_out
    }

    /// A retransmission timeout: go-back-N resends everything unSACKed, so the lost
    /// and retransmitted marks start over.
    pub(crate) fn on_rto(&mut self) {
        for r in self.log.iter_mut() {
            r.flags &= SACKED | AMBIGUOUS;
        }
        self.lost_out = 0;
        self.reo_at = None;
        self.undo = None;
    }

    /// The peer reneged (RFC 2018 §8): forget the SACK marks.
    pub(crate) fn forget_sacks(&mut self) {
        for r in self.log.iter_mut() {
            r.flags = AMBIGUOUS;
        }
        self.lost_out = 0;
    }

    /// Whether a retransmitted record is neither acknowledged nor SACKed yet (Linux's
    /// `retrans_out` is not zero). The log starts at SND.UNA.
    pub(crate) fn retrans_outstanding(&self) -> bool {
        self.log
            .iter()
            .any(|r| r.flags & RETRANS != 0 && r.flags & SACKED == 0)
    }

    /// Records in the log (for tests).
    #[cfg(test)]
    fn records(&self) -> alloc::vec::Vec<(u32, u32, u64, u8)> {
        let mut s = self.start;
        self.log
            .iter()
            .map(|r| {
                let out = (s.0, r.end.0, r.xmit, r.flags);
                s = r.end;
                out
            })
            .collect()
    }
}

/// True if the first SACK block of `seg` is a D-SACK (RFC 2883 §4): below the
/// cumulative ACK, or inside the second block.
pub(crate) fn has_dsack(seg: &TcpRepr) -> bool {
    let mut blocks = seg.options.sack_blocks().iter();
    let Some(first) = blocks.next() else {
        return false;
    };
    let (l, r) = (Seq(first.left), Seq(first.right));
    if r <= Seq(seg.ack) && l < r {
        return true;
    }
    blocks
        .next()
        .is_some_and(|b| Seq(b.left) <= l && r <= Seq(b.right) && l < r)
}

impl Connection {
    /// The first data segment with SACK: the log starts at SND.UNA, in the box a
    /// finished connection left ([`Connection::take_rack_for_reuse`]) if there is one.
    #[cold]
    fn start_rack(&mut self) {
        let una = self.snd_una;
        let min_rtt = self.rtt.latest().map(|d| d.as_micros() as u64);
        self.rack = Some(match self.rack_spare.take() {
            Some(b) => b.reuse(una, min_rtt),
            None => Box::new(Rack::new(una, min_rtt)),
        });
    }

    /// Take the RACK box of a connection that is over (its slot's box goes to the
    /// next connection), emptied for reuse: churned connections then allocate no log
    /// of their own. A log grown past [`SPARE_LOG_RECORDS`] is not kept.
    pub(crate) fn take_rack_for_reuse(&mut self) -> Option<Box<Rack>> {
        let mut b = self.rack.take().or_else(|| self.rack_spare.take())?;
        if b.log.capacity() > SPARE_LOG_RECORDS {
            b.log = VecDeque::new();
        }
        Some(b)
    }

    /// RACK.reordering_seen (RFC 8985 §6.2 step 3): the network has reordered this
    /// connection's data.
    pub(crate) fn rack_reordering_seen(&self) -> bool {
        self.rack.as_deref().is_some_and(|r| r.reordering_seen)
    }

    /// True when RACK decides losses (the peer negotiated SACK and has sent SACK
    /// blocks, so RFC 6675's DupThresh counting is replaced).
    pub(crate) fn rack_mode(&self) -> bool {
        self.rack.is_some() && self.sb.is_some()
    }

    /// A data segment `[seq, end)` went out (new or again).
    pub(crate) fn rack_on_send(&mut self, now: Instant, seq: Seq, end: Seq, retransmission: bool) {
        if !self.sack_ok || end <= seq {
            return;
        }
        if self.rack.is_none() {
            self.start_rack();
        }
        let ts = (retransmission && self.ts_ok).then(|| self.ts_now(now));
        let mss = u32::from(self.mss).max(1);
        let Some(rack) = self.rack.as_deref_mut() else {
            return;
        };
        rack.on_send(seq, end, now.total_micros());
        if retransmission {
            if let Some(u) = rack.undo.as_mut() {
                u.retrans = u.retrans.saturating_add(end.since(seq).div_ceil(mss));
                u.any = true;
                if u.first_rtx_ts.is_none() {
                    u.first_rtx_ts = ts;
                }
            }
        }
    }

    /// Recovery begins (SACK-based): remember what a spurious one must restore.
    pub(crate) fn rack_on_recovery_start(&mut self) {
        let (cwnd, ssthresh, una) = (self.cc.cwnd(), self.cc.ssthresh(), self.snd_una);
        if let Some(rack) = self.rack.as_deref_mut() {
            rack.undo = Some(Undo {
                prior_cwnd: cwnd,
                prior_ssthresh: ssthresh,
                marker: una,
                retrans: 0,
                any: false,
                first_rtx_ts: None,
            });
        }
    }

    /// Recovery ended with a full ACK echoing `tsecr`: undo it if every retransmission
    /// was reported a duplicate already, or (RFC 3522 §3.2, Eifel) the ACK echoes a
    /// timestamp older than the first retransmission's: the original arrived.
    pub(crate) fn rack_on_recovery_exit(&mut self, tsecr: Option<u32>) {
        let Some(u) = self.rack.as_deref().and_then(|r| r.undo) else {
            return;
        };
        if u.any && (u.retrans == 0 || u.eifel(tsecr)) {
            self.rack_undo();
        }
    }

    /// A partial ACK in SACK-based recovery, echoing `tsecr`, shows the recovery
    /// spurious (RFC 3522 §3.2, Eifel: the first ACK to acknowledge a retransmission
    /// echoes a timestamp older than it, so the original arrived) and nothing is left
    /// to repair: no retransmission is outstanding and nothing else is deemed lost.
    /// Then recovery ends there and is undone, as Linux's `tcp_try_undo_partial`
    /// does. Without it a reordered initial window (P5's jitter), whose D-SACKs were
    /// lost to the reordering of the ACKs that carried them (PAWS drops an ACK older
    /// than the last), left CUBIC at a window of eight segments for seconds.
    pub(crate) fn rack_partial_ack_undoes(&self, tsecr: Option<u32>) -> bool {
        let Some(rack) = self.rack.as_deref() else {
            return false;
        };
        let Some(u) = rack.undo else {
            return false;
        };
        u.any && u.eifel(tsecr) && rack.lost_out() == 0 && !rack.retrans_outstanding()
    }

    /// Restore the window a spurious recovery reduced.
    fn rack_undo(&mut self) {
        let Some(rack) = self.rack.as_deref_mut() else {
            return;
        };
        let Some(u) = rack.undo.take() else {
            return;
        };
        rack.undone = rack.undone.saturating_add(1);
        // A spurious retransmission means the network reordered (or delayed) data.
        rack.reordering_seen = true;
        self.cc.on_spurious_recovery(u.prior_cwnd, u.prior_ssthresh);
    }

    /// A D-SACK `[left, right)` arrived: the segments it covers were sent twice and
    /// both copies arrived (RFC 2883 §5). Once every retransmission of the last
    /// recovery is reported so, it was spurious: undo it (after it ended).
    fn rack_on_dsack_block(&mut self, left: Seq, right: Seq) {
        let mss = u32::from(self.mss).max(1);
        let in_recovery = self.in_recovery;
        let Some(u) = self.rack.as_deref_mut().and_then(|r| r.undo.as_mut()) else {
            return;
        };
        if left < u.marker || right <= left || !u.any {
            return;
        }
        u.retrans = u.retrans.saturating_sub(right.since(left).div_ceil(mss));
        if u.retrans == 0 && !in_recovery {
            self.rack_undo();
        }
    }

    /// RFC 8985 §6.2 steps 4–5 on an acceptable ACK, after SND.UNA and the scoreboard
    /// were updated (and [`Connection::rack_log_ack`] noted what it delivered): adapt
    /// the reordering window to a D-SACK, mark losses and arm the reordering timer.
    /// Returns what was found.
    #[inline]
    pub(crate) fn rack_on_ack(&mut self, env: &mut Env<'_>, seg: &TcpRepr) -> Detected {
        if self.sb.is_none() && seg.options.sack_blocks().is_empty() {
            // No D-SACK to note and no SACK seen yet (so not `rack_mode`): nothing to
            // detect.
            return Detected::default();
        }
        self.rack_on_sack_ack(env, seg)
    }

    /// [`Connection::rack_on_ack`] for an ACK with SACK blocks, or once the peer has
    /// SACKed.
    #[inline(never)]
    fn rack_on_sack_ack(&mut self, env: &mut Env<'_>, seg: &TcpRepr) -> Detected {
        let (una, nxt) = (self.snd_una, self.snd_nxt);
        let dsack = self.sack_ok && has_dsack(seg);
        let Some(rack) = self.rack.as_deref_mut() else {
            return Detected::default();
        };
        if dsack {
            rack.on_dsack(una, nxt);
            rack.dsacks = rack.dsacks.saturating_add(1);
            if let Some(b) = seg.options.sack_blocks().first() {
                self.rack_on_dsack_block(Seq(b.left), Seq(b.right));
            }
        }
        self.rack_detect(env)
    }

    /// RFC 8985 §6.2 steps 1–3 for an acceptable ACK of `seg_ack`, before SND.UNA
    /// moves: the log takes what the ACK delivered (cumulatively and by SACK) and
    /// times it, so the RTT sample ([`Rack::ack_rtt`]) is known when the ACK's other
    /// processing needs it.
    #[inline]
    pub(crate) fn rack_log_ack(&mut self, env: &Env<'_>, seg: &TcpRepr, seg_ack: Seq) {
        if self.rack.is_some() {
            self.rack_log_delivered(env, seg, seg_ack);
        }
    }

    /// [`Connection::rack_log_ack`] once the log exists.
    #[inline(never)]
    fn rack_log_delivered(&mut self, env: &Env<'_>, seg: &TcpRepr, seg_ack: Seq) {
        let now_us = env.now.total_micros();
        let (una, max) = (self.snd_una.max(seg_ack), self.snd_max);
        let Some(rack) = self.rack.as_deref_mut() else {
            return;
        };
        rack.begin_ack();
        rack.on_cum_ack(una, now_us);
        if self.sack_ok && !seg.options.sack_blocks().is_empty() {
            // In sequence order (as Linux's tcp_sacktag_write_queue sorts them): the
            // order the peer lists its blocks in (most recent first, RFC 2018 §4) is
            // not reordering.
            let mut blocks = [(Seq(0), Seq(0)); 4];
            let mut n = 0;
            for b in seg.options.sack_blocks().iter().take(4) {
                let (l, r) = (Seq(b.left).max(una), Seq(b.right));
                if l < r && r <= max {
                    blocks[n] = (l, r);
                    n += 1;
                }
            }
            let blocks = &mut blocks[..n];
            blocks.sort_unstable_by(|a, b| a.0.diff(b.0).cmp(&0));
            for &(l, r) in blocks.iter() {
                rack.on_sack(l, r, now_us);
            }
        }
        rack.end_ack();
    }

    /// Run RACK_detect_loss() and arm the reordering timer (RFC 8985 §6.2 step 5,
    /// §6.3). Marks count only once the peer has SACKed something (`rack_mode`).
    pub(crate) fn rack_detect(&mut self, env: &mut Env<'_>) -> Detected {
        if !self.rack_mode() {
            return Detected::default();
        }
        let mss = u32::from(self.mss);
        let dupthresh = self.sacked_bytes() > 2 * mss;
        let srtt = self.rtt.srtt_us().unwrap_or(self.rtt.rto_us());
        let in_recovery = self.in_recovery;
        let Some(rack) = self.rack.as_deref_mut() else {
            return Detected::default();
        };
        let reo_wnd = rack.reo_wnd(srtt, in_recovery, dupthresh);
        let now_us = env.now.total_micros();
        let (found, timeout) = rack.detect_loss(now_us, reo_wnd);
        rack.reo_at = timeout.map(Instant::from_micros);
        if found.lost_retransmissions > 0 {
            self.stats.lost_retransmits += found.lost_retransmissions;
        }
        found
    }

    /// The reordering timer fired (RFC 8985 §6.3): detect losses again; enter
    /// recovery if any were found.
    pub(crate) fn rack_on_timeout(&mut self, env: &mut Env<'_>) {
        if let Some(rack) = self.rack.as_deref_mut() {
            rack.reo_at = None;
        }
        let found = self.rack_detect(env);
        if found.lost > 0 && !self.in_recovery {
            self.enter_recovery(env);
        }
    }

    /// The reordering timer's deadline.
    pub(crate) fn rack_deadline(&self) -> Option<Instant> {
        self.rack.as_deref().and_then(|r| r.reo_at)
    }

    /// Bytes RACK deems lost and not yet sent again (0 outside RACK mode).
    pub(crate) fn rack_lost_out(&self) -> u32 {
        match self.rack.as_deref() {
            Some(r) if self.sb.is_some() => r.lost_out(),
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acks_are_timed_from_send_times_of_records_sent_once() {
        let mut r = Rack::new(Seq(0), None);
        r.on_send(Seq(0), Seq(1000), 1_000);
        r.on_send(Seq(1000), Seq(2000), 2_000);
        r.on_send(Seq(2000), Seq(3000), 3_000);
        r.on_send(Seq(3000), Seq(4000), 4_000);
        // A SACK times the earliest and the latest record it newly covers.
        r.begin_ack();
        r.on_sack(Seq(2000), Seq(4000), 50_000);
        let s = r.ack_rtt(50_000).unwrap();
        assert_eq!((s.srtt_us, s.ca_us), (47_000, 46_000));
        // A hole retransmitted and then acknowledged cumulatively: Karn's rule, no
        // sample from the cumulative part, and nothing newly SACKed.
        r.on_send(Seq(0), Seq(1000), 60_000);
        r.begin_ack();
        r.on_cum_ack(Seq(1000), 70_000);
        assert_eq!(r.ack_rtt(70_000), None);
        // A record sent once, acknowledged cumulatively: timed.
        r.begin_ack();
        r.on_cum_ack(Seq(2000), 80_000);
        assert_eq!(r.ack_rtt(80_000).map(|s| s.srtt_us), Some(78_000));
        // After an RTO the retransmitted mark is cleared, but the record stays
        // ambiguous: no sample can include the backoff.
        r.on_send(Seq(4000), Seq(5000), 90_000);
        r.on_send(Seq(4000), Seq(5000), 95_000);
        r.on_rto();
        r.begin_ack();
        r.on_cum_ack(Seq(5000), 3_000_000);
        assert_eq!(r.ack_rtt(3_000_000), None);
    }

    #[test]
    fn records_split_at_sack_edges_and_retransmissions() {
        let mut r = Rack::new(Seq(0), None);
        r.on_send(Seq(0), Seq(3000), 10);
        r.on_send(Seq(3000), Seq(6000), 20);
        r.on_sack(Seq(1000), Seq(2000), 100);
        assert_eq!(
            r.records(),
            vec![
                (0, 1000, 10, 0),
                (1000, 2000, 10, SACKED),
                (2000, 3000, 10, 0),
                (3000, 6000, 20, 0)
            ]
        );
        r.on_send(Seq(3000), Seq(4000), 200);
        assert_eq!(r.records()[3], (3000, 4000, 200, RETRANS | AMBIGUOUS));
        assert_eq!(r.records()[4], (4000, 6000, 20, 0));
        r.on_cum_ack(Seq(2500), 300);
        assert_eq!(r.records()[0], (2500, 3000, 10, 0));
    }

    #[test]
    fn without_reordering_a_hole_below_a_sacked_segment_is_lost_at_once() {
        let mut r = Rack::new(Seq(0), None);
        r.on_send(Seq(0), Seq(1000), 0);
        r.on_send(Seq(1000), Seq(2000), 10);
        r.on_send(Seq(2000), Seq(3000), 20);
        r.on_sack(Seq(1000), Seq(2000), 50_000);
        // No reordering seen, in recovery: reo_wnd = 0.
        let w = r.reo_wnd(50_000, true, false);
        assert_eq!(w, 0);
        let (found, timer) = r.detect_loss(50_000, w);
        assert_eq!(found.lost, 1);
        assert_eq!(timer, None);
        assert_eq!(r.next_lost(), Some((Seq(0), Seq(1000))));
        assert_eq!(r.lost_out(), 1000);
        // Sending it again takes it out of the lost count.
        r.on_send(Seq(0), Seq(1000), 60_000);
        assert_eq!(r.lost_out(), 0);
        assert_eq!(r.next_lost(), None);
    }

    #[test]
    fn a_late_segment_that_fills_a_hole_lends_rack_its_rtt() {
        let mut r = Rack::new(Seq(0), Some(10_000));
        r.on_send(Seq(0), Seq(1000), 0);
        r.on_send(Seq(1000), Seq(2000), 10_000);
        r.on_send(Seq(2000), Seq(3000), 20_000);
        // 2 arrives first, after 20 ms...
        r.begin_ack();
        r.on_sack(Seq(2000), Seq(3000), 40_000);
        r.end_ack();
        // ...then 0, late, after 60 ms; 1 is still missing.
        r.begin_ack();
        r.on_cum_ack(Seq(1000), 60_000);
        r.on_sack(Seq(2000), Seq(3000), 60_000);
        r.end_ack();
        assert!(r.reordering_seen);
        // 1 was sent 10 ms before 2. By 2's RTT it would be overdue since 32.5 ms;
        // RACK.rtt is the last delivered segment's (Linux), 0's 60 ms, so 1 has
        // until 10 + 60 + reo_wnd (min_rtt / 4).
        let w = r.reo_wnd(30_000, false, false);
        assert_eq!(w, 2_500);
        let (found, timer) = r.detect_loss(60_000, w);
        assert_eq!(found.lost, 0);
        assert_eq!(timer, Some(72_500));
        let (found, _) = r.detect_loss(72_500, w);
        assert_eq!(found.lost, 1);
        assert_eq!(r.next_lost(), Some((Seq(1000), Seq(2000))));
    }

    #[test]
    fn reordering_widens_the_window_and_the_timer_waits_it_out() {
        let mut r = Rack::new(Seq(0), None);
        for i in 0..4u32 {
            r.on_send(Seq(i * 1000), Seq(i * 1000 + 1000), u64::from(i) * 100);
        }
        // Segment 1 arrives first, then 0: reordering.
        r.on_sack(Seq(1000), Seq(2000), 40_000);
        r.on_cum_ack(Seq(2000), 40_100);
        assert!(r.reordering_seen);
        // Segment 3 SACKed: 2 was sent 100 µs before it; the window is min_rtt / 4.
        r.on_sack(Seq(3000), Seq(4000), 40_300);
        let w = r.reo_wnd(40_000, false, false);
        assert_eq!(w, r.min_rtt / 4);
        let (found, timer) = r.detect_loss(40_300, w);
        assert_eq!(found.lost, 0);
        let due = timer.expect("the reordering timer is armed");
        assert!(due > 40_300);
        let (found, _) = r.detect_loss(due, w);
        assert_eq!(found.lost, 1);
        assert_eq!(r.next_lost(), Some((Seq(2000), Seq(3000))));
    }

    #[test]
    fn a_lost_retransmission_is_found_by_time() {
        let mut r = Rack::new(Seq(0), None);
        r.on_send(Seq(0), Seq(1000), 0);
        r.on_send(Seq(1000), Seq(2000), 10);
        r.on_sack(Seq(1000), Seq(2000), 40_000);
        r.detect_loss(40_000, 0);
        r.on_send(Seq(0), Seq(1000), 40_100); // retransmission
        r.on_send(Seq(2000), Seq(3000), 40_200); // new data after it
        r.on_sack(Seq(2000), Seq(3000), 80_200);
        let (found, _) = r.detect_loss(80_200, 0);
        assert_eq!(found.lost_retransmissions, 1);
        assert_eq!(r.next_lost(), Some((Seq(0), Seq(1000))));
    }

    #[test]
    fn dsack_rounds_grow_the_window_and_recoveries_shrink_it() {
        let mut r = Rack::new(Seq(0), None);
        r.min_rtt = 40_000;
        r.reordering_seen = true;
        assert_eq!(r.reo_wnd(100_000, false, false), 10_000);
        r.on_dsack(Seq(0), Seq(5000));
        r.on_dsack(Seq(100), Seq(6000)); // same round: not counted
        assert_eq!(r.reo_wnd(100_000, false, false), 20_000);
        r.on_dsack(Seq(5000), Seq(9000)); // next round
        assert_eq!(r.reo_wnd(100_000, false, false), 30_000);
        assert_eq!(r.reo_wnd(25_000, false, false), 25_000, "bounded by SRTT");
        for _ in 0..REO_WND_PERSIST {
            r.on_recovery_exit();
        }
        assert_eq!(r.reo_wnd(100_000, false, false), 10_000);
    }

    #[test]
    fn a_spurious_looking_retransmission_ack_is_not_taken() {
        let mut r = Rack::new(Seq(0), None);
        r.on_send(Seq(0), Seq(1000), 0);
        r.on_send(Seq(1000), Seq(2000), 10);
        r.on_sack(Seq(1000), Seq(2000), 40_010); // min_rtt 40 ms
        r.on_send(Seq(0), Seq(1000), 50_000);
        // Acknowledged 1 ms after the retransmission: the original arrived.
        r.on_cum_ack(Seq(2000), 51_000);
        assert_eq!(r.xmit, 10, "RACK.xmit_ts still the SACKed segment's");
    }
}
