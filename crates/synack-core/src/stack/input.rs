//! Packet input: parse and verify each IP packet, count what is malformed, route TCP
//! segments to their connection by 4-tuple, hand unmatched segments to listeners or
//! answer them with RST (RFC 9293 §3.10.7.1), and rate-limit those RSTs.

use super::*;

impl Stack {
    /// Process one arriving IP packet (IPv4 or IPv6; a TSO/GRO super-segment of up to
    /// 64 KiB is one packet). Malformed packets are counted and dropped.
    pub fn handle_packet(&mut self, now: Instant, bytes: &[u8]) {
        self.handle_packet_inner(now, bytes, self.cfg.verify_checksums);
    }

    /// [`handle_packet`](Stack::handle_packet) without verifying the TCP/ICMP
    /// checksum of this one packet, whatever [`Config::verify_checksums`] says.
    ///
    /// Only for offloading devices whose kernel vouches for the data: a Linux TUN
    /// device with `IFF_VNET_HDR` hands over packets marked `NEEDS_CSUM` (locally
    /// generated, carrying only the pseudo-header sum, like a GSO super-segment) or
    /// `DATA_VALID` (already verified by the kernel). Lengths and headers are still
    /// checked.
    pub fn handle_packet_unchecked(&mut self, now: Instant, bytes: &[u8]) {
        self.handle_packet_inner(now, bytes, false);
    }

    pub(super) fn handle_packet_inner(&mut self, now: Instant, bytes: &[u8], verify: bool) {
        self.stats.packets_in += 1;
        if bytes.len() > self.cfg.mtu {
            self.stats.super_packets_in += 1;
        }
        self.stats.largest_packet_in = self.stats.largest_packet_in.max(bytes.len() as u64);
        self.refill_budgets(now);
        self.rx_ecn = synack_wire::ecn::of_packet(bytes);
        // Each parse is matched where it is made (no common temporary the parsed
        // headers would be copied through) and the segment is handled by reference.
        // Matched by reference: moving the parsed headers out would copy them in wide
        // pieces just after they were written in narrow ones, which stalls the CPU
        // (a store-to-load forwarding failure on every packet).
        if verify {
            match &parse_packet_deferred(bytes) {
                Ok((Packet::Tcp(p), header_sum)) => self.handle_tcp_packet(now, p, *header_sum),
                Ok((other, _)) => self.handle_other(now, other, bytes, verify),
                Err(e) => self.count_parse_error(e),
            }
        } else {
            match &parse_packet(bytes, false) {
                Ok(Packet::Tcp(p)) => self.handle_tcp_packet(now, p, None),
                Ok(other) => self.handle_other(now, other, bytes, verify),
                Err(e) => self.count_parse_error(e),
            }
        }
    }

    /// A parsed TCP segment; `header_sum` is `Some` when its checksum is still to be
    /// finished (see [`tcp_checksum`](Stack::tcp_checksum)).
    #[inline]
    pub(super) fn handle_tcp_packet(
        &mut self,
        now: Instant,
        p: &TcpPacket<'_>,
        header_sum: Option<u32>,
    ) {
        // One demux lookup serves the checksum's fast path and the segment.
        let found = self
            .table
            .lookup(p.ip.dst, p.tcp.dst_port, p.ip.src, p.tcp.src_port)
            .or_else(|| self.time_wait_lookup(p.ip.dst, p.tcp.dst_port, p.ip.src, p.tcp.src_port));
        let conn = found.filter(|&i| i & TW_TAG == 0);
        let staged = match header_sum.map(|h| self.tcp_checksum(p, h, conn)) {
            Some(Err(())) => {
                self.stats.bad_checksum += 1;
                // Staging may have allocated the receive ring before the sum failed:
                // charge it to the budget (found by fuzzing: an uncharged ring let a
                // later write pass the memory limit).
                if let Some(idx) = conn {
                    self.recharge(idx);
                }
                return;
            }
            Some(Ok(staged)) => staged,
            None => false,
        };
        self.handle_tcp(now, p, found);
        if staged {
            if let Some(c) = conn.and_then(|idx| self.slots[idx as usize].conn.as_mut()) {
                // Committed by the text step, or the segment was not used.
                c.recv.unstage();
            }
        }
    }

    /// A packet that is not TCP.
    #[cold]
    pub(super) fn handle_other(
        &mut self,
        now: Instant,
        p: &Packet<'_>,
        bytes: &[u8],
        verify: bool,
    ) {
        match p {
            Packet::Icmp { icmp, .. } => self.handle_icmp(now, icmp),
            // UDP, ICMP echo (stack/udp.rs), anything else.
            Packet::Other { ip } => self.handle_ip_other(now, ip, bytes, verify),
            _ => self.stats.not_for_us += 1,
        }
    }

    /// Count a packet that did not parse.
    #[cold]
    pub(super) fn count_parse_error(&mut self, e: &synack_wire::Error) {
        match e {
            synack_wire::Error::BadChecksum { .. } => self.stats.bad_checksum += 1,
            _ => self.stats.malformed += 1,
        }
    }

    /// Finish the TCP checksum check (RFC 9293 §3.1) of a segment parsed with its
    /// payload unsummed. An in-order payload for the connection in slot `conn` is summed
    /// while it is copied into the receive buffer (staged, committed later by the text
    /// step), so its bytes are read once; anything else is summed here. `Ok(true)`: the
    /// connection's receive buffer holds the staged copy. On `Err` (bad checksum) the
    /// staged copy is already forgotten, so a bad segment leaves no trace.
    pub(super) fn tcp_checksum(
        &mut self,
        p: &TcpPacket<'_>,
        header_sum: u32,
        conn: Option<u32>,
    ) -> Result<bool, ()> {
        let mut c = conn
            .filter(|_| !p.payload.is_empty())
            .and_then(|idx| self.slots[idx as usize].conn.as_mut());
        let room = self.mem.room();
        let staged_sum = c
            .as_mut()
            .and_then(|c| c.stage_payload(&p.tcp, p.payload, room));
        let payload_sum = match staged_sum {
            Some(s) => s,
            None if p.payload.is_empty() => 0,
            None => synack_wire::checksum::sum(p.payload),
        };
        let sum = synack_wire::checksum::combine(header_sum, payload_sum);
        if synack_wire::checksum::finish(sum) == 0 {
            return Ok(staged_sum.is_some());
        }
        if let Some(c) = c {
            c.recv.unstage();
        }
        Err(())
    }

    /// A TCP segment whose 4-tuple's demux table entry is `found`.
    pub(super) fn handle_tcp(&mut self, now: Instant, p: &TcpPacket<'_>, found: Option<u32>) {
        // The ends are built only where needed: the common path (a segment for a live
        // connection, tracing off) never does.
        let local = || SocketAddr::new(p.ip.dst, p.tcp.dst_port);
        let remote = || SocketAddr::new(p.ip.src, p.tcp.src_port);
        if let Some(idx) = found {
            if idx & TW_TAG != 0 {
                self.handle_time_wait(now, idx & !TW_TAG, local(), remote(), p);
                return;
            }
            if self.trace.is_some() {
                let (iss, irs, shift) = {
                    let c = self.slots[idx as usize].conn.as_ref().expect("table entry");
                    (c.iss.0, c.state_has_irs().then_some(c.irs.0), c.snd_wscale)
                };
                let (local, remote) = (local(), remote());
                self.trace_segment(
                    now,
                    local,
                    remote,
                    &p.tcp,
                    p.payload.len(),
                    Direction::Received,
                    Some((iss, irs.or((p.tcp.flags.syn()).then_some(p.tcp.seq)), shift)),
                );
            }
            let ecn = self.rx_ecn;
            let outcome = self.with_conn(idx, now, |c, env| {
                c.ecn_note_rx(ecn);
                c.handle_segment(env, &p.tcp, p.payload)
            });
            match outcome {
                Some(Outcome::Reset { seq }) => self.queue_rst(local(), remote(), seq, None),
                Some(Outcome::Reopen) => {
                    // RFC 6191: retire the TIME-WAIT connection, then treat the SYN as new.
                    self.with_conn(idx, now, |c, env| c.set_state(State::Closed, env));
                    self.handle_unmatched(now, local(), remote(), p);
                }
                _ => {}
            }
            return;
        }
        if !self.is_local(p.ip.dst) && self.any_listener.is_none() {
            self.stats.not_for_us += 1;
            return;
        }
        let (local, remote) = (local(), remote());
        if self.discard_bad_address(local, remote) {
            return;
        }
        if self.trace.is_some() {
            self.trace_segment(
                now,
                local,
                remote,
                &p.tcp,
                p.payload.len(),
                Direction::Received,
                None,
            );
        }
        self.handle_unmatched(now, local, remote, p);
    }

    /// A segment for no connection: a listener's business (RFC 9293 §3.10.7.2) or
    /// answered with RST (§3.10.7.1).
    #[inline(never)]
    pub(super) fn handle_unmatched(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        p: &TcpPacket<'_>,
    ) {
        let flags = p.tcp.flags;
        let listener = self
            .listen_map
            .get(&(Some(local.ip()), local.port()))
            .or_else(|| self.listen_map.get(&(None, local.port())))
            .copied()
            .filter(|&l| {
                self.listeners[l as usize].as_ref().is_some_and(|x| {
                    x.local.is_ipv4() == local.is_ipv4() || !x.local.ip().is_unspecified()
                })
            })
            .or(self.any_listener);
        let Some(l) = listener else {
            self.stats.no_connection += 1;
            self.reply_rst(local, remote, &p.tcp, p.payload.len());
            return;
        };
        // RFC 9293 §3.10.7.2 LISTEN.
        if flags.rst() {
            // An RST may withdraw a SYN held for a decision (stack/decide.rs).
            self.withdraw_syn(local, remote);
            return;
        }
        if flags.ack() {
            // RFC 4987 §3.6: it may return a SYN cookie (stack/syncookie.rs).
            if !self.handle_cookie_ack(now, l, local, remote, p) {
                self.queue_rst(local, remote, p.tcp.ack, None);
            }
            return;
        }
        if !flags.syn() {
            return;
        }
        // The backlog bounds half-open and completed-but-unaccepted connections
        // together, so the accept queue can never outgrow it when the half-open ones
        // complete (RFC 9293 §3.10.7.2 leaves the resource policy to us; like Linux, a
        // SYN that does not fit gets a SYN cookie, or is dropped and the peer
        // retransmits): stack/syncookie.rs.
        match self.admit_syn(l) {
            syncookie::Admission::Queue => {}
            syncookie::Admission::Drop => return,
            syncookie::Admission::Cookie => {
                self.send_syn_cookie(now, l, local, remote, &p.tcp);
                return;
            }
        }
        if self.connection_count() >= self.cfg.max_connections {
            self.stats.connection_limit_drops += 1;
            return;
        }
        if Some(l) == self.any_listener && self.decide.is_some() {
            // Intercepted: the application decides before anything is answered.
            let used = self.listeners[l as usize]
                .as_ref()
                .map_or(0, |x| x.syn_received + x.accept_queue.len());
            if self.hold_syn(now, local, remote, &p.tcp, used) {
                return;
            }
        }
        let iss = self.isn.isn(now, local, remote);
        let mut opts = SocketOptions::from_config(&self.cfg);
        opts.max_segment = self.listeners[l as usize]
            .as_ref()
            .and_then(|x| x.max_segment);
        let mut conn = Connection::new(&self.cfg, opts, local, remote, iss, now);
        conn.listener = Some(l);
        let idx = self.insert(conn, false);
        if let Some(lst) = self.listeners[l as usize].as_mut() {
            lst.syn_received += 1;
        }
        let tcp = p.tcp;
        let ecn = self.rx_ecn;
        self.with_conn(idx, now, |c, env| {
            c.passive_open(env, &tcp);
            // RFC 3168 §6.1.1: an ECN-setup SYN (tcp/ecn.rs).
            c.ecn_passive_open(env.cfg, &tcp, ecn);
        });
        if tcp.options.fast_open.is_some() || !p.payload.is_empty() {
            // RFC 7413 §4.2.2: a cookie, a cookie request, or data in the SYN.
            self.fastopen_passive_syn(now, idx, l, p);
        }
    }

    /// RFC 9293 §3.10.7.1: the reset for a segment that matches nothing.
    #[cold]
    pub(super) fn reply_rst(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
        seg: &TcpRepr,
        payload_len: usize,
    ) {
        if seg.flags.rst() {
            return;
        }
        if seg.flags.ack() {
            self.queue_rst(local, remote, seg.ack, None);
        } else {
            let seg_len =
                payload_len as u32 + u32::from(seg.flags.syn()) + u32::from(seg.flags.fin());
            self.queue_rst(local, remote, 0, Some(seg.seq.wrapping_add(seg_len)));
        }
    }

    #[cold]
    pub(super) fn queue_rst(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
        seq: u32,
        ack: Option<u32>,
    ) {
        if self.cfg.rst_limit > 0 {
            if self.rst_budget == 0 {
                return;
            }
            self.rst_budget -= 1;
        }
        if self.rsts.len() >= 1024 {
            return;
        }
        let mut flags = TcpFlags::RST;
        if ack.is_some() {
            flags |= TcpFlags::ACK;
        }
        self.rsts.push_back((
            local,
            remote,
            TcpRepr {
                src_port: local.port(),
                dst_port: remote.port(),
                seq,
                ack: ack.unwrap_or(0),
                flags,
                window: 0,
                urgent: 0,
                options: TcpOptions::default(),
            },
        ));
    }
}
