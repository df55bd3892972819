//! [`ToSocketAddr`] and [`ToSocketAddrs`]: the address arguments of `connect` and
//! `bind`, accepting the same literal forms as tokio::net (a `SocketAddr`, an
//! `(ip, port)` tuple, `("10.0.0.1", 80)`, a `"1.2.3.4:80"` or `"[::1]:80"` string, a
//! slice or `Vec` of addresses tried in turn) but never resolving names: synack has
//! no resolver.

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

impl ToSocketAddr for (&str, u16) {
    fn to_socket_addr(&self) -> io::Result<SocketAddr> {
        let ip: IpAddr = self.0.parse().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{:?} is not an IP address (synack does not resolve names)",
                    self.0
                ),
            )
        })?;
        Ok(SocketAddr::new(ip, self.1))
    }
}

impl ToSocketAddr for (String, u16) {
    fn to_socket_addr(&self) -> io::Result<SocketAddr> {
        (self.0.as_str(), self.1).to_socket_addr()
    }
}

impl<T: ToSocketAddr + ?Sized> ToSocketAddr for &T {
    fn to_socket_addr(&self) -> io::Result<SocketAddr> {
        (**self).to_socket_addr()
    }
}

/// One or more socket addresses, like `tokio::net::ToSocketAddrs` without name
/// resolution: everything [`ToSocketAddr`] takes, plus `&[SocketAddr]` and
/// `Vec<SocketAddr>`. `connect` and `bind` try the addresses in order and return the
/// first success (or the last error).
pub trait ToSocketAddrs {
    /// The addresses, in the order to try them (`InvalidInput` for a bad literal).
    fn to_socket_addrs(&self) -> io::Result<Vec<SocketAddr>>;
}

impl<T: ToSocketAddr + ?Sized> ToSocketAddrs for T {
    fn to_socket_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        Ok(vec![self.to_socket_addr()?])
    }
}

impl ToSocketAddrs for [SocketAddr] {
    fn to_socket_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        Ok(self.to_vec())
    }
}

impl<const N: usize> ToSocketAddrs for [SocketAddr; N] {
    fn to_socket_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        Ok(self.to_vec())
    }
}

impl ToSocketAddrs for &[SocketAddr] {
    fn to_socket_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        Ok(self.to_vec())
    }
}

impl ToSocketAddrs for Vec<SocketAddr> {
    fn to_socket_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        Ok(self.clone())
    }
}

/// Run `f` on each address of `addrs` until one succeeds; the last error otherwise
/// (`InvalidInput` when there is no address at all).
pub(crate) async fn each_addr<T, F, Fut>(
    addrs: &(impl ToSocketAddrs + ?Sized),
    mut f: F,
) -> io::Result<T>
where
    F: FnMut(SocketAddr) -> Fut,
    Fut: std::future::Future<Output = io::Result<T>>,
{
    let mut last = None;
    for a in addrs.to_socket_addrs()? {
        match f(a).await {
            Ok(v) => return Ok(v),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to try")))
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
        assert_eq!(("10.1.2.3", 80).to_socket_addr().ok(), Some(want));
        assert!(("example.com", 80).to_socket_addr().is_err());
    }

    #[test]
    fn lists_keep_their_order() {
        use super::ToSocketAddrs;
        let a: SocketAddr = "10.0.0.1:1".parse().expect("literal");
        let b: SocketAddr = "[fd00::1]:2".parse().expect("literal");
        assert_eq!([a, b].to_socket_addrs().ok(), Some(vec![a, b]));
        fn list(x: impl ToSocketAddrs) -> Option<Vec<SocketAddr>> {
            x.to_socket_addrs().ok()
        }
        assert_eq!(list(&[b, a][..]), Some(vec![b, a]));
        assert_eq!(vec![a].to_socket_addrs().ok(), Some(vec![a]));
        assert_eq!("10.0.0.1:1".to_socket_addrs().ok(), Some(vec![a]));
    }
}
