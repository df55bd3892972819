//! Packets that must never be answered: segments to or from broadcast, multicast or
//! unspecified addresses or port 0 (RFC 1122 §4.2.3.10, §3.2.1.3), discarded before
//! a listener (specific or the any-destination intercept) or the RST reply sees them,
//! and counted in [`StackStats::bad_address`](super::StackStats::bad_address).
//! The address rules are [`synack_wire::addr`]'s, shared with UDP; the subnet-directed
//! broadcasts, which depend on prefixes only the driver knows, are declared here.

use super::Stack;
use core::net::{IpAddr, SocketAddr};
use synack_wire::addr::is_acceptable_unicast;

impl Stack {
    /// Declare `addr` a broadcast address of an attached network (a subnet-directed
    /// broadcast such as `192.168.1.255` for `192.168.1.0/24`): segments to or from it
    /// are discarded unanswered, like those to `255.255.255.255` (RFC 1122 §3.2.1.3
    /// (d), §4.2.3.10), and `connect` refuses it.
    pub fn add_broadcast(&mut self, addr: IpAddr) {
        if !self.broadcasts.contains(&addr) {
            self.broadcasts.push(addr);
        }
    }

    /// True when `addr` may be an end of a connection or an exchange: a unicast
    /// address, not a declared broadcast, and a port other than 0.
    pub(crate) fn is_acceptable_end(&self, addr: SocketAddr) -> bool {
        is_acceptable_unicast(addr) && !self.broadcasts.contains(&addr.ip())
    }

    /// RFC 1122 §4.2.3.10 / §3.2.1.3 for a segment that matched no connection: true
    /// (and counted) when it must be dropped without a reply, a SYN or anything else.
    #[cold]
    pub(super) fn discard_bad_address(&mut self, local: SocketAddr, remote: SocketAddr) -> bool {
        if self.is_acceptable_end(local) && self.is_acceptable_end(remote) {
            return false;
        }
        self.stats.bad_address += 1;
        true
    }
}
