//! Explicit Congestion Notification (RFC 3168) for one connection, as Linux does
//! classic ECN (`net.ipv4.tcp_ecn`):
//! - negotiation (§6.1.1): an ECN-setup SYN carries ECE and CWR, an ECN-setup SYN-ACK
//!   ECE alone; a SYN sent again after a timeout carries neither (§6.1.1.1, Linux's
//!   `tcp_ecn_fallback`), and a SYN that arrives ECT-marked is not taken as asking;
//! - the sender (§6.1.2): ECT(0) on segments of new data only, never on pure ACKs,
//!   retransmissions (§6.1.5), SYNs or window probes (§6.1.6); an ACK with ECE
//!   reduces the window as a loss would, at most once per window of data, and CWR
//!   goes on the next new data segment;
//! - the receiver (§6.1.3): a CE-marked data segment sets ECE on every segment sent
//!   until a segment with CWR arrives, and is acknowledged at once (Linux enters
//!   quick-ACK mode for two segments: the sender may have a tiny window). Like Linux
//!   (since 5.7) CWR is honoured on pure ACKs too.
//!
//! The per-connection state is one byte of flags in the TCB ([`Connection::ecn`]),
//! tested once per segment; the end of the reduction's window and the counters live
//! in the boxed rarely-used state, allocated at the first congestion signal.

use super::{Connection, Env};
use crate::cc::CongestionControl;
use crate::seq::Seq;
use synack_wire::{ecn as ip_ecn, TcpFlags, TcpRepr};

/// Whether connections use ECN (Linux `net.ipv4.tcp_ecn`, RFC 3168 §6.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ecn {
    /// Never: SYNs do not ask, and an ECN-setup SYN is answered without ECN
    /// (`tcp_ecn=0`).
    Off,
    /// Ask for ECN in the SYNs we send, and accept it when a peer asks
    /// (`tcp_ecn=1`).
    On,
    /// Accept ECN when the peer's SYN asks, never ask (`tcp_ecn=2`, Linux's default).
    #[default]
    Passive,
}

impl Ecn {
    /// From the value of Linux's sysctl: 0, 1 or 2 (Linux rejects other values;
    /// here they mean `Passive`, the default).
    pub fn from_sysctl(v: u32) -> Ecn {
        match v {
            0 => Ecn::Off,
            1 => Ecn::On,
            _ => Ecn::Passive,
        }
    }
}

/// Bits of [`Connection::ecn`].
pub(crate) mod flag {
    /// ECN is in use: asked for (SYN-SENT) or negotiated.
    pub(crate) const OK: u8 = 1;
    /// Receiver: a CE mark arrived; ECE on every segment until CWR (§6.1.3).
    pub(crate) const DEMAND_CWR: u8 = 2;
    /// Sender: the window was reduced; CWR on the next new data segment (§6.1.2).
    pub(crate) const QUEUE_CWR: u8 = 4;
    /// Sender: in the reduction's window (until SND.UNA passes `Rare::cwr_high`):
    /// further ECEs are not acted on, cwnd does not grow.
    pub(crate) const IN_CWR: u8 = 8;
    /// The ECN codepoint of the packet being processed sits in the top two bits
    /// (set by the stack before each segment of an ECN connection).
    pub(crate) const RX_SHIFT: u8 = 6;
}

/// What ECN did on one connection, kept in the boxed rarely-used state.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct EcnState {
    /// SND.NXT when the window was last reduced (Linux `high_seq` of the CWR state).
    pub(crate) cwr_high: Seq,
    /// Data segments received CE-marked.
    pub(crate) ce_received: u32,
    /// Segments received with ECE.
    pub(crate) ece_received: u32,
    /// Window reductions in answer to ECE.
    pub(crate) reductions: u32,
}

impl Connection {
    /// The connection's ECN bookkeeping, created on first use.
    fn ecn_state(&mut self) -> &mut EcnState {
        &mut self.rare.get_or_insert_with(Default::default).ecn
    }

    /// True when ECN was negotiated (or, in SYN-SENT, asked for).
    #[inline]
    pub(crate) fn ecn_ok(&self) -> bool {
        self.ecn & flag::OK != 0
    }

    /// True while the window of an ECN reduction lasts: cwnd does not grow then
    /// (RFC 3168 §6.1.2, Linux's CWR state).
    #[inline]
    pub(crate) fn ecn_in_cwr(&self) -> bool {
        self.ecn & flag::IN_CWR != 0
    }

    /// CWR waits for the next new data segment.
    #[inline]
    pub(crate) fn ecn_cwr_queued(&self) -> bool {
        self.ecn & flag::QUEUE_CWR != 0
    }

    /// Active open: ask for ECN when configured to (RFC 3168 §6.1.1).
    pub(crate) fn ecn_active_open(&mut self, cfg: &crate::Config) {
        self.ecn = if cfg.ecn == Ecn::On { flag::OK } else { 0 };
    }

    /// Passive open: the peer's SYN asks for ECN with ECE and CWR (RFC 3168 §6.1.1)
    /// and is not itself ECT-marked (Linux `tcp_ecn_create_request`: such a SYN is
    /// from a sender that does not know the rules); `ip` is its IP ECN codepoint.
    pub(crate) fn ecn_passive_open(&mut self, cfg: &crate::Config, syn: &TcpRepr, ip: u8) {
        let asks = syn.flags.contains(TcpFlags::ECE | TcpFlags::CWR);
        self.ecn = if asks && cfg.ecn != Ecn::Off && ip == ip_ecn::NOT_ECT {
            flag::OK
        } else {
            0
        };
    }

    /// ECN flags of our SYN or SYN-ACK: ECE+CWR on an ECN-setup SYN, ECE on an
    /// ECN-setup SYN-ACK (RFC 3168 §6.1.1). A SYN sent again after a timeout asks no
    /// more (§6.1.1.1: the peer or a middlebox may drop ECN-setup SYNs; Linux
    /// `tcp_ecn_clear_syn`), and the connection goes on without ECN.
    pub(crate) fn ecn_syn_flags(&mut self, passive: bool, retransmission: bool) -> TcpFlags {
        if !self.ecn_ok() {
            return TcpFlags::default();
        }
        if passive {
            TcpFlags::ECE
        } else if retransmission {
            self.ecn = 0;
            TcpFlags::default()
        } else {
            TcpFlags::ECE | TcpFlags::CWR
        }
    }

    /// A SYN-ACK (or, in a simultaneous open, a SYN) arrived in SYN-SENT: ECN is on
    /// only if it answers ours, a SYN-ACK with ECE and without CWR (RFC 3168 §6.1.1;
    /// a SYN-ACK with both is from a broken peer that reflects flags), a SYN with both.
    pub(crate) fn ecn_syn_received(&mut self, seg: &TcpRepr) {
        let f = seg.flags;
        let confirmed = if f.ack() {
            f.contains(TcpFlags::ECE) && !f.contains(TcpFlags::CWR)
        } else {
            f.contains(TcpFlags::ECE | TcpFlags::CWR)
        };
        if !confirmed {
            self.ecn = 0;
        }
    }

    /// The stack hands over the IP ECN codepoint of the packet about to be processed.
    #[inline]
    pub(crate) fn ecn_note_rx(&mut self, ip: u8) {
        if self.ecn != 0 {
            self.ecn = (self.ecn & !(0b11 << flag::RX_SHIFT)) | ((ip & 0b11) << flag::RX_SHIFT);
        }
    }

    /// An acceptable ACK (not older than SND.UNA) arrived on an ECN connection:
    /// the peer's CWR ends our echo (RFC 3168 §6.1.3; honoured on pure ACKs too, as
    /// Linux does since 5.7), and its ECE asks for a window reduction (§6.1.2).
    #[cold]
    pub(crate) fn ecn_on_ack(&mut self, env: &mut Env<'_>, seg: &TcpRepr, has_data: bool) {
        if seg.flags.contains(TcpFlags::CWR) && self.ecn & flag::DEMAND_CWR != 0 {
            self.ecn &= !flag::DEMAND_CWR;
            if has_data {
                // The sender has just reduced its window, perhaps to one segment:
                // do not make it wait for a delayed ACK (Linux `tcp_ecn_accept_cwr`).
                self.pend.ack_now = true;
            }
        }
        if self.ecn_in_cwr() && Seq(seg.ack) >= self.ecn_state().cwr_high {
            // The window of data sent before the reduction is acknowledged.
            self.ecn &= !flag::IN_CWR;
        }
        if !seg.flags.contains(TcpFlags::ECE) {
            return;
        }
        self.ecn_state().ece_received += 1;
        // At most one reduction per window of data, and none in loss recovery, which
        // has already reduced it (§6.1.2).
        if self.in_recovery || self.ecn_in_cwr() {
            return;
        }
        // §6.1.2 halves cwnd (not FlightSize), as Linux's `tcp_enter_cwr` reduces
        // from cwnd through the controller's ssthresh.
        let cwnd = self.cc.cwnd();
        self.cc.on_ecn_echo(env.now, cwnd, u32::from(self.mss));
        let high = self.snd_nxt;
        let st = self.ecn_state();
        st.cwr_high = high;
        st.reductions += 1;
        self.ecn |= flag::IN_CWR | flag::QUEUE_CWR;
    }

    /// Data arrived on an ECN connection: a CE mark sets ECE on what we send until
    /// CWR arrives (RFC 3168 §6.1.3), and the first one is acknowledged at once
    /// (Linux `tcp_data_ecn_check`: quick-ACK mode for two segments).
    #[cold]
    pub(crate) fn ecn_on_data(&mut self) {
        if (self.ecn >> flag::RX_SHIFT) != ip_ecn::CE {
            return;
        }
        self.ecn_state().ce_received += 1;
        if self.ecn & flag::DEMAND_CWR == 0 {
            self.ecn |= flag::DEMAND_CWR;
            self.quickacks = self.quickacks.max(2);
        }
    }

    /// ECE on a synchronized-state segment while we echo a CE mark (§6.1.3).
    #[inline]
    pub(crate) fn ecn_echo_flag(&self) -> TcpFlags {
        if self.ecn & flag::DEMAND_CWR != 0 {
            TcpFlags::ECE
        } else {
            TcpFlags::default()
        }
    }

    /// A data segment is being sent: whether it is ECT(0) (new data only: RFC 3168
    /// §6.1.5 keeps retransmissions Not-ECT), and CWR on the first new data after a
    /// reduction (§6.1.2). Returns the ECT decision; `flags` gets CWR.
    #[inline]
    pub(crate) fn ecn_on_send(
        &mut self,
        flags: &mut TcpFlags,
        len: usize,
        retransmission: bool,
    ) -> bool {
        if !self.ecn_ok() || len == 0 || retransmission {
            return false;
        }
        if self.ecn & flag::QUEUE_CWR != 0 {
            self.ecn &= !flag::QUEUE_CWR;
            *flags |= TcpFlags::CWR;
        }
        true
    }

    /// The counters for [`ConnStats`](super::ConnStats): CE marks received, ECEs
    /// received, reductions.
    pub(crate) fn ecn_counts(&self) -> (u64, u64, u64) {
        self.rare.as_deref().map_or((0, 0, 0), |r| {
            (
                u64::from(r.ecn.ce_received),
                u64::from(r.ecn.ece_received),
                u64::from(r.ecn.reductions),
            )
        })
    }
}
