//! [`TcpListener`]: passive opens on a [`NetStack`] (RFC 9293 §3.10.1 LISTEN), like
//! `tokio::net::TcpListener`, plus the intercepting listener for VPN / tun2socks use
//! that accepts connections to any address and port reaching the device.

use crate::addr::{ToSocketAddr, ToSocketAddrs};
use crate::error::listen_error;
use crate::runtime::{NetStack, StackRef};
use crate::stream::{StreamInner, TcpStream};
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll};
use std::time::Duration;
use synack_core::{ListenError, ListenerHandle};

/// First port of the range an unspecified port (0) is chosen from (RFC 6056 §2.1).
const EPHEMERAL_FIRST: u16 = 49152;

/// A TCP listener on a [`NetStack`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// use synack::{MemoryDevice, NetStack, TcpListener, TcpStream};
/// use tokio::io::AsyncWriteExt;
/// let (a, b) = MemoryDevice::pair();
/// let client = NetStack::new(a, &["10.0.0.1".parse().unwrap()])?;
/// let server = NetStack::new(b, &["10.0.0.2".parse().unwrap()])?;
/// let listener = TcpListener::bind(&server, "0.0.0.0:8080").await?;
/// tokio::spawn(async move {
///     while let Ok((mut s, _)) = listener.accept().await {
///         let _ = s.write_all(b"hi\n").await;
///     }
/// });
/// let mut c = TcpStream::connect(&client, "10.0.0.2:8080").await?;
/// let mut line = String::new();
/// tokio::io::AsyncReadExt::read_to_string(&mut c, &mut line).await?;
/// assert_eq!(line, "hi\n");
/// # Ok(())
/// # }
/// ```
pub struct TcpListener {
    stack: StackRef,
    h: ListenerHandle,
    local: SocketAddr,
    intercept: bool,
    accept_settings: Option<AcceptSettings>,
}

/// Options a listener made by [`TcpSocket::listen`](crate::TcpSocket::listen) gives
/// each connection it accepts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AcceptSettings {
    pub(crate) send_buffer: Option<usize>,
    pub(crate) recv_buffer: Option<usize>,
    pub(crate) nodelay: bool,
    pub(crate) linger: Option<Duration>,
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("local", &self.local)
            .field("intercept", &self.intercept)
            .finish()
    }
}

impl TcpListener {
    /// Listen on `addr`: one of the stack's addresses, or the unspecified address of a
    /// family (`0.0.0.0` / `::`) for all of them. Port 0 picks a free port from the
    /// ephemeral range. Fails with `AddrInUse` if something listens there already and
    /// `AddrNotAvailable` if the address is not the stack's.
    /// Several addresses (`("10.0.0.2", 80)`, `&[SocketAddr]`) are tried in turn,
    /// as tokio does: the first that can be bound is.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// use synack::{MemoryDevice, NetStack, TcpListener};
    /// let (a, _b) = MemoryDevice::pair();
    /// let stack = NetStack::new(a, &["10.0.0.1".parse().unwrap()])?;
    /// let first = TcpListener::bind(&stack, ("10.0.0.1", 80)).await?;
    /// // 10.0.0.1:80 is taken, so the next address is bound.
    /// let addrs: [std::net::SocketAddr; 2] =
    ///     ["10.0.0.1:80".parse().unwrap(), "10.0.0.1:8080".parse().unwrap()];
    /// let second = TcpListener::bind(&stack, &addrs[..]).await?;
    /// assert_eq!(second.local_addr()?.port(), 8080);
    /// # drop(first);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn bind(stack: &NetStack, addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        let mut last = None;
        for a in addr.to_socket_addrs()? {
            match TcpListener::bind_with_backlog(stack, a, 0) {
                Ok(l) => return Ok(l),
                Err(e) => last = Some(e),
            }
        }
        Err(last
            .unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to bind")))
    }

    /// Give accepted connections these options.
    pub(crate) fn set_accept_settings(&mut self, s: AcceptSettings) {
        self.accept_settings = Some(s);
    }

    /// Like [`bind`](TcpListener::bind) with an accept-queue bound (0 = the
    /// configured default).
    pub fn bind_with_backlog(
        stack: &NetStack,
        addr: impl ToSocketAddr,
        backlog: usize,
    ) -> io::Result<TcpListener> {
        let addr = addr.to_socket_addr()?;
        let mut inner = stack.stack.lock();
        inner.check_running()?;
        let (h, local) = if addr.port() != 0 {
            (
                inner.engine.listen(addr, backlog).map_err(listen_error)?,
                addr,
            )
        } else {
            // Try the ephemeral range from a random point until a port is free.
            let span = u32::from(u16::MAX - EPHEMERAL_FIRST) + 1;
            let start = rand::random::<u32>() % span;
            let mut found = None;
            for i in 0..span {
                let port = EPHEMERAL_FIRST + ((start + i) % span) as u16;
                let a = SocketAddr::new(addr.ip(), port);
                match inner.engine.listen(a, backlog) {
                    Ok(h) => {
                        found = Some((h, a));
                        break;
                    }
                    Err(ListenError::AddrInUse) => continue,
                    Err(e) => return Err(listen_error(e)),
                }
            }
            found.ok_or_else(|| listen_error(ListenError::AddrInUse))?
        };
        inner.listeners.insert(h, Vec::new());
        drop(inner);
        Ok(TcpListener {
            stack: stack.stack.clone(),
            h,
            local,
            intercept: false,
            accept_settings: None,
        })
    }

    /// An intercepting listener: accepts connections to *any* destination address
    /// and port that arrive on the device (for VPN / tun2socks use). Each accepted
    /// stream's [`local_addr`](TcpStream::local_addr) is the original destination.
    /// Specific listeners take precedence; one intercepting listener per stack
    /// (`AddrInUse` otherwise). To decide before the handshake completes (accept,
    /// refuse, drop, unreachable), see [`decide_at_syn`](TcpListener::decide_at_syn).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// use synack::{MemoryDevice, NetStack, TcpListener, TcpStream};
    /// let (a, b) = MemoryDevice::pair();
    /// let client = NetStack::new(a, &["10.0.0.1".parse().unwrap()])?;
    /// let tunnel = NetStack::new(b, &["10.0.0.2".parse().unwrap()])?;
    /// let intercept = TcpListener::intercept(&tunnel).await?;
    /// // Any destination: the tunnel answers as 203.0.113.9:443.
    /// let _c = TcpStream::connect(&client, "203.0.113.9:443").await?;
    /// let (s, _client) = intercept.accept().await?;
    /// assert_eq!(s.local_addr()?, "203.0.113.9:443".parse().unwrap());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn intercept(stack: &NetStack) -> io::Result<TcpListener> {
        let mut inner = stack.stack.lock();
        inner.check_running()?;
        let h = inner.engine.listen_any(0).map_err(listen_error)?;
        let local = inner
            .engine
            .listener_addr(h)
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
        inner.listeners.insert(h, Vec::new());
        drop(inner);
        Ok(TcpListener {
            stack: stack.stack.clone(),
            h,
            local,
            intercept: true,
            accept_settings: None,
        })
    }

    /// Wait for a connection that completed the handshake; returns it and the peer's
    /// address.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Poll form of [`accept`](TcpListener::accept).
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let mut inner = self.stack.lock();
        while let Some(h) = inner.engine.accept(self.h) {
            let Some(peer) = inner.engine.peer_addr(h) else {
                continue;
            };
            inner.conns.insert(h, Default::default());
            if let Some(s) = self.accept_settings {
                if s.send_buffer.is_some() || s.recv_buffer.is_some() {
                    inner
                        .engine
                        .set_buffer_sizes(h, s.send_buffer, s.recv_buffer);
                }
            }
            drop(inner);
            let stream = TcpStream::from_inner(StreamInner::new(self.stack.clone(), h));
            if let Some(s) = self.accept_settings {
                stream.set_nodelay(s.nodelay)?;
                stream.set_linger(s.linger)?;
            }
            return Poll::Ready(Ok((stream, peer)));
        }
        if let Err(e) = inner.check_running() {
            return Poll::Ready(Err(e));
        }
        inner.wait_accept(self.h, cx.waker());
        Poll::Pending
    }

    /// The address listened on (`0.0.0.0:0` for an intercepting listener).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }

    /// The stack and the engine's handle of this listener.
    pub(crate) fn parts(&self) -> (&StackRef, ListenerHandle) {
        (&self.stack, self.h)
    }

    /// True for a listener made by [`intercept`](TcpListener::intercept).
    pub fn is_intercept(&self) -> bool {
        self.intercept
    }
}

impl Drop for TcpListener {
    fn drop(&mut self) {
        {
            let mut inner = self.stack.lock();
            let now = self.stack.now();
            // Connections not yet accepted are reset (RFC 9293 §3.10.4 CLOSE in LISTEN).
            inner.engine.close_listener(now, self.h);
            inner.listeners.remove(&self.h);
        }
        self.stack.kick();
    }
}
