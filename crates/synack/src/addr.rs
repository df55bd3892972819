//! [`ToSocketAddr`]: the address argument of `connect` and `bind`, accepting the same
//! literal forms as tokio::net (a `SocketAddr`, an `(ip, port)` tuple, a `"1.2.3.4:80"`
//! or `"[::1]:80"` string) but never resolving names: synack has no resolver.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// Something that names one socket address without a name lookup.
pub trait ToSocketAddr {
    /// The address, or `InvalidInput` if it is not a literal address.
    fn to_socket_addr(&self) -> io::Result<SocketAddr>;
}

impl ToSocketAddr for SocketAddr {
    fn to_socket_addr(&self) -> io::Result<SocketAddr> {
        Ok(*self)
    }
}

impl ToSocketAddr for SocketAddrV4 {
    fn to_socket_addr(&self) -> io::Result<SocketAddr> {
        Ok(SocketAddr::V4(*self))
    }
}

impl ToSocketAddr for SocketAddrV6 {
    fn to_socket_addr(&self) -> io::Result<SocketAddr> {
        Ok(SocketAddr::V6(*self))
    }
}

impl ToSocketAddr for (IpAddr, u16) {
    fn to_socket_addr(&self) -> io::Result<SocketAddr> {
        Ok(SocketAddr::new(self.0, self.1))
    }
}

impl ToSocketAddr for (Ipv4Addr, u16) {
    fn to_socket_addr(&self) -> io::Result<SocketAddr> {
        Ok(SocketAddr::new(IpAddr::V4(self.0), self.1))
    }
}

impl ToSocketAddr for (Ipv6Addr, u16) {
    fn to_socket_addr(&self) -> io::Result<SocketAddr> {
        Ok(SocketAddr::new(IpAddr::V6(self.0), self.1))
    }
}

impl ToSocketAddr for str {
    fn to_socket_addr(&self) -> io::Result<SocketAddr> {
        self.parse().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{self:?} is not an IP address and port (synack does not resolve names)"),
            )
        })
    }
}

impl ToSocketAddr for String {
    fn to_socket_addr(&self) -> io::Result<SocketAddr> {
        self.as_str().to_socket_addr()
    }
}

impl<T: ToSocketAddr + ?Sized> ToSocketAddr for &T {
    fn to_socket_addr(&self) -> io::Result<SocketAddr> {
        (**self).to_socket_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::ToSocketAddr;
    use std::net::{Ipv4Addr, SocketAddr};

    #[test]
    fn literals_parse_and_names_are_refused() {
        let want: SocketAddr = "10.1.2.3:80".parse().expect("literal");
        assert_eq!("10.1.2.3:80".to_socket_addr().ok(), Some(want));
        assert_eq!(
            (Ipv4Addr::new(10, 1, 2, 3), 80).to_socket_addr().ok(),
            Some(want)
        );
        assert_eq!(
            "[fd00::1]:443".to_socket_addr().map(|a| a.port()).ok(),
            Some(443)
        );
        let err = "example.com:80".to_socket_addr().expect_err("no resolver");
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    }
}
