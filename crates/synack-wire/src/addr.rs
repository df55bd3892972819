//! Which addresses a transport may talk to: RFC 1122's rules for the addresses a
//! segment or datagram must never come from or be answered to (broadcast, multicast,
//! unspecified, port 0). Shared by TCP (the stack's listeners and the any-destination
//! intercept) and UDP, so both discard the same packets.

use core::net::{IpAddr, Ipv4Addr, SocketAddr};

/// True when `ip` can be one end of a unicast conversation: not unspecified
/// (`0.0.0.0`, `::`), not in IPv4 "this network" `0.0.0.0/8` (RFC 1122 §3.2.1.3 (a),
/// (b): only a source while booting), not IPv4 multicast `224.0.0.0/4` or the limited
/// broadcast `255.255.255.255` (§3.2.1.3 (c)), not IPv6 multicast `ff00::/8` (RFC
/// 4291 §2.7); IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry.
/// Subnet-directed broadcasts depend on the prefix, which only the driver knows: see
/// [`is_acceptable_unicast`]'s callers.
pub fn is_unicast(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => is_unicast_v4(a),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => is_unicast_v4(v4),
            None => !a.is_unspecified() && !a.is_multicast(),
        },
    }
}

fn is_unicast_v4(a: Ipv4Addr) -> bool {
    a.octets()[0] != 0 && !a.is_multicast() && !a.is_broadcast()
}

/// True when `addr` may be an end of a TCP connection or a UDP exchange: a unicast
/// address ([`is_unicast`]) and a port other than 0 (RFC 1122 §4.2.3.10: "MUST
/// silently discard an incoming SYN segment that is addressed to a broadcast or
/// multicast address"; §3.2.1.3 and §4.1.3.6: such addresses are never a source and
/// get no reply; port 0 is reserved, RFC 6335 §6).
pub fn is_acceptable_unicast(addr: SocketAddr) -> bool {
    addr.port() != 0 && is_unicast(addr.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn classifies_addresses() {
        for ok in [
            "10.0.0.1:80",
            "192.0.2.255:1",
            "[fd00::1]:443",
            "[::ffff:10.0.0.1]:9",
        ] {
            assert!(is_acceptable_unicast(sa(ok)), "{ok}");
        }
        for bad in [
            "0.0.0.0:80",
            "0.1.2.3:80",
            "224.0.0.1:80",
            "239.255.255.250:1900",
            "255.255.255.255:67",
            "10.0.0.1:0",
            "[::]:80",
            "[ff02::1]:80",
            "[::ffff:255.255.255.255]:80",
            "[::ffff:224.0.0.5]:80",
            "[fd00::1]:0",
        ] {
            assert!(!is_acceptable_unicast(sa(bad)), "{bad}");
        }
    }
}
