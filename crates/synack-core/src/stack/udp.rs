//! The stack's side of UDP (RFC 768) and ICMP echo: the public UDP calls (bind,
//! connect, send, receive, the any-destination intercept), demultiplexing of arriving
//! datagrams (a connected socket, then a bound one, then the intercept), the
//! port-unreachable answer for a datagram nobody takes (RFC 1122 §4.1.3.1, rate
//! limited), echo replies (RFC 792, RFC 4443 §4.2), and emitting queued datagrams.
//! The state itself lives in `crate::udp`.

use super::{Stack, Transmit};
use crate::time::{Duration, Instant};
use crate::udp::{
    charge, no_icmp_errors, unspecified_like, Datagram, FlowKey, Outgoing, Socket, UdpError,
    UdpEvent, UdpHandle, ICMP_QUEUE,
};
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::net::{IpAddr, SocketAddr};
use synack_wire::echo::{emit_port_unreachable, EchoRepr};
use synack_wire::icmp::{IcmpKind, IcmpRepr};
use synack_wire::udp::UDP_HEADER_LEN;
use synack_wire::{emit_udp_packet, Error, IpRepr, UdpRepr, PROTO_ICMP, PROTO_ICMPV6, PROTO_UDP};

/// Most destinations with a learnt path MTU (expired entries are purged when full,
/// then all of them).
const PMTU_ENTRIES: usize = 4096;

/// How long a learnt path MTU holds before the link MTU is tried again (RFC 1191 §6.3:
/// 10 minutes).
const PMTU_AGE: Duration = Duration::from_secs(600);

/// Largest ICMP packet we queue (an IPv6 error is at most 1280 bytes; an echo reply
/// is as large as the request, so at most the MTU).
const ICMP_BUF: usize = 1280;

impl Stack {
    // ---------------------------------------------------------------- UDP calls

    /// Open a UDP socket bound to `local`: one of the stack's addresses, or the
    /// unspecified address of a family for all of them; port 0 picks an ephemeral
    /// port (RFC 6056, the allocator TCP uses). Fails with `AddrInUse` when the port
    /// is bound on that address (or, for an unspecified one, on any of the family)
    /// and `BadAddress` when the address is not the stack's.
    ///
    /// Sans-IO, like the rest of the engine: packets in, packets out, `now` given.
    ///
    /// ```
    /// use synack_core::{Config, Instant, Stack};
    /// let mut a = Stack::new(Config::default(), [1; 16]);
    /// a.add_address("10.0.0.1".parse().unwrap());
    /// let mut b = Stack::new(Config::default(), [2; 16]);
    /// b.add_address("10.0.0.2".parse().unwrap());
    /// let server = b.udp_bind("10.0.0.2:53".parse().unwrap()).unwrap();
    /// let client = a.udp_bind("0.0.0.0:0".parse().unwrap()).unwrap();
    /// a.udp_send_to(client, b"query", "10.0.0.2:53".parse().unwrap()).unwrap();
    /// let now = Instant::from_millis(0);
    /// let mut buf = vec![0u8; a.max_packet_size()];
    /// while let Some(t) = a.poll_transmit(now, &mut buf) {
    ///     b.handle_packet(now, &buf[..t.len]); // the "link"
    /// }
    /// let mut got = [0u8; 64];
    /// let (n, from, to) = b.udp_recv_from(server, &mut got).unwrap();
    /// assert_eq!(&got[..n], b"query");
    /// assert_eq!((from.ip(), to.port()), ("10.0.0.1".parse().unwrap(), 53));
    /// ```
    pub fn udp_bind(&mut self, local: SocketAddr) -> Result<UdpHandle, UdpError> {
        let ip = local.ip();
        if !ip.is_unspecified() && !self.is_local(ip) {
            return Err(UdpError::BadAddress);
        }
        let port = if local.port() != 0 {
            if self.udp.port_taken(ip, local.port(), &self.addrs) {
                return Err(UdpError::AddrInUse);
            }
            local.port()
        } else {
            let (udp, addrs) = (&self.udp, &self.addrs);
            let nowhere = SocketAddr::new(unspecified_like(ip), 0);
            self.ports
                .allocate(ip, nowhere, |p| udp.port_taken(ip, p, addrs))
                .ok_or(UdpError::NoPorts)?
        };
        let local = SocketAddr::new(ip, port);
        let h = self.udp.insert(new_socket(local, false));
        self.udp.binds.insert((ip, port), h.idx);
        Ok(h)
    }

    /// Open the any-destination UDP intercept (for VPN / tun2socks use): every
    /// datagram reaching the stack that no bound socket takes is queued on it with its
    /// original source and destination ([`udp_recv_datagram`](Stack::udp_recv_datagram)),
    /// and [`udp_send_as`](Stack::udp_send_as) replies as that destination. Each
    /// (source, destination) pair is a flow the stack remembers until it has been idle
    /// for [`Config::udp_flow_timeout`](crate::Config::udp_flow_timeout) (or
    /// `udp_flow_timeout_stream` once the application replied), then reports as
    /// [`UdpEvent::FlowExpired`]. One intercept per stack (`AddrInUse` otherwise).
    pub fn udp_intercept(&mut self) -> Result<UdpHandle, UdpError> {
        if self.udp.intercept.is_some() {
            return Err(UdpError::AddrInUse);
        }
        let h = self.udp.insert(new_socket(
            SocketAddr::new(IpAddr::V4(core::net::Ipv4Addr::UNSPECIFIED), 0),
            true,
        ));
        self.udp.intercept = Some(h.idx);
        Ok(h)
    }

    /// Connect a bound socket to `peer`: it then takes datagrams from `peer` only (a
    /// datagram from anyone else is treated as if the socket did not exist), and
    /// [`udp_send`](Stack::udp_send) sends to it. An unspecified bind gets the
    /// stack's first address of the family as its source.
    pub fn udp_connect(&mut self, h: UdpHandle, peer: SocketAddr) -> Result<(), UdpError> {
        if peer.ip().is_unspecified() || peer.port() == 0 {
            return Err(UdpError::BadAddress);
        }
        let sock = self.udp.sock(h)?;
        if sock.intercept || sock.local.is_ipv4() != peer.is_ipv4() {
            return Err(UdpError::BadAddress);
        }
        let src = if sock.local.ip().is_unspecified() {
            *self
                .addrs
                .iter()
                .find(|a| a.is_ipv4() == peer.is_ipv4())
                .ok_or(UdpError::BadAddress)?
        } else {
            sock.local.ip()
        };
        let sock = self.udp.sock_mut(h)?;
        sock.peer = Some(peer);
        sock.conn_src = Some(src);
        Ok(())
    }

    /// The largest UDP payload one packet to `dst` carries: the path MTU (the link
    /// MTU, or less once an ICMP "fragmentation needed" / "packet too big" about one
    /// of our datagrams to `dst` said so, for 10 minutes: RFC 1191 §6.3, RFC 8201
    /// §4) less the IP and UDP headers.
    pub fn udp_max_payload(&self, dst: IpAddr) -> usize {
        let ip = if dst.is_ipv4() { 20 } else { 40 };
        let mtu = match self.udp.pmtu.get(&dst) {
            Some(&(m, until)) if until > self.udp.clock => m.min(self.cfg.mtu),
            _ => self.cfg.mtu,
        };
        mtu.saturating_sub(ip + UDP_HEADER_LEN)
    }

    /// Queue `payload` as one datagram to `dst`. Returns its length. A payload larger
    /// than [`udp_max_payload`](Stack::udp_max_payload) is refused with `TooLarge`
    /// (never cut); a full send queue gives `WouldBlock` and a
    /// [`UdpEvent::Writable`] later.
    pub fn udp_send_to(
        &mut self,
        h: UdpHandle,
        payload: &[u8],
        dst: SocketAddr,
    ) -> Result<usize, UdpError> {
        let sock = self.udp.sock(h)?;
        if sock.intercept {
            return Err(UdpError::BadAddress);
        }
        if dst.ip().is_unspecified() || dst.port() == 0 || sock.local.is_ipv4() != dst.is_ipv4() {
            return Err(UdpError::BadAddress);
        }
        let src_ip = match sock.conn_src {
            Some(ip) if ip.is_ipv4() == dst.is_ipv4() => ip,
            _ if !sock.local.ip().is_unspecified() => sock.local.ip(),
            _ => *self
                .addrs
                .iter()
                .find(|a| a.is_ipv4() == dst.is_ipv4())
                .ok_or(UdpError::BadAddress)?,
        };
        let src = SocketAddr::new(src_ip, sock.local.port());
        self.queue_datagram(h, src, dst, payload)
    }

    /// [`udp_send_to`](Stack::udp_send_to) the connected peer.
    pub fn udp_send(&mut self, h: UdpHandle, payload: &[u8]) -> Result<usize, UdpError> {
        let peer = self.udp.sock(h)?.peer.ok_or(UdpError::NotConnected)?;
        self.udp_send_to(h, payload, peer)
    }

    /// Send `payload` from `from` to `to` through the intercept `h`: the reply of an
    /// intercepted destination (`from`, the original destination) to its client
    /// (`to`). Refreshes the flow, which then has the longer stream timeout.
    pub fn udp_send_as(
        &mut self,
        now: Instant,
        h: UdpHandle,
        from: SocketAddr,
        to: SocketAddr,
        payload: &[u8],
    ) -> Result<usize, UdpError> {
        if !self.udp.sock(h)?.intercept {
            return Err(UdpError::NotIntercept);
        }
        if from.ip().is_unspecified()
            || to.ip().is_unspecified()
            || to.port() == 0
            || from.is_ipv4() != to.is_ipv4()
        {
            return Err(UdpError::BadAddress);
        }
        let n = self.queue_datagram(h, from, to, payload)?;
        if let Some(f) = self.udp.flows.get_mut(&FlowKey::new(to, from)) {
            f.last = now;
            f.replied = true;
        }
        Ok(n)
    }

    /// Refuse an intercepted flow: answer `client` with ICMP port unreachable from
    /// `target` (the original destination) about the datagram `payload` it sent, as
    /// a closed port would, and forget the flow. The error is rate-limited like every
    /// ICMP error the stack sends; `Ok(false)` when the limit held it back. For an
    /// application that learns the destination is unreachable (an upstream proxy
    /// refused it).
    pub fn udp_refuse(
        &mut self,
        now: Instant,
        h: UdpHandle,
        client: SocketAddr,
        target: SocketAddr,
        payload: &[u8],
    ) -> Result<bool, UdpError> {
        if !self.udp.sock(h)?.intercept {
            return Err(UdpError::NotIntercept);
        }
        if client.is_ipv4() != target.is_ipv4() || no_icmp_errors(client.ip()) {
            return Err(UdpError::BadAddress);
        }
        self.udp.flows.remove(&FlowKey::new(client, target));
        let (rate, burst) = (self.cfg.icmp_error_rate, self.cfg.icmp_error_burst);
        if !self.udp.icmp_bucket.take(now, rate, burst) {
            self.udp.stats.icmp_rate_limited += 1;
            return Ok(false);
        }
        // The quote: the datagram as the client sent it, as far as an ICMP error
        // quotes (its IP and UDP headers and the start of the payload).
        let ip = IpRepr {
            src: client.ip(),
            dst: target.ip(),
            protocol: PROTO_UDP,
            ttl: self.cfg.ttl,
            payload_len: 0,
        };
        let at = ip.header_len() + UDP_HEADER_LEN;
        let quoted = payload.len().min(ICMP_BUF);
        let mut orig = vec![0u8; at + quoted];
        orig[at..].copy_from_slice(&payload[..quoted]);
        let udp = UdpRepr {
            src_port: client.port(),
            dst_port: target.port(),
        };
        let mut p = vec![0u8; ICMP_BUF];
        let sent = emit_udp_packet(&mut orig, &ip, &udp, quoted)
            .and_then(|n| emit_port_unreachable(target.ip(), client.ip(), &orig[..n], &mut p));
        match sent {
            Ok(n) => {
                p.truncate(n);
                let queued = self.queue_icmp(p);
                if queued {
                    self.udp.stats.port_unreachable_sent += 1;
                }
                Ok(queued)
            }
            Err(_) => Err(UdpError::BadAddress),
        }
    }

    fn queue_datagram(
        &mut self,
        h: UdpHandle,
        src: SocketAddr,
        dst: SocketAddr,
        payload: &[u8],
    ) -> Result<usize, UdpError> {
        let max = self.udp_max_payload(dst.ip());
        if payload.len() > max {
            self.udp.stats.too_large += 1;
            return Err(UdpError::TooLarge { max });
        }
        let limit = self.cfg.udp_send_buffer;
        let sock = self.udp.sock_mut(h)?;
        if let Some(e) = sock.error.take() {
            return Err(e);
        }
        let c = charge(payload.len());
        if sock.tx_bytes > 0 && sock.tx_bytes + c > limit {
            sock.want_writable = true;
            return Err(UdpError::WouldBlock);
        }
        sock.tx_bytes += c;
        self.udp.out.push_back(Outgoing {
            src,
            dst,
            payload: payload.to_vec(),
            owner: h,
        });
        Ok(payload.len())
    }

    /// True when a send of `len` bytes would be queued now (not `WouldBlock`).
    pub fn udp_send_ready(&self, h: UdpHandle, len: usize) -> bool {
        self.udp
            .sock(h)
            .is_ok_and(|s| s.tx_bytes == 0 || s.tx_bytes + charge(len) <= self.cfg.udp_send_buffer)
    }

    /// Take the next datagram into `buf`: returns the bytes copied (the rest of a
    /// longer datagram is discarded, as a socket's `recv_from` does), the sender, and
    /// the address it was sent to. `WouldBlock` when none is queued.
    pub fn udp_recv_from(
        &mut self,
        h: UdpHandle,
        buf: &mut [u8],
    ) -> Result<(usize, SocketAddr, SocketAddr), UdpError> {
        let d = self.udp.take(h)?;
        let n = d.payload.len().min(buf.len());
        buf[..n].copy_from_slice(&d.payload[..n]);
        Ok((n, d.src, d.dst))
    }

    /// Take the next datagram whole (no copy).
    pub fn udp_recv_datagram(&mut self, h: UdpHandle) -> Result<Datagram, UdpError> {
        self.udp.take(h)
    }

    /// The next datagram's payload length and sender, without taking it.
    pub fn udp_peek(&self, h: UdpHandle) -> Option<(usize, SocketAddr)> {
        let d = self.udp.sock(h).ok()?.rx.front()?;
        Some((d.payload.len(), d.src))
    }

    /// Take the error an ICMP message left for the connected socket, if any (like
    /// `SO_ERROR`); the next receive or send would have returned it.
    pub fn udp_take_error(&mut self, h: UdpHandle) -> Option<UdpError> {
        self.udp.sock_mut(h).ok()?.error.take()
    }

    /// Datagrams waiting in the socket's receive queue.
    pub fn udp_recv_queue(&self, h: UdpHandle) -> usize {
        self.udp.sock(h).map_or(0, |s| s.rx.len())
    }

    /// The socket's address: the bound one, with the source address `connect` chose
    /// for an unspecified bind (`0.0.0.0:0` for the intercept).
    pub fn udp_local_addr(&self, h: UdpHandle) -> Option<SocketAddr> {
        let s = self.udp.sock(h).ok()?;
        Some(match s.conn_src {
            Some(ip) => SocketAddr::new(ip, s.local.port()),
            None => s.local,
        })
    }

    /// The connected peer.
    pub fn udp_peer_addr(&self, h: UdpHandle) -> Option<SocketAddr> {
        self.udp.sock(h).ok()?.peer
    }

    /// True for the handle of the intercept.
    pub fn udp_is_intercept(&self, h: UdpHandle) -> bool {
        self.udp.sock(h).is_ok_and(|s| s.intercept)
    }

    /// Close a socket: unread datagrams are dropped, queued ones are still sent.
    /// Closing the intercept forgets every flow.
    pub fn udp_close(&mut self, h: UdpHandle) {
        if self.udp_is_intercept(h) {
            self.clear_udp_flow_decisions();
        }
        self.udp.remove(h);
    }

    /// Intercepted flows the stack remembers.
    pub fn udp_flow_count(&self) -> usize {
        self.udp.flows.len()
    }

    /// Bytes the flow table holds allocated (it shrinks as flows expire).
    pub fn udp_flow_memory(&self) -> usize {
        self.udp.flow_memory()
    }

    /// The next UDP event.
    pub fn poll_udp_event(&mut self) -> Option<UdpEvent> {
        self.udp.events.pop_front()
    }

    // ---------------------------------------------------------------- input

    /// A packet that parsed as IP but is neither TCP nor an ICMP error about TCP:
    /// UDP, ICMP echo, or something else.
    pub(super) fn handle_ip_other(
        &mut self,
        now: Instant,
        ip: &IpRepr,
        bytes: &[u8],
        verify: bool,
    ) {
        let icmp = if ip.src.is_ipv4() {
            PROTO_ICMP
        } else {
            PROTO_ICMPV6
        };
        if ip.protocol == PROTO_UDP {
            self.handle_udp(now, bytes, verify);
        } else if ip.protocol == icmp {
            self.handle_icmp_other(now, ip, bytes);
        } else {
            self.unhandled(bytes);
        }
    }

    fn handle_udp(&mut self, now: Instant, bytes: &[u8], verify: bool) {
        self.udp.clock = self.udp.clock.max(now);
        let Ok((ip, body)) = IpRepr::parse(bytes) else {
            self.stats.malformed += 1;
            return;
        };
        let (udp, payload) = match UdpRepr::parse(body, ip.src, ip.dst, verify) {
            Ok(x) => x,
            Err(Error::BadChecksum { what }) => {
                self.stats.bad_checksum += 1;
                self.udp.stats.bad_checksum += 1;
                if what != "UDP" {
                    self.udp.stats.zero_checksum_v6 += 1;
                }
                return;
            }
            Err(_) => {
                self.stats.malformed += 1;
                self.udp.stats.malformed += 1;
                return;
            }
        };
        self.udp.stats.datagrams_in += 1;
        let src = SocketAddr::new(ip.src, udp.src_port);
        let dst = SocketAddr::new(ip.dst, udp.dst_port);
        let limit = self.cfg.udp_recv_buffer;
        if let Some(idx) = self.udp_lookup(src, dst) {
            let d = Datagram {
                payload: payload.to_vec(),
                src,
                dst,
            };
            self.udp.deliver(idx, d, limit);
            return;
        }
        if let Some(idx) = self.udp.intercept {
            // A datagram from an address that may not be a source (RFC 1122 §3.2.1.3)
            // starts no flow, nor one to a broadcast or multicast group (mDNS, SSDP
            // from the host behind the device): an intercept answers as one unicast
            // destination, which a group is not.
            if no_icmp_errors(ip.src)
                || no_icmp_errors(ip.dst)
                || udp.src_port == 0
                || udp.dst_port == 0
            {
                self.udp.stats.not_for_us += 1;
                return;
            }
            let key = FlowKey::new(src, dst);
            // A new flow waits for the application's decision when it asked for one
            // (stack/udp_decide.rs).
            if !self.udp.flows.contains_key(&key) && self.hold_udp_flow(now, key, payload) {
                return;
            }
            let (timeout, max) = (self.cfg.udp_flow_timeout, self.cfg.udp_max_flows);
            if self.udp.touch_flow(key, now, timeout, max) {
                let d = Datagram {
                    payload: payload.to_vec(),
                    src,
                    dst,
                };
                self.udp.deliver(idx, d, limit);
            }
            return;
        }
        if !self.is_local(ip.dst) {
            self.udp.stats.not_for_us += 1;
            self.unhandled(bytes);
            return;
        }
        self.udp.stats.no_socket += 1;
        // RFC 1122 §4.1.3.1: port unreachable; never about a datagram to a broadcast or
        // multicast address or from one that may not receive errors (RFC 1122
        // §3.2.2, RFC 4443 §2.4 (e)); rate-limited (RFC 1812 §4.3.2.8, RFC 4443 §2.4 (f)).
        if no_icmp_errors(ip.src) || no_icmp_errors(ip.dst) {
            self.udp.stats.icmp_suppressed += 1;
            return;
        }
        let (rate, burst) = (self.cfg.icmp_error_rate, self.cfg.icmp_error_burst);
        if !self.udp.icmp_bucket.take(now, rate, burst) {
            self.udp.stats.icmp_rate_limited += 1;
            return;
        }
        let mut p = vec![0u8; ICMP_BUF];
        if let Ok(n) = emit_port_unreachable(ip.dst, ip.src, bytes, &mut p) {
            p.truncate(n);
            if self.queue_icmp(p) {
                self.udp.stats.port_unreachable_sent += 1;
            }
        }
    }

    /// The socket that takes a datagram from `src` to `dst`: a socket bound to
    /// `dst` exactly, else one bound to its family's unspecified address, either only
    /// if unconnected or connected to `src`. Only for our own addresses.
    fn udp_lookup(&self, src: SocketAddr, dst: SocketAddr) -> Option<u32> {
        if !self.is_local(dst.ip()) {
            return None;
        }
        [dst.ip(), unspecified_like(dst.ip())]
            .into_iter()
            .filter_map(|ip| self.udp.binds.get(&(ip, dst.port())).copied())
            .find(|&idx| {
                self.udp.slots[idx as usize]
                    .sock
                    .as_ref()
                    .is_some_and(|s| s.peer.is_none_or(|p| p == src))
            })
    }

    /// An ICMP message that is not an error about TCP: echo requests are answered.
    fn handle_icmp_other(&mut self, now: Instant, ip: &IpRepr, bytes: &[u8]) {
        self.udp.clock = self.udp.clock.max(now);
        let Ok((_, body)) = IpRepr::parse(bytes) else {
            self.stats.malformed += 1;
            return;
        };
        let (echo, data) = match EchoRepr::parse(body, ip.src, ip.dst) {
            Ok((e, d)) if e.request => (e, d),
            Err(Error::UnsupportedIcmp { .. }) => {
                match IcmpRepr::parse_quoting(body, ip.src, ip.dst, PROTO_UDP) {
                    Ok(icmp) => self.handle_icmp_udp(now, &icmp),
                    Err(Error::UnsupportedIcmp { .. }) => self.unhandled(bytes),
                    Err(_) => {
                        self.udp.stats.icmp_malformed += 1;
                        self.stats.malformed += 1;
                    }
                }
                return;
            }
            Ok(_) => {
                // Echo replies (we send no requests), errors about other protocols,
                // neighbour discovery, ...
                self.unhandled(bytes);
                return;
            }
            Err(_) => {
                self.udp.stats.icmp_malformed += 1;
                self.stats.malformed += 1;
                return;
            }
        };
        self.udp.stats.echo_requests += 1;
        let intercepted = self.cfg.icmp_echo_intercepted
            && (self.udp.intercept.is_some() || self.any_listener.is_some());
        // RFC 1122 §3.2.2.6: every host answers echo requests sent to it; not to a
        // broadcast or multicast destination, not to a source that cannot receive.
        if !self.cfg.icmp_echo
            || !(self.is_local(ip.dst) || intercepted)
            || no_icmp_errors(ip.src)
            || no_icmp_errors(ip.dst)
        {
            self.unhandled(bytes);
            return;
        }
        let mut p = vec![0u8; data.len() + 8 + ip.header_len()];
        if let Ok(n) = echo
            .reply()
            .emit_packet(ip.dst, ip.src, self.cfg.ttl, data, &mut p)
        {
            p.truncate(n);
            if self.queue_icmp(p) {
                self.udp.stats.echo_replies += 1;
            }
        }
    }

    /// An ICMP error about one of our datagrams (RFC 1122 §4.1.3.3: passed to the
    /// application): a hard unreachable from the connected peer is reported to that
    /// socket once (ECONNREFUSED); "fragmentation needed" / "packet too big" lowers
    /// the path MTU to the quoted destination (RFC 1191, RFC 8201), never below the
    /// minimum MTU of the family (68 / 1280).
    fn handle_icmp_udp(&mut self, now: Instant, icmp: &IcmpRepr) {
        let local = SocketAddr::new(icmp.quoted_src, icmp.src_port);
        let peer = SocketAddr::new(icmp.quoted_dst, icmp.dst_port);
        let Some(idx) = self.udp_lookup(peer, local) else {
            self.udp.stats.icmp_errors_ignored += 1;
            return;
        };
        match icmp.kind {
            IcmpKind::PacketTooBig { mtu } => {
                let floor = if peer.is_ipv4() { 68 } else { 1280 };
                let mtu = (mtu as usize).max(floor);
                if mtu >= self.cfg.mtu {
                    self.udp.stats.icmp_errors_ignored += 1;
                    return;
                }
                if self.udp.pmtu.len() >= PMTU_ENTRIES {
                    let clock = self.udp.clock;
                    self.udp.pmtu.retain(|_, (_, until)| *until > clock);
                    if self.udp.pmtu.len() >= PMTU_ENTRIES {
                        self.udp.pmtu.clear();
                    }
                }
                self.udp.pmtu.insert(peer.ip(), (mtu, now + PMTU_AGE));
            }
            IcmpKind::DestUnreachable { hard: true, .. } => {
                let h = self.udp.handle_of(idx);
                let Some(sock) = self.udp.slots[idx as usize].sock.as_mut() else {
                    return;
                };
                if sock.peer != Some(peer) {
                    // Linux reports errors on unconnected sockets only with IP_RECVERR.
                    self.udp.stats.icmp_errors_ignored += 1;
                    return;
                }
                sock.error = Some(UdpError::Refused);
                self.udp.events.push_back(UdpEvent::Readable(h));
            }
            _ => {
                self.udp.stats.icmp_errors_ignored += 1;
                return;
            }
        }
        self.udp.stats.icmp_errors_applied += 1;
    }

    fn queue_icmp(&mut self, p: Vec<u8>) -> bool {
        if self.udp.icmp_out.len() >= ICMP_QUEUE {
            self.udp.stats.icmp_queue_full += 1;
            return false;
        }
        self.udp.icmp_out.push_back(p);
        true
    }

    /// Forget intercepted flows idle past their timeouts.
    pub(super) fn handle_timeout_udp(&mut self, now: Instant) {
        self.udp.clock = self.udp.clock.max(now);
        if self.udp.next_deadline().is_some_and(|t| t <= now) {
            let (a, b) = (self.cfg.udp_flow_timeout, self.cfg.udp_flow_timeout_stream);
            self.udp.expire_flows(now, a, b);
        }
    }

    // ---------------------------------------------------------------- output

    /// The next queued ICMP packet or UDP datagram, written into `buf`.
    pub(super) fn poll_transmit_udp(&mut self, buf: &mut [u8]) -> Option<Transmit> {
        while let Some(p) = self.udp.icmp_out.pop_front() {
            let Some(dst) = buf.get_mut(..p.len()) else {
                self.stats.emit_errors += 1;
                continue;
            };
            dst.copy_from_slice(&p);
            return Some(self.count_out(p.len()));
        }
        while let Some(o) = self.udp.out.pop_front() {
            let limit = self.cfg.udp_send_buffer;
            let owner = o.owner;
            if let Ok(s) = self.udp.sock_mut(owner) {
                s.tx_bytes -= charge(o.payload.len());
                if s.want_writable && s.tx_bytes <= limit / 2 {
                    s.want_writable = false;
                    self.udp.events.push_back(UdpEvent::Writable(owner));
                }
            }
            let ip = IpRepr {
                src: o.src.ip(),
                dst: o.dst.ip(),
                protocol: PROTO_UDP,
                ttl: self.cfg.ttl,
                payload_len: 0,
            };
            let at = ip.header_len() + UDP_HEADER_LEN;
            let udp = UdpRepr {
                src_port: o.src.port(),
                dst_port: o.dst.port(),
            };
            let written = buf
                .get_mut(at..at + o.payload.len())
                .map(|room| room.copy_from_slice(&o.payload))
                .and_then(|()| emit_udp_packet(buf, &ip, &udp, o.payload.len()).ok());
            match written {
                Some(n) => {
                    self.udp.stats.datagrams_out += 1;
                    return Some(self.count_out(n));
                }
                None => self.stats.emit_errors += 1,
            }
        }
        None
    }

    fn count_out(&mut self, len: usize) -> Transmit {
        self.stats.packets_out += 1;
        self.stats.largest_packet_out = self.stats.largest_packet_out.max(len as u64);
        Transmit {
            len,
            segment_size: None,
        }
    }
}

fn new_socket(local: SocketAddr, intercept: bool) -> Socket {
    Socket {
        local,
        conn_src: None,
        peer: None,
        intercept,
        rx: VecDeque::new(),
        rx_bytes: 0,
        tx_bytes: 0,
        want_writable: false,
        error: None,
    }
}
