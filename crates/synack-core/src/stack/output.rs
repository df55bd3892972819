//! Packet output: `poll_transmit` drains control replies, TIME-WAIT ACKs and each
//! connection with something to send into IP packets, and records traced segments.

use super::*;
use alloc::vec::Vec;

impl Stack {
    /// Write the next outgoing IP packet into `buf` (at least
    /// [`max_packet_size`](Stack::max_packet_size) bytes). Call until `None`.
    #[inline]
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        if !self.udp.has_output()
            && self.dirty.is_empty()
            && self.rsts.is_empty()
            && self.tw_acks.is_empty()
        {
            // The common last call of a drain: nothing is queued. Answered inline,
            // without the frame of the function that emits.
            return None;
        }
        self.poll_transmit_queued(now, buf)
    }

    /// [`poll_transmit`](Stack::poll_transmit) when a queue may hold output.
    #[inline(never)]
    fn poll_transmit_queued(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        if self.udp.has_output() {
            if let Some(t) = self.poll_transmit_udp(buf) {
                return Some(t);
            }
        }
        if self.dirty.is_empty() && self.rsts.is_empty() && self.tw_acks.is_empty() {
            // The common last call of a drain: nothing is queued.
            return None;
        }
        while let Some((local, remote, repr)) = self.rsts.pop_front() {
            self.trace_segment(now, local, remote, &repr, 0, Direction::Sent, None);
            if let Some(len) = self.emit(buf, local, remote, &repr, 0) {
                // The queue also carries SYN cookie SYN-ACKs (stack/syncookie.rs).
                self.stats.rsts_sent += u64::from(repr.flags.rst());
                return Some(Transmit {
                    len,
                    segment_size: None,
                });
            }
        }
        while let Some((local, remote, repr, (iss, irs, shift, rto))) = self.tw_acks.pop_front() {
            if let Some(trace) = self.trace.as_mut() {
                push_segment_trace(
                    trace,
                    now,
                    local,
                    remote,
                    &repr,
                    0,
                    Direction::Sent,
                    Some((iss, Some(irs), shift)),
                );
                if let Some(TraceEvent {
                    kind: TraceKind::Segment(seg),
                    ..
                }) = trace.back_mut()
                {
                    // As the full connection reports its ACKs: with the current RTO.
                    seg.rto_micros = u64::from(rto);
                }
            }
            if let Some(len) = self.emit(buf, local, remote, &repr, 0) {
                return Some(Transmit {
                    len,
                    segment_size: None,
                });
            }
        }
        while let Some(idx) = self.dirty.pop_front() {
            let slot = &mut self.slots[idx as usize];
            slot.queued = false;
            let Some(conn) = slot.conn.as_mut() else {
                continue;
            };
            let mut env = Env {
                cfg: &self.cfg,
                now,
                trace: self.trace.as_mut(),
                challenge_budget: &mut self.challenge_budget,
                mem: self.mem.view(),
                egress_blocked: self.egress_blocked,
            };
            // Used by reference, for the reason given in `handle_packet_inner`.
            let out = conn.poll_segment(&mut env);
            match &out {
                Some(out) => {
                    let (local, remote) = (conn.local, conn.remote);
                    let tcp_hlen = out.repr.header_len();
                    let ip = IpRepr {
                        src: local.ip(),
                        dst: remote.ip(),
                        protocol: PROTO_TCP,
                        ttl: conn.opts.ttl,
                        payload_len: tcp_hlen + out.payload_len,
                    };
                    let start = ip.header_len() + tcp_hlen;
                    let mut ok = start + out.payload_len <= buf.len();
                    let mut payload_sum = 0;
                    if ok && out.payload_len > 0 {
                        // The payload is summed while it is copied (one pass).
                        let (n, s) = conn.send.read_at_summed(
                            out.payload_off,
                            &mut buf[start..start + out.payload_len],
                        );
                        ok = n == out.payload_len;
                        payload_sum = s;
                    }
                    let len = if ok {
                        emit_tcp_packet_summed(
                            buf,
                            &ip,
                            &out.repr,
                            out.payload_len,
                            Some(payload_sum),
                        )
                        .ok()
                    } else {
                        None
                    };
                    if out.ect && len.is_some() {
                        // RFC 3168 §6.1.2: ECT(0) on new data of an ECN connection.
                        synack_wire::ecn::set_on_packet(buf, synack_wire::ecn::ECT0);
                    }
                    // A TSO super-segment (Config::tso_max): each segment the device
                    // cuts carries the MSS less this segment's options (RFC 9293
                    // §3.7.1: the MSS counts data only).
                    let opts_len = tcp_hlen.saturating_sub(20);
                    let seg = usize::from(conn.mss).saturating_sub(opts_len).max(1);
                    let tso = self.cfg.tso_max > seg;
                    let segment_size =
                        (tso && out.payload_len > seg).then(|| seg.min(65535) as u16);
                    // More may follow from this connection: keep it queued (round robin).
                    if conn.wants_poll() {
                        self.mark_dirty(idx);
                    }
                    self.after_call(idx);
                    match len {
                        Some(len) => {
                            self.stats.packets_out += 1;
                            self.stats.largest_packet_out =
                                self.stats.largest_packet_out.max(len as u64);
                            if segment_size.is_some() {
                                self.stats.super_packets_out += 1;
                            }
                            return Some(Transmit { len, segment_size });
                        }
                        None => {
                            self.stats.emit_errors += 1;
                            continue;
                        }
                    }
                }
                None => self.after_idle_poll(idx),
            }
        }
        None
    }

    // ---------------------------------------------------------------- internals

    pub(super) fn emit(
        &mut self,
        buf: &mut [u8],
        local: SocketAddr,
        remote: SocketAddr,
        repr: &TcpRepr,
        payload_len: usize,
    ) -> Option<usize> {
        let ip = IpRepr {
            src: local.ip(),
            dst: remote.ip(),
            protocol: PROTO_TCP,
            ttl: self.cfg.ttl,
            payload_len: repr.header_len() + payload_len,
        };
        match emit_tcp_packet(buf, &ip, repr, payload_len) {
            Ok(n) => {
                self.stats.packets_out += 1;
                self.stats.largest_packet_out = self.stats.largest_packet_out.max(n as u64);
                Some(n)
            }
            Err(_) => {
                self.stats.emit_errors += 1;
                None
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    #[cold]
    pub(super) fn trace_segment(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        repr: &TcpRepr,
        len: usize,
        dir: Direction,
        isns: Option<(u32, Option<u32>, u8)>,
    ) {
        if let Some(trace) = self.trace.as_mut() {
            push_segment_trace(trace, now, local, remote, repr, len, dir, isns);
        }
    }
}

/// Record a segment sent or received in `trace`; `isns` is (ISS, IRS, window shift)
/// when the segment belongs to a known connection.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
pub(super) fn push_segment_trace(
    trace: &mut VecDeque<TraceEvent>,
    now: Instant,
    local: SocketAddr,
    remote: SocketAddr,
    repr: &TcpRepr,
    len: usize,
    dir: Direction,
    isns: Option<(u32, Option<u32>, u8)>,
) {
    {
        let (iss, irs, shift) = match isns {
            Some((i, r, s)) => (Some(i), r, s),
            None => (None, None, 0),
        };
        let shift = if repr.flags.syn() { 0 } else { shift };
        trace.push_back(TraceEvent {
            time: now,
            local,
            remote,
            kind: TraceKind::Segment(SegmentTrace {
                dir,
                flags: repr.flags,
                seq: repr.seq,
                ack: repr.ack,
                window: repr.window,
                window_bytes: u32::from(repr.window) << shift,
                len: len as u32,
                options: repr.options,
                iss,
                irs,
                retransmission: false,
                retransmit_count: 0,
                rto_micros: 0,
                preview: Vec::new(),
            }),
        });
    }
}
