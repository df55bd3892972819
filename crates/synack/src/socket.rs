//! [`TcpSocket`]: a socket configured before it connects or listens, like
//! `tokio::net::TcpSocket`: bind to a local address first, choose buffer sizes,
//! Nagle, linger and the address-reuse flag, then [`connect`](TcpSocket::connect) or
//! [`listen`](TcpSocket::listen).

use crate::listener::TcpListener;
use crate::runtime::NetStack;
use crate::stream::TcpStream;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// A TCP socket not yet connected or listening, on a [`NetStack`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// use synack::{MemoryDevice, NetStack, TcpSocket};
/// let (a, b) = MemoryDevice::pair();
/// let client = NetStack::new(a, &["10.0.0.1".parse().unwrap()])?;
/// let server = NetStack::new(b, &["10.0.0.2".parse().unwrap()])?;
///
/// let listening = TcpSocket::new_v4(&server)?;
/// listening.set_reuseaddr(true)?;
/// listening.bind("10.0.0.2:8080".parse().unwrap())?;
/// let listener = listening.listen(16)?;
///
/// let socket = TcpSocket::new_v4(&client)?;
/// socket.bind("10.0.0.1:40000".parse().unwrap())?; // bind before connect
/// socket.set_send_buffer_size(64 * 1024)?;
/// socket.set_nodelay(true)?;
/// let stream = socket.connect("10.0.0.2:8080".parse().unwrap()).await?;
/// assert_eq!(stream.local_addr()?, "10.0.0.1:40000".parse().unwrap());
/// assert!(stream.nodelay()?);
/// let (_accepted, peer) = listener.accept().await?;
/// assert_eq!(peer.port(), 40000);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct TcpSocket {
    stack: NetStack,
    v6: bool,
    settings: std::sync::Mutex<Settings>,
}

/// What the socket will apply when it connects or listens.
#[derive(Debug, Clone, Default)]
struct Settings {
    local: Option<SocketAddr>,
    send_buffer: Option<usize>,
    recv_buffer: Option<usize>,
    reuseaddr: bool,
    nodelay: bool,
    linger: Option<Duration>,
}

impl TcpSocket {
    /// An IPv4 socket on `stack` (tokio's `TcpSocket::new_v4`, with the stack as the
    /// one extra argument: synack sockets belong to a stack, not to the kernel).
    pub fn new_v4(stack: &NetStack) -> io::Result<TcpSocket> {
        Ok(TcpSocket::new(stack, false))
    }

    /// An IPv6 socket on `stack`.
    pub fn new_v6(stack: &NetStack) -> io::Result<TcpSocket> {
        Ok(TcpSocket::new(stack, true))
    }

    fn new(stack: &NetStack, v6: bool) -> TcpSocket {
        TcpSocket {
            stack: stack.clone(),
            v6,
            settings: Default::default(),
        }
    }

    fn settings(&self) -> std::sync::MutexGuard<'_, Settings> {
        self.settings
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Bind to a local address (one of the stack's, or unspecified) and/or port (0:
    /// chosen at connect or listen). `InvalidInput` for the other family's address,
    /// `AddrNotAvailable` for an address the stack does not own.
    pub fn bind(&self, addr: SocketAddr) -> io::Result<()> {
        if addr.is_ipv6() != self.v6 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{addr} is not of this socket's address family"),
            ));
        }
        if !addr.ip().is_unspecified() && !self.stack.addresses().contains(&addr.ip()) {
            return Err(io::Error::new(
                io::ErrorKind::AddrNotAvailable,
                format!("{} is not an address of this stack", addr.ip()),
            ));
        }
        self.settings().local = Some(addr);
        Ok(())
    }

    /// The address bound (the unspecified address and port 0 before `bind`).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        let unspecified = if self.v6 {
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        } else {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        };
        Ok(self
            .settings()
            .local
            .unwrap_or(SocketAddr::new(unspecified, 0)))
    }

    /// SO_REUSEADDR. synack's listeners already behave as Linux's do with it set (a
    /// listener may take a port that connections, TIME-WAIT ones included, still
    /// use; a second listener on the same address is `AddrInUse` either way), so
    /// the flag is kept for the caller and changes nothing.
    pub fn set_reuseaddr(&self, reuseaddr: bool) -> io::Result<()> {
        self.settings().reuseaddr = reuseaddr;
        Ok(())
    }

    /// The SO_REUSEADDR flag as set.
    pub fn reuseaddr(&self) -> io::Result<bool> {
        Ok(self.settings().reuseaddr)
    }

    /// SO_SNDBUF of the connection (default: the stack's `Config::send_buffer`).
    pub fn set_send_buffer_size(&self, size: u32) -> io::Result<()> {
        self.settings().send_buffer = Some(size as usize);
        Ok(())
    }

    /// The send buffer size the connection will get.
    pub fn send_buffer_size(&self) -> io::Result<u32> {
        let s = self.settings().send_buffer;
        let size = s.unwrap_or_else(|| self.stack.config().send_buffer);
        Ok(u32::try_from(size).unwrap_or(u32::MAX))
    }

    /// SO_RCVBUF of the connection (default: the stack's `Config::recv_buffer`). The
    /// window scale offered on the SYN is the stack's (from `Config::recv_buffer`),
    /// so a receive buffer far larger than that cannot all be advertised.
    pub fn set_recv_buffer_size(&self, size: u32) -> io::Result<()> {
        self.settings().recv_buffer = Some(size as usize);
        Ok(())
    }

    /// The receive buffer size the connection will get.
    pub fn recv_buffer_size(&self) -> io::Result<u32> {
        let s = self.settings().recv_buffer;
        let size = s.unwrap_or_else(|| self.stack.config().recv_buffer);
        Ok(u32::try_from(size).unwrap_or(u32::MAX))
    }

    /// TCP_NODELAY for the connection (see [`TcpStream::set_nodelay`]).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.settings().nodelay = nodelay;
        Ok(())
    }

    /// The TCP_NODELAY flag as set.
    pub fn nodelay(&self) -> io::Result<bool> {
        Ok(self.settings().nodelay)
    }

    /// SO_LINGER for the connection (see [`TcpStream::set_linger`]).
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        self.settings().linger = linger;
        Ok(())
    }

    /// The SO_LINGER value as set.
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        Ok(self.settings().linger)
    }

    /// Connect to `addr` from the bound address (if any), with the settings made.
    /// Buffer sizes apply before the SYN leaves.
    pub async fn connect(self, addr: SocketAddr) -> io::Result<TcpStream> {
        if addr.is_ipv6() != self.v6 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{addr} is not of this socket's address family"),
            ));
        }
        let s = self.settings().clone();
        let stream = TcpStream::open_with(&self.stack, addr, s.local, |engine, h| {
            if s.send_buffer.is_some() || s.recv_buffer.is_some() {
                engine.set_buffer_sizes(h, s.send_buffer, s.recv_buffer);
            }
        })
        .await?;
        stream.set_nodelay(s.nodelay)?;
        stream.set_linger(s.linger)?;
        Ok(stream)
    }

    /// Listen on the bound address (`InvalidInput` if `bind` was not called, as an
    /// unbound socket has no port to listen on) with an accept queue of `backlog`
    /// connections. Buffer sizes, Nagle and linger apply to each accepted
    /// connection when it is accepted (after its handshake).
    pub fn listen(self, backlog: u32) -> io::Result<TcpListener> {
        let s = self.settings().clone();
        let Some(local) = s.local else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "bind the socket before listening",
            ));
        };
        let backlog = usize::try_from(backlog.max(1)).unwrap_or(usize::MAX);
        let mut l = TcpListener::bind_with_backlog(&self.stack, local, backlog)?;
        l.set_accept_settings(crate::listener::AcceptSettings {
            send_buffer: s.send_buffer,
            recv_buffer: s.recv_buffer,
            nodelay: s.nodelay,
            linger: s.linger,
        });
        Ok(l)
    }
}
