//! The decision at SYN time for intercepted connections (issue 15 item 3): with
//! decisions on, a SYN that only the intercepting listener ([`Stack::listen_any`])
//! would take is held, unanswered, until the application answers accept, refuse
//! (RST), drop or unreachable (ICMP), so a proxy can try its upstream first and show
//! the client the upstream's answer. Nothing leaves before the answer; an answer that
//! does not come within the configured time counts as drop, judged against the `now`
//! the driver passes (no clock is read).
//!
//! Held SYNs are keyed by 4-tuple: a retransmitted SYN joins the request already
//! held (RFC 9293 §3.10.7.2 would answer each, but nothing may be answered yet), an
//! RST from the client withdraws it (§3.10.7.2: an RST in LISTEN is ignored; there
//! is nothing else to withdraw), and they count against the intercepting listener's
//! SYN backlog like connections in SYN-RECEIVED.

use super::*;
use synack_wire::{IcmpKind, IcmpRepr};

/// One SYN waiting for the application's decision ([`Stack::poll_syn_request`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SynRequest {
    /// Names this request in [`Stack::decide_syn`].
    pub id: u64,
    /// The client: the SYN's source.
    pub client: SocketAddr,
    /// The original destination the client asked for.
    pub target: SocketAddr,
}

/// The application's answer to a [`SynRequest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SynDecision {
    /// Answer with a SYN-ACK as the target: the connection proceeds through
    /// SYN-RECEIVED and [`Stack::decide_syn`] returns its handle.
    Accept,
    /// Answer with an RST (RFC 9293 §3.10.7.1): the client sees "connection refused".
    Refuse,
    /// Answer nothing: the client retransmits and eventually times out.
    Drop,
    /// Answer with ICMP destination unreachable (host unreachable: v4 type 3 code 1,
    /// v6 type 1 code 3) from the target: a Linux client's connect fails with
    /// EHOSTUNREACH at once (RFC 1122 §4.2.3.9 lets SYN-SENT abort on it).
    Unreachable,
}

/// Why [`Stack::decide_syn`] did nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecideError {
    /// No such request: answered already, timed out, or withdrawn by the client.
    Unknown,
    /// Accepting it would exceed [`Config::max_connections`]; it was dropped.
    Full,
}

/// A held SYN.
#[derive(Debug, Clone, Copy)]
struct Held {
    id: u64,
    syn: TcpRepr,
    deadline: Instant,
}

/// The stack's held SYNs and the requests not yet polled.
#[derive(Debug)]
pub(super) struct SynDecisions {
    timeout: Duration,
    next_id: u64,
    held: HashMap<(SocketAddr, SocketAddr), Held>,
    /// Requests for the application, in arrival order.
    requests: VecDeque<SynRequest>,
    /// Deadlines in arrival order (every request gets the same timeout, so the FIFO
    /// is sorted); an entry whose request was answered is skipped when it comes up.
    deadlines: VecDeque<(Instant, u64, SocketAddr, SocketAddr)>,
    /// Requests that timed out (counted as drops).
    pub(super) timed_out: u64,
}

impl Stack {
    /// Hold SYNs for the intercepting listener until [`decide_syn`](Stack::decide_syn)
    /// answers them, at most `timeout` (then they are dropped); `None` turns
    /// decisions off and drops the SYNs still held (the clients retransmit, and
    /// their next SYN is answered at once).
    pub fn set_syn_decisions(&mut self, timeout: Option<Duration>) {
        // Keyed like the listener table (the stack's secret), not by the OS.
        let hasher = *self.listen_map.hasher();
        self.decide = timeout.map(|timeout| {
            Box::new(SynDecisions {
                timeout,
                next_id: 1,
                held: HashMap::with_hasher(hasher),
                requests: VecDeque::new(),
                deadlines: VecDeque::new(),
                timed_out: 0,
            })
        });
    }

    /// The next SYN waiting for a decision, oldest first.
    pub fn poll_syn_request(&mut self) -> Option<SynRequest> {
        let d = self.decide.as_mut()?;
        while let Some(r) = d.requests.pop_front() {
            // Skip requests withdrawn or timed out before they were polled.
            if d.held
                .get(&(r.target, r.client))
                .is_some_and(|h| h.id == r.id)
            {
                return Some(r);
            }
        }
        None
    }

    /// True when [`poll_syn_request`](Stack::poll_syn_request) may have a request.
    pub fn has_syn_requests(&self) -> bool {
        self.decide.as_ref().is_some_and(|d| !d.requests.is_empty())
    }

    /// SYNs held now (polled or not).
    pub fn syn_requests_held(&self) -> usize {
        self.decide.as_ref().map_or(0, |d| d.held.len())
    }

    /// Requests that were dropped because no decision came in time.
    pub fn syn_requests_timed_out(&self) -> u64 {
        self.decide.as_ref().map_or(0, |d| d.timed_out)
    }

    /// Answer the held SYN `req`. `Accept` returns the new connection in SYN-RECEIVED,
    /// owned by the application like one it opened: [`Event::Connected`] when the
    /// handshake completes, [`Event::Closed`] if it fails.
    pub fn decide_syn(
        &mut self,
        now: Instant,
        req: &SynRequest,
        decision: SynDecision,
    ) -> Result<Option<ConnHandle>, DecideError> {
        let key = (req.target, req.client);
        let d = self.decide.as_mut().ok_or(DecideError::Unknown)?;
        let held = match d.held.get(&key) {
            Some(h) if h.id == req.id => *h,
            _ => return Err(DecideError::Unknown),
        };
        d.held.remove(&key);
        let (local, remote) = key;
        match decision {
            SynDecision::Drop => Ok(None),
            SynDecision::Refuse => {
                // RFC 9293 §3.10.7.1: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
                self.stats.no_connection += 1;
                self.reply_rst(local, remote, &held.syn, 0);
                Ok(None)
            }
            SynDecision::Unreachable => {
                self.queue_syn_unreachable(local, remote, &held.syn);
                Ok(None)
            }
            SynDecision::Accept => {
                if self.connection_count() >= self.cfg.max_connections {
                    self.stats.connection_limit_drops += 1;
                    return Err(DecideError::Full);
                }
                let iss = self.isn.isn(now, local, remote);
                let opts = SocketOptions::from_config(&self.cfg);
                let conn = Connection::new(&self.cfg, opts, local, remote, iss, now);
                // No listener: the application owns it from the start, as after a
                // connect, and hears `Connected` from SYN-RECEIVED -> ESTABLISHED.
                let idx = self.insert(conn, true);
                let syn = held.syn;
                self.with_conn(idx, now, |c, env| c.passive_open(env, &syn));
                Ok(Some(self.handle_of(idx)))
            }
        }
    }

    /// Called for a SYN only the intercepting listener would take: hold it when
    /// decisions are on. `true` when the SYN was taken (held, joined, or dropped
    /// for a full backlog).
    pub(super) fn hold_syn(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        syn: &TcpRepr,
        backlog_used: usize,
    ) -> bool {
        let (syn_backlog, backlog) = match self.any_listener.and_then(|l| {
            self.listeners[l as usize]
                .as_ref()
                .map(|x| (self.cfg.syn_backlog, x.backlog))
        }) {
            Some(x) => x,
            None => return false,
        };
        let Some(d) = self.decide.as_mut() else {
            return false;
        };
        d.expire(now);
        if let Some(h) = d.held.get_mut(&(local, remote)) {
            // A retransmission (or a new ISN from a client that gave up and came
            // back): the answer, when it comes, is about the latest SYN.
            h.syn = *syn;
            return true;
        }
        if d.held.len() >= syn_backlog || d.held.len() + backlog_used >= backlog {
            self.stats.listen_overflows += 1;
            return true;
        }
        let id = d.next_id;
        d.next_id += 1;
        let deadline = now + d.timeout;
        d.held.insert(
            (local, remote),
            Held {
                id,
                syn: *syn,
                deadline,
            },
        );
        d.deadlines.push_back((deadline, id, local, remote));
        d.requests.push_back(SynRequest {
            id,
            client: remote,
            target: local,
        });
        true
    }

    /// An RST from a client whose SYN is held withdraws the request.
    pub(super) fn withdraw_syn(&mut self, local: SocketAddr, remote: SocketAddr) -> bool {
        self.decide
            .as_mut()
            .is_some_and(|d| d.held.remove(&(local, remote)).is_some())
    }

    /// Drop the requests whose time ran out.
    pub(super) fn handle_timeout_decisions(&mut self, now: Instant) {
        if let Some(d) = self.decide.as_mut() {
            d.expire(now);
        }
    }

    /// The earliest deadline of a held SYN.
    pub(super) fn decisions_deadline(&self) -> Option<Instant> {
        let d = self.decide.as_ref()?;
        d.deadlines.front().map(|e| e.0)
    }

    /// ICMP host unreachable from `local` about the SYN `syn` from `remote`.
    fn queue_syn_unreachable(&mut self, local: SocketAddr, remote: SocketAddr, syn: &TcpRepr) {
        let ip = IpRepr {
            src: remote.ip(),
            dst: local.ip(),
            protocol: PROTO_TCP,
            ttl: self.cfg.ttl,
            payload_len: 0,
        };
        let mut quoted = vec![0u8; ip.header_len() + syn.header_len()];
        let code = if local.is_ipv4() { 1 } else { 3 };
        let mut p = vec![0u8; 1280];
        let n = emit_tcp_packet(&mut quoted, &ip, syn, 0).and_then(|n| {
            IcmpRepr::emit_packet(
                IcmpKind::DestUnreachable { code, hard: false },
                local.ip(),
                remote.ip(),
                &quoted[..n],
                &mut p,
            )
        });
        match n {
            Ok(n) => {
                p.truncate(n);
                self.queue_raw(p);
            }
            Err(_) => self.stats.emit_errors += 1,
        }
    }
}

impl SynDecisions {
    fn expire(&mut self, now: Instant) {
        while let Some(&(t, id, local, remote)) = self.deadlines.front() {
            if t > now {
                break;
            }
            self.deadlines.pop_front();
            if self.held.get(&(local, remote)).is_some_and(|h| h.id == id) {
                debug_assert!(self.held[&(local, remote)].deadline <= now);
                self.held.remove(&(local, remote));
                self.timed_out += 1;
            }
        }
        if self.held.is_empty() {
            self.deadlines.clear();
            self.requests.clear();
        }
    }
}
