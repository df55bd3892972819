//! The decision on an intercepted UDP flow (issue 15 item 3), the UDP side of
//! `stack/decide.rs`: with decisions on, the first datagram of a flow the intercept
//! ([`Stack::udp_intercept`]) does not know yet (client and original destination) is
//! held, undelivered, until the application answers accept (the held datagrams are
//! delivered, and the flow's later ones as usual), refuse (ICMP port unreachable as
//! the destination, RFC 1122 §4.1.3.1, rate-limited like every ICMP error; the flow's
//! later datagrams get the same answer until it has been idle for
//! [`Config::udp_flow_timeout`](crate::Config::udp_flow_timeout)) or drop (nothing;
//! the flow's next datagram asks again). No answer within the configured time counts
//! as drop, judged against the `now` the driver passes.
//!
//! Memory is bounded: at most [`UDP_HELD_FLOWS`] flows wait at once and their held
//! datagrams together are charged against one receive buffer
//! ([`Config::udp_recv_buffer`](crate::Config::udp_recv_buffer)); a datagram past
//! either limit is dropped and counted. Refused flows are remembered at most
//! [`Config::udp_max_flows`](crate::Config::udp_max_flows) at a time.

use super::{DecideError, Stack};
use crate::hash::HashMap;
use crate::time::{Duration, Instant};
use crate::udp::{charge, Datagram, FlowKey};
use alloc::boxed::Box;
use alloc::collections::{BinaryHeap, VecDeque};
use alloc::vec::Vec;
use core::cmp::Reverse;
use core::net::SocketAddr;

/// Most flows whose first datagram waits for a decision at once.
pub const UDP_HELD_FLOWS: usize = 1024;

/// The first datagram of a new intercepted UDP flow, waiting for the application's
/// decision ([`Stack::poll_udp_flow_request`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UdpFlowRequest {
    /// Names this request in [`Stack::decide_udp_flow`].
    pub id: u64,
    /// The client: the datagram's source.
    pub client: SocketAddr,
    /// The original destination it was sent to.
    pub target: SocketAddr,
}

/// The application's answer to a [`UdpFlowRequest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UdpFlowDecision {
    /// Deliver the held datagrams to the intercept, and the flow's later ones.
    Accept,
    /// Answer with ICMP port unreachable from the target (a connected client socket
    /// sees ECONNREFUSED), and the flow's later datagrams too until it is idle for
    /// `udp_flow_timeout`.
    Refuse,
    /// Answer nothing and forget the datagrams; the flow's next datagram asks again.
    Drop,
}

/// Counters of the UDP flow decisions ([`Stack::udp_flow_decision_stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UdpDecisionStats {
    /// Flows held for a decision.
    pub requests: u64,
    /// Flows accepted.
    pub accepted: u64,
    /// Flows refused.
    pub refused: u64,
    /// Flows dropped by the application.
    pub dropped: u64,
    /// Flows dropped because no decision came in time.
    pub timed_out: u64,
    /// Datagrams dropped because [`UDP_HELD_FLOWS`] flows were already waiting.
    pub held_flows_full: u64,
    /// Datagrams of a waiting flow dropped because the held datagrams already filled
    /// their buffer.
    pub held_bytes_full: u64,
    /// Later datagrams of refused flows (answered port unreachable, rate-limited).
    pub refused_datagrams: u64,
}

/// A flow waiting for its decision.
#[derive(Debug)]
struct Pending {
    id: u64,
    /// Payloads in arrival order (the first one, and any that came before the answer).
    datagrams: Vec<Vec<u8>>,
}

/// The stack's waiting flows, its refused ones, and the requests not yet polled.
#[derive(Debug)]
pub(super) struct UdpDecisions {
    timeout: Duration,
    next_id: u64,
    held: HashMap<FlowKey, Pending>,
    /// Charge of every held datagram (`udp::charge`).
    held_bytes: usize,
    /// Requests for the application, in arrival order.
    requests: VecDeque<UdpFlowRequest>,
    /// Deadlines in arrival order (one timeout for all, so the FIFO is sorted); an
    /// entry whose flow was answered is skipped when it comes up.
    deadlines: VecDeque<(Instant, u64, FlowKey)>,
    /// Refused flows and their last datagram.
    refused: HashMap<FlowKey, Instant>,
    /// One entry per refused flow, a lower bound of its deadline (re-queued at the
    /// real one when it comes up, as the intercept's flow table does).
    refused_deadlines: BinaryHeap<Reverse<(Instant, FlowKey)>>,
    stats: UdpDecisionStats,
}

impl UdpDecisions {
    /// Drop the requests whose time ran out and forget refused flows idle for
    /// `idle`.
    fn expire(&mut self, now: Instant, idle: Duration) {
        while let Some(&(t, id, key)) = self.deadlines.front() {
            if t > now {
                break;
            }
            self.deadlines.pop_front();
            if self.held.get(&key).is_some_and(|p| p.id == id) {
                self.forget(&key);
                self.stats.timed_out += 1;
            }
        }
        if self.held.is_empty() {
            self.deadlines.clear();
            self.requests.clear();
        }
        while let Some(&Reverse((t, key))) = self.refused_deadlines.peek() {
            if t > now {
                break;
            }
            self.refused_deadlines.pop();
            let Some(&last) = self.refused.get(&key) else {
                continue;
            };
            if last + idle > now {
                self.refused_deadlines.push(Reverse((last + idle, key)));
            } else {
                self.refused.remove(&key);
            }
        }
        if self.refused.is_empty() && self.refused.capacity() > 64 {
            self.refused = HashMap::with_hasher(*self.refused.hasher());
            self.refused_deadlines = BinaryHeap::new();
        }
    }

    /// Remove a waiting flow and give back its datagrams' charge.
    fn forget(&mut self, key: &FlowKey) -> Option<Pending> {
        let p = self.held.remove(key)?;
        self.held_bytes -= p.datagrams.iter().map(|d| charge(d.len())).sum::<usize>();
        Some(p)
    }

    fn next_deadline(&self) -> Option<Instant> {
        let a = self.deadlines.front().map(|e| e.0);
        let b = self.refused_deadlines.peek().map(|Reverse((t, _))| *t);
        match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, None) => a,
            (None, b) => b,
        }
    }
}

impl Stack {
    /// Hold the first datagram of each new intercepted UDP flow until
    /// [`decide_udp_flow`](Stack::decide_udp_flow) answers it, at most `timeout`
    /// (then it is dropped); `None` turns decisions off and forgets the flows held
    /// and refused (their next datagrams start flows at once).
    pub fn set_udp_flow_decisions(&mut self, timeout: Option<Duration>) {
        let hasher = *self.udp.flows.hasher();
        self.udp_decide = timeout.map(|timeout| {
            Box::new(UdpDecisions {
                timeout,
                next_id: 1,
                held: HashMap::with_hasher(hasher),
                held_bytes: 0,
                requests: VecDeque::new(),
                deadlines: VecDeque::new(),
                refused: HashMap::with_hasher(hasher),
                refused_deadlines: BinaryHeap::new(),
                stats: UdpDecisionStats::default(),
            })
        });
    }

    /// The next flow waiting for a decision, oldest first.
    pub fn poll_udp_flow_request(&mut self) -> Option<UdpFlowRequest> {
        let d = self.udp_decide.as_mut()?;
        while let Some(r) = d.requests.pop_front() {
            let key = FlowKey::new(r.client, r.target);
            // Skip requests that timed out before they were polled.
            if d.held.get(&key).is_some_and(|p| p.id == r.id) {
                return Some(r);
            }
        }
        None
    }

    /// True when [`poll_udp_flow_request`](Stack::poll_udp_flow_request) may have a
    /// request.
    pub fn has_udp_flow_requests(&self) -> bool {
        self.udp_decide
            .as_ref()
            .is_some_and(|d| !d.requests.is_empty())
    }

    /// Flows waiting for a decision now (polled or not).
    pub fn udp_flow_requests_held(&self) -> usize {
        self.udp_decide.as_ref().map_or(0, |d| d.held.len())
    }

    /// Refused flows remembered now.
    pub fn udp_flows_refused(&self) -> usize {
        self.udp_decide.as_ref().map_or(0, |d| d.refused.len())
    }

    /// The counters of the flow decisions (zeros while they are off).
    pub fn udp_flow_decision_stats(&self) -> UdpDecisionStats {
        self.udp_decide
            .as_ref()
            .map_or_else(UdpDecisionStats::default, |d| d.stats)
    }

    /// Answer the waiting flow `req`. `Unknown` when it is no longer held (answered,
    /// timed out, or the intercept was closed); `Full` when accepting it would exceed
    /// [`Config::udp_max_flows`](crate::Config::udp_max_flows) (its datagrams are then
    /// dropped).
    pub fn decide_udp_flow(
        &mut self,
        now: Instant,
        req: &UdpFlowRequest,
        decision: UdpFlowDecision,
    ) -> Result<(), DecideError> {
        let key = FlowKey::new(req.client, req.target);
        let d = self.udp_decide.as_mut().ok_or(DecideError::Unknown)?;
        if d.held.get(&key).is_none_or(|p| p.id != req.id) {
            return Err(DecideError::Unknown);
        }
        let Some(pending) = d.forget(&key) else {
            return Err(DecideError::Unknown);
        };
        let Some(idx) = self.udp.intercept else {
            return Err(DecideError::Unknown);
        };
        match decision {
            UdpFlowDecision::Drop => {
                d.stats.dropped += 1;
                Ok(())
            }
            UdpFlowDecision::Refuse => {
                d.stats.refused += 1;
                if d.refused.len() < self.cfg.udp_max_flows {
                    d.refused.insert(key, now);
                    let idle = self.cfg.udp_flow_timeout;
                    d.refused_deadlines.push(Reverse((now + idle, key)));
                }
                let h = self.udp.handle_of(idx);
                let first = pending.datagrams.first().map_or(&[][..], |p| &p[..]);
                // Rate-limited: a held-back error is counted by udp_refuse.
                let _ = self.udp_refuse(now, h, req.client, req.target, first);
                Ok(())
            }
            UdpFlowDecision::Accept => {
                d.stats.accepted += 1;
                let (timeout, max) = (self.cfg.udp_flow_timeout, self.cfg.udp_max_flows);
                if !self.udp.touch_flow(key, now, timeout, max) {
                    return Err(DecideError::Full);
                }
                let limit = self.cfg.udp_recv_buffer;
                for payload in pending.datagrams {
                    let dg = Datagram {
                        payload,
                        src: req.client,
                        dst: req.target,
                    };
                    self.udp.deliver(idx, dg, limit);
                }
                Ok(())
            }
        }
    }

    /// Called by the intercept for a datagram of a flow it does not know: `true` when
    /// decisions are on and the datagram was taken (held, refused, or dropped).
    pub(super) fn hold_udp_flow(&mut self, now: Instant, key: FlowKey, payload: &[u8]) -> bool {
        let idle = self.cfg.udp_flow_timeout;
        let limit = self.cfg.udp_recv_buffer;
        let Some(d) = self.udp_decide.as_mut() else {
            return false;
        };
        d.expire(now, idle);
        if let Some(last) = d.refused.get_mut(&key) {
            // A refused flow: refused again, as a closed port answers each datagram.
            *last = now;
            d.stats.refused_datagrams += 1;
            if let Some(idx) = self.udp.intercept {
                let h = self.udp.handle_of(idx);
                let _ = self.udp_refuse(now, h, key.client(), key.target(), payload);
            }
            return true;
        }
        let c = charge(payload.len());
        if let Some(p) = d.held.get_mut(&key) {
            // Another datagram before the answer: held with the first.
            if d.held_bytes + c > limit {
                d.stats.held_bytes_full += 1;
            } else {
                d.held_bytes += c;
                p.datagrams.push(payload.to_vec());
            }
            return true;
        }
        if d.held.len() >= UDP_HELD_FLOWS {
            d.stats.held_flows_full += 1;
            return true;
        }
        if d.held_bytes + c > limit {
            d.stats.held_bytes_full += 1;
            return true;
        }
        let id = d.next_id;
        d.next_id += 1;
        d.held_bytes += c;
        d.held.insert(
            key,
            Pending {
                id,
                datagrams: alloc::vec![payload.to_vec()],
            },
        );
        d.deadlines.push_back((now + d.timeout, id, key));
        d.requests.push_back(UdpFlowRequest {
            id,
            client: key.client(),
            target: key.target(),
        });
        d.stats.requests += 1;
        true
    }

    /// The intercept was closed: nothing held or refused is about it any more.
    pub(super) fn clear_udp_flow_decisions(&mut self) {
        let timeout = self.udp_decide.as_ref().map(|d| d.timeout);
        if timeout.is_some() {
            let stats = self.udp_flow_decision_stats();
            self.set_udp_flow_decisions(timeout);
            if let Some(d) = self.udp_decide.as_mut() {
                d.stats = stats;
            }
        }
    }

    /// Drop the requests whose time ran out; forget idle refused flows.
    pub(super) fn handle_timeout_udp_decisions(&mut self, now: Instant) {
        let idle = self.cfg.udp_flow_timeout;
        if let Some(d) = self.udp_decide.as_mut() {
            if d.next_deadline().is_some_and(|t| t <= now) {
                d.expire(now, idle);
            }
        }
    }

    /// The earliest deadline of a waiting or refused flow.
    pub(super) fn udp_decisions_deadline(&self) -> Option<Instant> {
        self.udp_decide.as_ref()?.next_deadline()
    }
}
