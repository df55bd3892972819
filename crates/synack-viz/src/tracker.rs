//! A passive connection-state tracker: infers one endpoint's RFC 9293 state from the
//! segments it is seen to send and receive in a capture (it cannot see timers, so
//! TIME-WAIT is never left, and it trusts what it sees: no window checks).

use synack_core::State;
use synack_wire::TcpFlags;

/// One endpoint's inferred state.
#[derive(Debug, Clone)]
pub(crate) struct Tracker {
    pub(crate) state: State,
    /// Opened by a passive open (LISTEN): a reset in SYN-RECEIVED returns to LISTEN.
    passive: bool,
    /// Our ISN, once our SYN is seen.
    iss: Option<u32>,
    /// Sequence number of our FIN, once sent.
    fin_seq: Option<u32>,
}

/// Does `ack` acknowledge sequence number `seq` (ack > seq in sequence space,
/// RFC 9293 §3.4)?
fn acks(ack: u32, seq: u32) -> bool {
    let d = ack.wrapping_sub(seq);
    d != 0 && d < 0x8000_0000
}

impl Tracker {
    pub(crate) fn new(initial: State) -> Tracker {
        Tracker {
            state: initial,
            passive: initial == State::Listen,
            iss: None,
            fin_seq: None,
        }
    }

    fn set(&mut self, new: State) -> Option<(State, State)> {
        if new == self.state {
            return None;
        }
        let old = self.state;
        self.state = new;
        Some((old, new))
    }

    /// The endpoint sent a segment; returns the state change it implies (recorded before
    /// the segment: the state the endpoint was in when it sent it).
    pub(crate) fn on_send(
        &mut self,
        flags: TcpFlags,
        seq: u32,
        len: u32,
    ) -> Option<(State, State)> {
        if flags.rst() {
            return self.set(State::Closed); // RFC 9293 §3.10.7: a reset ends it.
        }
        if flags.syn() {
            self.iss.get_or_insert(seq);
            if !flags.ack() && matches!(self.state, State::Closed | State::Listen) {
                // Active open, RFC 9293 §3.10.1.
                return self.set(State::SynSent);
            }
            return None;
        }
        if flags.fin() {
            self.fin_seq = Some(seq.wrapping_add(len));
            // RFC 9293 §3.10.4 CLOSE: ESTABLISHED/SYN-RECEIVED -> FIN-WAIT-1,
            // CLOSE-WAIT -> LAST-ACK.
            return match self.state {
                State::Established | State::SynReceived => self.set(State::FinWait1),
                State::CloseWait => self.set(State::LastAck),
                _ => None,
            };
        }
        None
    }

    /// The endpoint received a segment; returns the state change it caused (recorded
    /// after the segment).
    pub(crate) fn on_receive(&mut self, flags: TcpFlags, ack: u32) -> Option<(State, State)> {
        if flags.rst() {
            // RFC 9293 §3.10.7.3/§3.10.7.4: a reset closes the connection; in SYN-RECEIVED
            // after a passive open it goes back to LISTEN.
            return match self.state {
                State::Listen | State::Closed => None,
                State::SynReceived if self.passive => self.set(State::Listen),
                _ => self.set(State::Closed),
            };
        }
        let our_syn_acked = flags.ack() && self.iss.is_some_and(|iss| acks(ack, iss));
        let our_fin_acked = flags.ack() && self.fin_seq.is_some_and(|f| acks(ack, f));
        let mut change = None;
        let mut merge = |c: Option<(State, State)>| {
            if let Some((old, new)) = c {
                change = Some(match change {
                    Some((first, _)) => (first, new),
                    None => (old, new),
                });
            }
        };
        if flags.syn() {
            match self.state {
                // RFC 9293 §3.10.7.2: LISTEN + SYN -> SYN-RECEIVED.
                State::Listen => merge(self.set(State::SynReceived)),
                // RFC 9293 §3.10.7.3: SYN-SENT + SYN-ACK acking our SYN -> ESTABLISHED;
                // a bare SYN (simultaneous open) -> SYN-RECEIVED.
                State::SynSent if our_syn_acked => merge(self.set(State::Established)),
                State::SynSent => merge(self.set(State::SynReceived)),
                State::SynReceived if our_syn_acked => merge(self.set(State::Established)),
                _ => {}
            }
        } else if self.state == State::SynReceived && our_syn_acked {
            // RFC 9293 §3.10.7.4 (fifth check, SYN-RECEIVED): the ACK of our SYN.
            merge(self.set(State::Established));
        }
        if our_fin_acked {
            // RFC 9293 §3.10.7.4 (fifth check): our FIN acknowledged.
            match self.state {
                State::FinWait1 => merge(self.set(State::FinWait2)),
                State::Closing => merge(self.set(State::TimeWait)),
                State::LastAck => merge(self.set(State::Closed)),
                _ => {}
            }
        }
        if flags.fin() {
            // RFC 9293 §3.10.7.4 (eighth check): the peer's FIN.
            match self.state {
                State::Established | State::SynReceived => merge(self.set(State::CloseWait)),
                State::FinWait1 => merge(self.set(State::Closing)),
                State::FinWait2 => merge(self.set(State::TimeWait)),
                _ => {}
            }
        }
        change
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SYN: TcpFlags = TcpFlags::SYN;
    const ACK: TcpFlags = TcpFlags::ACK;
    const FIN: TcpFlags = TcpFlags::FIN;

    #[test]
    fn handshake_and_active_close() {
        let mut c = Tracker::new(State::Closed);
        let mut s = Tracker::new(State::Listen);
        assert_eq!(
            c.on_send(SYN, 100, 0),
            Some((State::Closed, State::SynSent))
        );
        assert_eq!(
            s.on_receive(SYN, 0),
            Some((State::Listen, State::SynReceived))
        );
        assert_eq!(s.on_send(SYN | ACK, 500, 0), None);
        assert_eq!(
            c.on_receive(SYN | ACK, 101),
            Some((State::SynSent, State::Established))
        );
        assert_eq!(
            s.on_receive(ACK, 501),
            Some((State::SynReceived, State::Established))
        );
        assert_eq!(
            c.on_send(FIN | ACK, 101, 0),
            Some((State::Established, State::FinWait1))
        );
        assert_eq!(
            s.on_receive(FIN | ACK, 501),
            Some((State::Established, State::CloseWait))
        );
        assert_eq!(
            c.on_receive(ACK, 102),
            Some((State::FinWait1, State::FinWait2))
        );
        assert_eq!(
            s.on_send(FIN | ACK, 501, 0),
            Some((State::CloseWait, State::LastAck))
        );
        assert_eq!(
            c.on_receive(FIN | ACK, 102),
            Some((State::FinWait2, State::TimeWait))
        );
        assert_eq!(
            s.on_receive(ACK, 502),
            Some((State::LastAck, State::Closed))
        );
    }

    #[test]
    fn simultaneous_close_goes_through_closing() {
        let mut a = Tracker::new(State::Established);
        a.iss = Some(0);
        assert_eq!(
            a.on_send(FIN | ACK, 10, 0),
            Some((State::Established, State::FinWait1))
        );
        // Peer's FIN does not ack ours yet.
        assert_eq!(
            a.on_receive(FIN | ACK, 10),
            Some((State::FinWait1, State::Closing))
        );
        assert_eq!(
            a.on_receive(ACK, 11),
            Some((State::Closing, State::TimeWait))
        );
    }

    #[test]
    fn fin_acking_our_fin_goes_straight_to_time_wait() {
        let mut a = Tracker::new(State::Established);
        a.on_send(FIN | ACK, 10, 0);
        assert_eq!(
            a.on_receive(FIN | ACK, 11),
            Some((State::FinWait1, State::TimeWait))
        );
    }

    #[test]
    fn reset_in_passive_syn_received_returns_to_listen() {
        let mut s = Tracker::new(State::Listen);
        s.on_receive(SYN, 0);
        assert_eq!(
            s.on_receive(TcpFlags::RST, 0),
            Some((State::SynReceived, State::Listen))
        );
    }
}
