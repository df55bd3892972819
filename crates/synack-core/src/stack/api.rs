//! The application's calls on one connection: open (RFC 9293 §3.10.1), send and
//! receive (§3.10.2–3), shutdown, close and abort (§3.10.4–5), and the per-connection
//! queries and socket options.

use super::*;

impl Stack {
    /// Open a connection to `remote` (RFC 9293 §3.10.1). `local` picks the local address
    /// and/or port; `None` (or an unspecified IP / port 0) lets the stack choose an
    /// address of the right family and an ephemeral port (RFC 6056).
    pub fn connect(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        local: Option<SocketAddr>,
    ) -> Result<ConnHandle, ConnectError> {
        let h = self.connect_deferred(now, remote, local, None)?;
        self.with_conn(h.idx, now, |c, env| c.active_open(env));
        Ok(h)
    }

    /// [`connect`](Stack::connect) up to the SYN: the connection exists (CLOSED), its
    /// ends and ISS are chosen, and `active_open` has not run. `opts`: the options to
    /// start with (else the configuration's).
    pub(super) fn connect_deferred(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        local: Option<SocketAddr>,
        opts: Option<SocketOptions>,
    ) -> Result<ConnHandle, ConnectError> {
        // RFC 1122 §4.2.3.10: an OPEN to a broadcast or multicast address is an error.
        if !self.is_acceptable_end(remote) {
            return Err(ConnectError::BadAddress);
        }
        if self.connection_count() >= self.cfg.max_connections {
            return Err(ConnectError::TooManyConnections);
        }
        let want_ip = local.map(|l| l.ip()).filter(|ip| !ip.is_unspecified());
        let local_ip = match want_ip {
            Some(ip) => ip,
            None => *self
                .addrs
                .iter()
                .find(|a| a.is_ipv4() == remote.is_ipv4())
                .ok_or(ConnectError::BadAddress)?,
        };
        if local_ip.is_ipv4() != remote.is_ipv4() {
            return Err(ConnectError::BadAddress);
        }
        let port = match local.map(|l| l.port()).filter(|p| *p != 0) {
            Some(p) => {
                let tuple = (SocketAddr::new(local_ip, p), remote);
                if self.table.contains_key(&tuple) || self.tw_table.contains_key(&tuple) {
                    return Err(ConnectError::AddrInUse);
                }
                p
            }
            None => {
                let (table, tw_table) = (&self.table, &self.tw_table);
                let listen_map = &self.listen_map;
                self.ports
                    .allocate(local_ip, remote, |p| {
                        table
                            .lookup(local_ip, p, remote.ip(), remote.port())
                            .is_some()
                            || tw_table
                                .lookup(local_ip, p, remote.ip(), remote.port())
                                .is_some()
                            || listen_map.contains_key(&(None, p))
                            || listen_map.contains_key(&(Some(local_ip), p))
                    })
                    .ok_or(ConnectError::NoPorts)?
            }
        };
        let local = SocketAddr::new(local_ip, port);
        let iss = self.isn.isn(now, local, remote);
        let opts = opts.unwrap_or_else(|| SocketOptions::from_config(&self.cfg));
        let conn = Connection::new(&self.cfg, opts, local, remote, iss, now);
        let idx = self.insert(conn, true);
        Ok(self.handle_of(idx))
    }

    /// Queue data for sending (RFC 9293 §3.10.2). Returns how many bytes were taken.
    pub fn send(&mut self, h: ConnHandle, data: &[u8]) -> Result<usize, SendError> {
        self.send_flagged(h, data, false)
    }

    /// Queue data like [`send`](Stack::send) with `more` saying more data follows
    /// (Linux `MSG_MORE`, tcp/cork.rs): when true, a partial segment waits for the
    /// next write, an ACK, or the probe timer, and the data is not pushed (no PSH).
    pub(super) fn send_flagged(
        &mut self,
        h: ConnHandle,
        data: &[u8],
        more: bool,
    ) -> Result<usize, SendError> {
        let idx = self.check(h).ok_or(SendError::InvalidHandle)?;
        let c = self.slots[idx as usize]
            .conn
            .as_mut()
            .ok_or(SendError::InvalidHandle)?;
        if c.state == State::Closed {
            return Err(match c.error {
                Some(e) => SendError::Closed(e),
                None => SendError::Shutdown,
            });
        }
        if c.fin_queued || !c.state.can_send() {
            return Err(SendError::Shutdown);
        }
        if data.is_empty() {
            return Ok(0);
        }
        let start = c.buf_seq + c.send.len() as u32;
        let n = self.write_within_budget(idx, h, data);
        if n == 0 {
            return Err(SendError::WouldBlock);
        }
        if let Some(c) = self.slots[idx as usize].conn.as_mut() {
            c.cork_on_write(start, more);
        }
        self.mark_dirty(idx);
        Ok(n)
    }

    /// Mark the end of what has been written to `h` so far as the end of a record
    /// (Linux `MSG_EOR`): no segment will carry bytes of this record and the next,
    /// and the record's last segment carries PSH.
    pub fn end_record(&mut self, h: ConnHandle) {
        if let Some(idx) = self.check(h) {
            if let Some(c) = self.slots[idx as usize].conn.as_mut() {
                c.end_record();
            }
        }
    }

    /// Read received data (RFC 9293 §3.10.3). `Ok(0)` means the peer closed its side
    /// and everything was read (end of stream).
    #[inline]
    pub fn recv(&mut self, h: ConnHandle, buf: &mut [u8]) -> Result<usize, RecvError> {
        let idx = self.check(h).ok_or(RecvError::InvalidHandle)?;
        let c = self.slots[idx as usize]
            .conn
            .as_deref()
            .ok_or(RecvError::InvalidHandle)?;
        if c.recv.is_empty() && !buf.is_empty() && !c.fin_received && c.state != State::Closed {
            // Nothing to read yet (the common poll): answered inline.
            return Err(RecvError::WouldBlock);
        }
        self.recv_at(idx, buf)
    }

    /// [`recv`](Stack::recv) on the live connection in slot `idx`.
    #[inline(never)]
    fn recv_at(&mut self, idx: u32, buf: &mut [u8]) -> Result<usize, RecvError> {
        let c = self.slots[idx as usize]
            .conn
            .as_mut()
            .ok_or(RecvError::InvalidHandle)?;
        let n = c.read(buf);
        if n > 0 {
            if c.pend.ack_now {
                self.mark_dirty(idx);
            }
            self.recharge(idx);
            return Ok(n);
        }
        if buf.is_empty() {
            return Ok(0);
        }
        if c.fin_received {
            return Ok(0);
        }
        match c.state {
            State::Closed => match c.error {
                Some(e) => Err(RecvError::Closed(e)),
                None => Ok(0),
            },
            State::SynSent | State::SynReceived => Err(RecvError::WouldBlock),
            _ => Err(RecvError::WouldBlock),
        }
    }

    /// Read received data in place, without copying it out: `f` is shown the
    /// readable bytes as one or two slices (two when they wrap around the receive
    /// ring; stream order is the first then the second) and returns how many of them
    /// it consumed (clamped to what it was shown). Returns that count, like
    /// [`recv`](Stack::recv) returns the bytes copied: `Ok(0)` is end of stream, and
    /// `f` is not called when nothing is readable.
    pub fn recv_with(
        &mut self,
        h: ConnHandle,
        f: impl FnOnce(&[u8], &[u8]) -> usize,
    ) -> Result<usize, RecvError> {
        let idx = self.check(h).ok_or(RecvError::InvalidHandle)?;
        let c = self.slots[idx as usize]
            .conn
            .as_mut()
            .ok_or(RecvError::InvalidHandle)?;
        if !c.recv.is_empty() {
            let n = c.read_with(f);
            if c.pend.ack_now {
                self.mark_dirty(idx);
            }
            self.recharge(idx);
            return Ok(n);
        }
        // Nothing readable: the same answers as `recv` with a non-empty buffer.
        self.recv(h, &mut [0u8; 1])
    }

    /// Close the sending side: FIN follows the queued data (a half-close; RFC 9293
    /// §3.10.4). Reading continues until the peer closes too.
    pub fn shutdown(&mut self, now: Instant, h: ConnHandle) -> Result<(), SendError> {
        let idx = self.check(h).ok_or(SendError::InvalidHandle)?;
        self.with_conn(idx, now, |c, env| {
            if c.fin_queued {
                return;
            }
            match c.state {
                State::SynSent => c.set_state(State::Closed, env),
                State::SynReceived => c.fin_queued = true,
                State::Established => {
                    c.fin_queued = true;
                    c.set_state(State::FinWait1, env);
                }
                State::CloseWait => {
                    c.fin_queued = true;
                    c.set_state(State::LastAck, env);
                }
                _ => {}
            }
        });
        Ok(())
    }

    /// Close the connection and give up the handle (RFC 9293 §3.10.4). Queued data is
    /// still delivered and the FIN handshake completes in the background. If received
    /// data was left unread, the connection is reset instead (RFC 2525 §2.17).
    pub fn close(&mut self, now: Instant, h: ConnHandle) {
        let Some(idx) = self.check(h) else { return };
        let unread = self.slots[idx as usize]
            .conn
            .as_ref()
            .is_some_and(|c| !c.recv.is_empty() && c.state != State::Closed);
        if unread {
            self.abort(now, h);
            return;
        }
        let _ = self.shutdown(now, h);
        if self.orphan_cap_reached(idx) {
            // Linux tcp_close with tcp_check_oom: too many orphans, reset this one.
            self.stats.orphans_reset += 1;
            self.abort(now, h);
            return;
        }
        self.slots[idx as usize].app_owned = false;
        self.set_orphan(idx);
        if let Some(c) = self.slots[idx as usize].conn.as_mut() {
            if c.state == State::FinWait2 {
                c.linger_at = Some(now + c.opts.fin_wait2_timeout);
            }
        }
        self.after_call(idx);
    }

    /// Abort: send RST if the peer knows of the connection, free it at once
    /// (RFC 9293 §3.10.5; SO_LINGER with 0 timeout).
    pub fn abort(&mut self, now: Instant, h: ConnHandle) {
        let Some(idx) = self.check(h) else { return };
        self.slots[idx as usize].app_owned = false;
        self.set_orphan(idx);
        let mut ts = None;
        self.with_conn(idx, now, |c, env| {
            if matches!(
                c.state,
                State::SynReceived
                    | State::Established
                    | State::FinWait1
                    | State::FinWait2
                    | State::CloseWait
            ) {
                c.pend.rst_pending = true;
                if c.ts_ok {
                    ts = Some((c.remote.port(), c.ts_now(env.now), c.ts_recent));
                }
            }
            c.fail(ConnError::Aborted, env);
        });
        // RFC 7323 §3.2: once negotiated, TSopt "SHOULD be sent in an <RST>" too
        // (Linux does); the RST was just queued for the closed connection.
        if let (Some((port, val, ecr)), Some((_, _, repr))) = (ts, self.rsts.back_mut()) {
            if repr.flags.contains(TcpFlags::RST) && repr.dst_port == port {
                repr.options.timestamp = Some((val, ecr));
            }
        }
    }

    /// A snapshot of the connection.
    ///
    /// A connection closed by the application and now in TIME-WAIT keeps only a
    /// compact record: its snapshot has the state, ends, ISNs, RTO and window, and
    /// zero counters.
    pub fn info(&self, h: ConnHandle) -> Option<ConnInfo> {
        let Some(idx) = self.check(h) else {
            return self.time_wait_of(h).map(|r| r.info());
        };
        Some(self.slots[idx as usize].conn.as_ref()?.info())
    }

    /// The connection's state (`TimeWait` still for a closed handle whose connection
    /// waits out 2*MSL).
    pub fn state(&self, h: ConnHandle) -> Option<State> {
        let Some(idx) = self.check(h) else {
            return self.time_wait_of(h).map(|_| State::TimeWait);
        };
        Some(self.slots[idx as usize].conn.as_ref()?.state)
    }

    /// Our address of the connection (the original destination for intercepted ones).
    pub fn local_addr(&self, h: ConnHandle) -> Option<SocketAddr> {
        let Some(idx) = self.check(h) else {
            return self.time_wait_of(h).map(|r| r.local);
        };
        Some(self.slots[idx as usize].conn.as_ref()?.local)
    }

    /// The peer's address.
    pub fn peer_addr(&self, h: ConnHandle) -> Option<SocketAddr> {
        let Some(idx) = self.check(h) else {
            return self.time_wait_of(h).map(|r| r.remote);
        };
        Some(self.slots[idx as usize].conn.as_ref()?.remote)
    }

    /// Bytes that can be read now.
    pub fn recv_queue(&self, h: ConnHandle) -> usize {
        self.check(h)
            .and_then(|i| self.slots[i as usize].conn.as_ref())
            .map_or(0, |c| c.recv.len())
    }

    /// Room in the send buffer.
    pub fn send_capacity(&self, h: ConnHandle) -> usize {
        self.check(h)
            .and_then(|i| self.slots[i as usize].conn.as_ref())
            .map_or(0, |c| c.send.free())
    }

    /// True when the peer's FIN has been received and all data before it was read.
    pub fn is_read_closed(&self, h: ConnHandle) -> bool {
        self.check(h)
            .and_then(|i| self.slots[i as usize].conn.as_ref())
            .is_none_or(|c| (c.fin_received || c.state == State::Closed) && c.recv.is_empty())
    }

    /// The connection's socket options.
    pub fn options(&self, h: ConnHandle) -> Option<SocketOptions> {
        let idx = self.check(h)?;
        Some(self.slots[idx as usize].conn.as_ref()?.opts.clone())
    }

    /// Change socket options (TCP_NODELAY, keep-alive, user timeout, ...).
    pub fn set_options(&mut self, now: Instant, h: ConnHandle, f: impl FnOnce(&mut SocketOptions)) {
        let Some(idx) = self.check(h) else { return };
        self.with_conn(idx, now, |c, env| {
            let congestion = c.opts.congestion.clone();
            let (cork, nodelay) = (c.opts.cork, c.opts.nodelay);
            f(&mut c.opts);
            // Uncorking, or switching Nagle off, pushes what is queued (tcp/cork.rs).
            if (cork && !c.opts.cork) || (!nodelay && c.opts.nodelay) {
                c.cork_on_push(c.opts.nodelay);
            }
            if c.opts.congestion != congestion {
                let chosen = core::mem::replace(&mut c.opts.congestion, congestion);
                c.set_congestion(chosen);
            }
            if let Some(m) = c.opts.max_segment {
                c.mss = c.mss.min(m.max(64));
            }
            c.keepalive_at = None;
            c.arm_keepalive(env);
        });
    }

    /// Disable or enable Nagle's algorithm.
    /// Setting it (even again) pushes what is queued past a cork, as Linux's
    /// `TCP_NODELAY` does (tcp/cork.rs).
    pub fn set_nodelay(&mut self, now: Instant, h: ConnHandle, nodelay: bool) {
        self.set_options(now, h, |o| o.nodelay = nodelay);
        if nodelay {
            self.push(now, h);
        }
    }

    /// Choose the connection's congestion controller (Linux `TCP_CONGESTION`). Before
    /// the handshake completes it replaces the stack's default; later the new
    /// controller starts from the current cwnd with ssthresh at its initial value.
    pub fn set_congestion(&mut self, now: Instant, h: ConnHandle, algorithm: Algorithm) {
        self.set_options(now, h, |o| o.congestion = algorithm);
    }

    /// Resize the buffers of a connection (SO_SNDBUF / SO_RCVBUF). A buffer sized this
    /// way no longer autotunes.
    pub fn set_buffer_sizes(&mut self, h: ConnHandle, send: Option<usize>, recv: Option<usize>) {
        let Some(idx) = self.check(h) else { return };
        if let Some(c) = self.slots[idx as usize].conn.as_mut() {
            // A size the application chose is kept: autotuning stops for that
            // buffer (as Linux locks it); memory pressure may still shrink it.
            if let Some(s) = send {
                c.send.set_capacity(s);
                c.tune.send_locked = true;
            }
            if let Some(r) = recv {
                c.recv.set_capacity(r);
                c.tune.recv_locked = true;
            }
        }
        self.recharge(idx);
    }
}
