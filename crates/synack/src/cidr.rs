//! [`IpCidr`]: an address with a prefix length (`10.0.0.2/24`, `fd00::2/64`), as the
//! TUN convention's `--addr` and `--host-addr` take it, and the "first host of the
//! prefix" rule that picks the kernel's address (the TUN convention, see tun.rs).

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// An IP address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpCidr {
    /// The address.
    pub addr: IpAddr,
    /// The prefix length (at most 32 for IPv4, 128 for IPv6).
    pub prefix: u8,
}

impl IpCidr {
    /// `addr/prefix`; fails if the prefix is too long for the family.
    pub fn new(addr: IpAddr, prefix: u8) -> io::Result<IpCidr> {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("prefix /{prefix} is too long for {addr}"),
            ));
        }
        Ok(IpCidr { addr, prefix })
    }

    /// True if `ip` lies in this prefix.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                let m = mask32(self.prefix);
                u32::from(a) & m == u32::from(b) & m
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                let m = mask128(self.prefix);
                u128::from(a) & m == u128::from(b) & m
            }
            _ => false,
        }
    }

    /// The subnet-directed broadcast address of an IPv4 prefix (`10.0.0.255` for
    /// `10.0.0.2/24`); `None` for IPv6 (which has none) and for /31 and /32, which have
    /// no broadcast (RFC 3021).
    pub fn broadcast(&self) -> Option<IpAddr> {
        match self.addr {
            IpAddr::V4(a) if self.prefix <= 30 => Some(IpAddr::V4(Ipv4Addr::from(
                u32::from(a) | !mask32(self.prefix),
            ))),
            _ => None,
        }
    }

    /// The address the kernel's end of a TUN device gets when synack owns `self`: the
    /// first host address of the prefix (`10.0.0.1` for `10.0.0.2/24`), or the second
    /// if synack took the first. Fails for prefixes with no room for two hosts.
    pub fn peer_host(&self) -> io::Result<IpCidr> {
        let addr = match self.addr {
            IpAddr::V4(a) => {
                if self.prefix > 30 {
                    return Err(too_small(self));
                }
                let net = u32::from(a) & mask32(self.prefix);
                let first = net + 1;
                IpAddr::V4(Ipv4Addr::from(if first == u32::from(a) {
                    first + 1
                } else {
                    first
                }))
            }
            IpAddr::V6(a) => {
                if self.prefix > 126 {
                    return Err(too_small(self));
                }
                let net = u128::from(a) & mask128(self.prefix);
                let first = net + 1;
                IpAddr::V6(Ipv6Addr::from(if first == u128::from(a) {
                    first + 1
                } else {
                    first
                }))
            }
        };
        Ok(IpCidr {
            addr,
            prefix: self.prefix,
        })
    }
}

fn too_small(c: &IpCidr) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{c} leaves no room for a kernel address: give the kernel's address explicitly"),
    )
}

fn mask32(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix.min(32)))
    }
}

fn mask128(prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(prefix.min(128)))
    }
}

impl fmt::Display for IpCidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for IpCidr {
    type Err = io::Error;

    /// `ADDR/PREFIX`, or a bare address (a /32 or /128).
    fn from_str(s: &str) -> io::Result<IpCidr> {
        let bad = || {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{s:?} is not ADDR/PREFIX"),
            )
        };
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.trim().parse().map_err(|_| bad())?;
        let prefix = match p {
            Some(p) => p.trim().parse::<u8>().map_err(|_| bad())?,
            None if addr.is_ipv4() => 32,
            None => 128,
        };
        IpCidr::new(addr, prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::IpCidr;

    fn c(s: &str) -> IpCidr {
        s.parse().expect("cidr")
    }

    #[test]
    fn kernel_side_is_the_first_host_unless_taken() {
        assert_eq!(c("10.0.0.2/24").peer_host().ok(), Some(c("10.0.0.1/24")));
        assert_eq!(c("10.0.0.1/24").peer_host().ok(), Some(c("10.0.0.2/24")));
        assert_eq!(c("10.9.8.77/16").peer_host().ok(), Some(c("10.9.0.1/16")));
        assert_eq!(c("fd00::2/64").peer_host().ok(), Some(c("fd00::1/64")));
        assert!(c("10.0.0.2/31").peer_host().is_err());
        assert!("10.0.0.2/33".parse::<IpCidr>().is_err());
    }

    #[test]
    fn subnet_broadcast() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().expect("ip");
        assert_eq!(c("10.0.0.2/24").broadcast(), Some(ip("10.0.0.255")));
        assert_eq!(c("10.9.8.77/16").broadcast(), Some(ip("10.9.255.255")));
        assert_eq!(c("192.0.2.9/30").broadcast(), Some(ip("192.0.2.11")));
        assert_eq!(c("10.0.0.2/31").broadcast(), None);
        assert_eq!(c("fd00::2/64").broadcast(), None);
    }

    #[test]
    fn parse_contains_display() {
        let x = c("192.0.2.10/24");
        assert!(x.contains("192.0.2.200".parse().expect("ip")));
        assert!(!x.contains("192.0.3.1".parse().expect("ip")));
        assert_eq!(x.to_string(), "192.0.2.10/24");
        assert_eq!(c("fd00::5").prefix, 128);
        assert!("nonsense/8".parse::<IpCidr>().is_err());
        assert!("10.0.0.1/x".parse::<IpCidr>().is_err());
    }
}
