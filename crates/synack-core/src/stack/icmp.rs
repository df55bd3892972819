//! ICMP errors about our connections (RFC 5927, RFC 1122 §4.2.3.9), handled as Linux
//! `tcp_v4_err` / `tcp_v6_err` do, so an application sees the errno it would see on
//! Linux:
//!
//! - the message must quote a sequence number in flight (RFC 5927 §4.1), else it is
//!   ignored and counted;
//! - packet too big / fragmentation needed lowers the MSS (RFC 1191 §6.5, RFC 8201);
//! - in SYN-SENT (and SYN-RECEIVED of a simultaneous open) any destination unreachable
//!   or time exceeded ends the connect at once with the error it names (Linux calls
//!   `tcp_done_with_error` there for soft and hard codes alike: a connect to an
//!   unreachable network fails with ENETUNREACH in milliseconds, not with ETIMEDOUT
//!   after the SYN retries);
//! - a passive half-open connection is dropped for net / host unreachable and time
//!   exceeded (Linux `tcp_req_err`), silently: the peer may be spoofed;
//! - in a synchronized state the error is only remembered as the soft error (RFC 1122
//!   §4.2.3.9: "SHOULD NOT abort"; Linux `sk_err_soft`, hard codes included): it is
//!   reported by SO_ERROR ([`Stack::take_soft_error`]) and becomes the connection's
//!   error if it later times out (retransmissions, zero-window probes, keep-alive,
//!   user timeout), in place of `TimedOut`. An acceptable ACK clears it.

use super::ConnHandle;
use super::{Stack, TW_TAG};
use crate::error::ConnError;
use crate::seq::Seq;
use crate::state::State;
use crate::time::Instant;
use core::net::SocketAddr;
use synack_wire::icmp::{IcmpKind, IcmpRepr};

/// The error an ICMP message reports to a TCP connection (Linux `icmp_err_convert`,
/// `icmpv6_err_convert`), or `None` for a message TCP ignores.
pub(crate) fn icmp_error(ipv6: bool, kind: IcmpKind) -> Option<ConnError> {
    match kind {
        IcmpKind::PacketTooBig { .. } => None,
        IcmpKind::TimeExceeded => Some(ConnError::Unreachable),
        IcmpKind::DestUnreachable { code, .. } if ipv6 => match code {
            // RFC 4443 §3.1: no route to destination.
            0 => Some(ConnError::NetUnreachable),
            // Administratively prohibited, source address failed policy, reject route.
            1 | 5 | 6 => Some(ConnError::Prohibited),
            // Beyond scope of source address, address unreachable.
            2 | 3 => Some(ConnError::Unreachable),
            4 => Some(ConnError::Refused),
            _ => None,
        },
        IcmpKind::DestUnreachable { code, .. } => match code {
            // RFC 792 / RFC 1122 §3.2.2.1: net unreachable, net unknown, net
            // administratively prohibited, net unreachable for TOS.
            0 | 6 | 9 | 11 => Some(ConnError::NetUnreachable),
            2 => Some(ConnError::ProtocolUnreachable),
            3 => Some(ConnError::Refused),
            // Host codes, source route failed, communication administratively
            // prohibited (RFC 1812 §5.2.7.1), precedence violation / cutoff. (Linux
            // gives EHOSTDOWN, ENONET and EOPNOTSUPP for codes 7, 8 and 5; they are
            // reported here as the host being unreachable.)
            1 | 5 | 7 | 8 | 10 | 12..=15 => Some(ConnError::Unreachable),
            _ => None,
        },
    }
}

impl Stack {
    /// RFC 5927 / RFC 1122 §4.2.3.9: an ICMP error about one of our connections.
    #[cold]
    pub(super) fn handle_icmp(&mut self, now: Instant, icmp: &IcmpRepr) {
        let local = SocketAddr::new(icmp.quoted_src, icmp.src_port);
        let remote = SocketAddr::new(icmp.quoted_dst, icmp.dst_port);
        let Some(&idx) = self
            .table
            .get(&(local, remote))
            .or_else(|| self.tw_table.get(&(local, remote)))
        else {
            self.stats.icmp_ignored += 1;
            return;
        };
        if idx & TW_TAG != 0 {
            // TIME-WAIT: nothing is in flight (RFC 5927 §4.1).
            self.stats.icmp_ignored += 1;
            return;
        }
        let kind = icmp.kind;
        let seq = Seq(icmp.seq);
        let applied = self.with_conn(idx, now, |c, env| {
            // RFC 5927 §4.1: the quoted sequence number must be in flight.
            let in_flight = seq >= c.snd_una && seq < c.snd_max.max(c.snd_una + 1);
            if !in_flight {
                return false;
            }
            if let IcmpKind::PacketTooBig { mtu } = kind {
                let hdr = if c.local.is_ipv6() { 60 } else { 40 };
                let new_mss = (mtu as usize).saturating_sub(hdr).max(536) as u16;
                if new_mss < c.mss {
                    c.mss = new_mss;
                    // RFC 1191 §6.5: retransmit what was too big at once.
                    c.snd_nxt = c.snd_una;
                    if c.state == State::SynSent {
                        // A SYN (with Fast Open data) was too big: it goes again now
                        // as a retransmission, a plain SYN offering the smaller MSS
                        // (Linux `tcp_v4_mtu_reduced` / `tcp_simple_retransmit`);
                        // the data follows the handshake.
                        c.retries = c.retries.max(1);
                    }
                }
                return true;
            }
            let Some(err) = icmp_error(c.local.is_ipv6(), kind) else {
                return false;
            };
            match c.state {
                State::SynSent => c.fail(err, env),
                State::SynReceived if c.listener.is_none() => c.fail(err, env),
                // A Fast Open connection not yet accepted dies of any unreachable
                // (Linux `tcp_v4_err` in SYN-RECV); its SYN data stays readable.
                State::SynReceived
                    if c.fastopen_passive() && matches!(kind, IcmpKind::DestUnreachable { .. }) =>
                {
                    c.fail(err, env)
                }
                State::SynReceived => {
                    // Linux tcp_req_err: only these drop a request.
                    let drop = match kind {
                        IcmpKind::TimeExceeded => true,
                        IcmpKind::DestUnreachable { code, .. } => code <= 1,
                        IcmpKind::PacketTooBig { .. } => false,
                    };
                    if drop {
                        c.fail(err, env);
                    }
                }
                _ => c.soft_error = Some(err),
            }
            true
        });
        if applied == Some(true) {
            self.stats.icmp_applied += 1;
        } else {
            self.stats.icmp_ignored += 1;
        }
    }

    /// The connection's soft error, cleared by reading it: what Linux `SO_ERROR`
    /// reports when the socket has no (hard) error of its own (`sk_err_soft`). It is
    /// the last ICMP error that arrived for the connection in a synchronized state,
    /// until an acceptable ACK showed the path works again. A connection that died
    /// reports its [`ConnInfo::error`](crate::ConnInfo::error) instead.
    pub fn take_soft_error(&mut self, h: ConnHandle) -> Option<ConnError> {
        let idx = self.check(h)?;
        self.slots[idx as usize].conn.as_mut()?.soft_error.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unreach(code: u8) -> IcmpKind {
        IcmpKind::DestUnreachable { code, hard: false }
    }

    #[test]
    fn codes_map_to_linux_errnos() {
        // ICMPv4 (Linux icmp_err_convert).
        assert_eq!(
            icmp_error(false, unreach(0)),
            Some(ConnError::NetUnreachable)
        );
        assert_eq!(icmp_error(false, unreach(1)), Some(ConnError::Unreachable));
        assert_eq!(
            icmp_error(false, unreach(2)),
            Some(ConnError::ProtocolUnreachable)
        );
        assert_eq!(icmp_error(false, unreach(3)), Some(ConnError::Refused));
        assert_eq!(
            icmp_error(false, unreach(9)),
            Some(ConnError::NetUnreachable)
        );
        assert_eq!(icmp_error(false, unreach(13)), Some(ConnError::Unreachable));
        assert_eq!(icmp_error(false, unreach(16)), None);
        // ICMPv6 (Linux icmpv6_err_convert, RFC 4443 §3.1).
        assert_eq!(
            icmp_error(true, unreach(0)),
            Some(ConnError::NetUnreachable)
        );
        assert_eq!(icmp_error(true, unreach(1)), Some(ConnError::Prohibited));
        assert_eq!(icmp_error(true, unreach(3)), Some(ConnError::Unreachable));
        assert_eq!(icmp_error(true, unreach(4)), Some(ConnError::Refused));
        assert_eq!(icmp_error(true, unreach(7)), None);
        for v6 in [false, true] {
            assert_eq!(
                icmp_error(v6, IcmpKind::TimeExceeded),
                Some(ConnError::Unreachable)
            );
            assert_eq!(icmp_error(v6, IcmpKind::PacketTooBig { mtu: 1280 }), None);
        }
    }
}
