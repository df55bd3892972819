//! SOCKS5 UDP ASSOCIATE (RFC 1928 §4, §7), the part tokio-socks does not have: a TCP
//! control connection that greets the proxy (no authentication, or a username and
//! password: §3, RFC 1929), asks for an
//! association and keeps it alive, and a UDP socket that sends each datagram to the
//! relay the proxy named behind a header with the destination (and receives the
//! answers behind one with their source). With [`Upstream::Direct`] an association is
//! a plain connected UDP socket.

use super::{SocksAuth, Upstream};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// §3: version 5, one method, "no authentication required".
const GREETING: [u8; 3] = [5, 1, 0];
/// §3: version 5, two methods, "no authentication" and "username/password" (the
/// proxy picks; RFC 1929 §2 runs if it picks the second).
const GREETING_AUTH: [u8; 4] = [5, 2, 0, 2];
/// §3 method: username/password.
const METHOD_PASSWORD: u8 = 2;
/// §4 `CMD` of UDP ASSOCIATE.
const CMD_UDP_ASSOCIATE: u8 = 3;

/// Connect to the proxy and agree on "no authentication", or with `auth` on
/// username/password if the proxy asks for it.
pub(super) async fn greet(proxy: SocketAddr, auth: Option<&SocksAuth>) -> io::Result<TcpStream> {
    let mut s = TcpStream::connect(proxy).await?;
    let _ = s.set_nodelay(true);
    s.write_all(if auth.is_some() {
        &GREETING_AUTH
    } else {
        &GREETING
    })
    .await?;
    let mut answer = [0u8; 2];
    s.read_exact(&mut answer).await?;
    match (answer, auth) {
        ([5, 0], _) => Ok(s),
        ([5, METHOD_PASSWORD], Some(a)) => {
            authenticate(&mut s, a).await?;
            Ok(s)
        }
        ([5, 0xFF], None) | ([5, METHOD_PASSWORD], None) => Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "the proxy wants authentication (give --socks5 USER:PASS@HOST:PORT)",
        )),
        ([5, 0xFF], Some(_)) => Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "the proxy accepts neither no authentication nor a username and password",
        )),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("not a SOCKS5 proxy (answered {answer:?})"),
        )),
    }
}

/// RFC 1929 §2: VER(1) ULEN UNAME PLEN PASSWD; the answer VER STATUS, 0 = success.
async fn authenticate(s: &mut TcpStream, a: &SocksAuth) -> io::Result<()> {
    let (u, p) = (a.username.as_bytes(), a.password.as_bytes());
    let (Ok(ulen), Ok(plen)) = (u8::try_from(u.len()), u8::try_from(p.len())) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "SOCKS5 username and password are at most 255 bytes each",
        ));
    };
    let mut req = Vec::with_capacity(3 + u.len() + p.len());
    req.push(1);
    req.push(ulen);
    req.extend_from_slice(u);
    req.push(plen);
    req.extend_from_slice(p);
    s.write_all(&req).await?;
    let mut answer = [0u8; 2];
    s.read_exact(&mut answer).await?;
    if answer[1] != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "the proxy refused the username and password for {:?}",
                a.username
            ),
        ));
    }
    Ok(())
}

/// An address in SOCKS5 form (§5): ATYP, address, port.
fn put_addr(out: &mut Vec<u8>, a: SocketAddr) {
    match a.ip() {
        IpAddr::V4(v4) => {
            out.push(1);
            out.extend_from_slice(&v4.octets());
        }
        IpAddr::V6(v6) => {
            out.push(4);
            out.extend_from_slice(&v6.octets());
        }
    }
    out.extend_from_slice(&a.port().to_be_bytes());
}

/// Parse an address in SOCKS5 form at the start of `b`: the address and the bytes it
/// took. Domain names (ATYP 3) are not expected in answers about IP flows.
fn get_addr(b: &[u8]) -> Option<(SocketAddr, usize)> {
    match *b.first()? {
        1 => {
            let o: [u8; 4] = b.get(1..5)?.try_into().ok()?;
            let p = u16::from_be_bytes(b.get(5..7)?.try_into().ok()?);
            Some((SocketAddr::new(Ipv4Addr::from(o).into(), p), 7))
        }
        4 => {
            let o: [u8; 16] = b.get(1..17)?.try_into().ok()?;
            let p = u16::from_be_bytes(b.get(17..19)?.try_into().ok()?);
            Some((SocketAddr::new(Ipv6Addr::from(o).into(), p), 19))
        }
        _ => None,
    }
}

/// The upstream of one UDP flow.
pub(super) struct Association {
    sock: UdpSocket,
    /// `Some` through a proxy: the flow's destination, put in each header.
    target: Option<SocketAddr>,
    /// The control connection: the association lives as long as it is open (§7).
    _control: Option<TcpStream>,
}

impl Association {
    /// Open the upstream of a flow to `to`.
    pub(super) async fn open(
        upstream: Upstream,
        auth: Option<&SocksAuth>,
        to: SocketAddr,
    ) -> io::Result<Association> {
        match upstream {
            Upstream::Direct => {
                let sock = UdpSocket::bind(unspecified(to)).await?;
                sock.connect(to).await?;
                Ok(Association {
                    sock,
                    target: None,
                    _control: None,
                })
            }
            Upstream::Socks5(proxy) => {
                let mut control = greet(proxy, auth).await?;
                // §4: VER CMD RSV, then DST.ADDR/DST.PORT: where we will send from,
                // unknown yet (all zeros: the proxy takes the first datagram's source).
                let mut req = vec![5, CMD_UDP_ASSOCIATE, 0];
                put_addr(&mut req, unspecified(proxy));
                control.write_all(&req).await?;
                let mut head = [0u8; 4];
                control.read_exact(&mut head).await?;
                if head[0] != 5 || head[1] != 0 {
                    return Err(reply_error(head[1]));
                }
                let len = match head[3] {
                    1 => 4 + 2,
                    4 => 16 + 2,
                    _ => return Err(io::Error::other("SOCKS5 relay address of unknown type")),
                };
                let mut rest = vec![head[3]];
                rest.resize(1 + len, 0);
                control.read_exact(&mut rest[1..]).await?;
                let (mut relay, _) =
                    get_addr(&rest).ok_or_else(|| io::Error::other("bad SOCKS5 reply"))?;
                if relay.ip().is_unspecified() {
                    // §6: the relay is at the proxy's address.
                    relay.set_ip(proxy.ip());
                }
                let sock = UdpSocket::bind(unspecified(relay)).await?;
                sock.connect(relay).await?;
                Ok(Association {
                    sock,
                    target: Some(to),
                    _control: Some(control),
                })
            }
        }
    }

    /// Send one datagram of the flow upstream.
    pub(super) async fn send(&self, payload: &[u8]) -> io::Result<()> {
        match self.target {
            None => self.sock.send(payload).await.map(|_| ()),
            Some(to) => {
                // §7: RSV RSV FRAG(0), the destination, the data.
                let mut d = Vec::with_capacity(payload.len() + 22);
                d.extend_from_slice(&[0, 0, 0]);
                put_addr(&mut d, to);
                d.extend_from_slice(payload);
                self.sock.send(&d).await.map(|_| ())
            }
        }
    }

    /// Receive the next answer of the flow into `buf`; returns its length.
    /// Fragments (FRAG ≠ 0, §7 lets a relay drop them) and malformed headers are
    /// skipped.
    pub(super) async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let n = self.sock.recv(buf).await?;
            if self.target.is_none() {
                return Ok(n);
            }
            if n < 4 || buf[2] != 0 {
                continue;
            }
            let Some((_, used)) = get_addr(&buf[3..n]) else {
                continue;
            };
            let at = 3 + used;
            buf.copy_within(at..n, 0);
            return Ok(n - at);
        }
    }
}

fn unspecified(like: SocketAddr) -> SocketAddr {
    if like.is_ipv4() {
        SocketAddr::from(([0, 0, 0, 0], 0))
    } else {
        SocketAddr::from(([0u16; 8], 0))
    }
}

/// §6 reply codes.
fn reply_error(rep: u8) -> io::Error {
    let (kind, what) = match rep {
        2 => (io::ErrorKind::PermissionDenied, "not allowed by ruleset"),
        3 => (io::ErrorKind::NetworkUnreachable, "network unreachable"),
        4 => (io::ErrorKind::HostUnreachable, "host unreachable"),
        5 => (io::ErrorKind::ConnectionRefused, "connection refused"),
        7 => (io::ErrorKind::Unsupported, "command not supported"),
        _ => (io::ErrorKind::Other, "general failure"),
    };
    io::Error::new(kind, format!("SOCKS5 proxy: {what} (reply {rep})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip_in_socks_form() {
        for a in ["192.0.2.7:53", "[2001:db8::7]:5353"] {
            let a: SocketAddr = a.parse().unwrap();
            let mut b = Vec::new();
            put_addr(&mut b, a);
            b.extend_from_slice(b"tail");
            let (back, used) = get_addr(&b).unwrap();
            assert_eq!(back, a);
            assert_eq!(&b[used..], b"tail");
        }
        assert_eq!(get_addr(&[3, 4, b'h', b'o', b's', b't', 0, 53]), None);
        assert_eq!(get_addr(&[1, 10, 0]), None, "cut short");
    }
}
