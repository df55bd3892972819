//! [`UdpSocket`]: datagrams on a [`NetStack`], shaped like `tokio::net::UdpSocket`
//! (`bind`, `connect`, `send_to` / `recv_from`, `send` / `recv`, their `poll_*` and
//! `try_*` forms, readiness); and [`UdpIntercept`], the any-destination UDP intercept
//! for VPN / tun2socks use, which yields each datagram with its original source and
//! destination and sends replies as that destination.
//!
//! Both call the engine's UDP functions (`synack_core::Stack::udp_*`) under the stack
//! lock and wait on the wakers the driver calls for the engine's `UdpEvent`s.

use crate::addr::ToSocketAddrs;
use crate::runtime::{NetStack, StackRef};
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll};
use synack_core::{UdpError, UdpHandle};
use tokio::io::ReadBuf;

/// The `io::Error` a kernel socket would give for the same cause.
pub(crate) fn udp_error(e: UdpError) -> io::Error {
    let kind = match e {
        UdpError::AddrInUse => io::ErrorKind::AddrInUse,
        UdpError::BadAddress | UdpError::NoPorts => io::ErrorKind::AddrNotAvailable,
        UdpError::WouldBlock => io::ErrorKind::WouldBlock,
        UdpError::NotConnected | UdpError::InvalidHandle => io::ErrorKind::NotConnected,
        UdpError::Refused => io::ErrorKind::ConnectionRefused,
        UdpError::TooLarge { .. } => {
            // EMSGSIZE, as a kernel socket refuses a datagram larger than the MTU
            // when the DF bit is set (IP_PMTUDISC_DO).
            #[cfg(unix)]
            return io::Error::from_raw_os_error(libc::EMSGSIZE);
            #[cfg(not(unix))]
            io::ErrorKind::InvalidInput
        }
        _ => io::ErrorKind::InvalidInput,
    };
    io::Error::new(kind, e)
}

/// Wakers of the tasks waiting on one UDP socket.
#[derive(Debug, Default)]
pub(crate) struct UdpWaiters {
    pub(crate) read: Option<std::task::Waker>,
    pub(crate) write: Option<std::task::Waker>,
    /// The intercept's owner waiting for an expired flow.
    pub(crate) expired: Option<std::task::Waker>,
}

fn store(slot: &mut Option<std::task::Waker>, w: &std::task::Waker) {
    if !slot.as_ref().is_some_and(|x| x.will_wake(w)) {
        *slot = Some(w.clone());
    }
}

/// A UDP socket on a [`NetStack`], like `tokio::net::UdpSocket`.
///
/// Its methods take `&self`, so one socket can be shared (in an `Arc`) by a task that
/// sends and one that receives. Datagrams larger than the link MTU allows are refused
/// with `EMSGSIZE`, never cut or fragmented.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// use synack::{MemoryDevice, NetStack, UdpSocket};
/// let (a, b) = MemoryDevice::pair();
/// let a = NetStack::new(a, &["10.0.0.1".parse().unwrap()])?;
/// let b = NetStack::new(b, &["10.0.0.2".parse().unwrap()])?;
/// let server = UdpSocket::bind(&b, "10.0.0.2:53").await?;
/// let client = UdpSocket::bind(&a, "0.0.0.0:0").await?;
/// client.connect("10.0.0.2:53").await?;
/// client.send(b"hello").await?;
/// let mut buf = [0u8; 64];
/// let (n, from) = server.recv_from(&mut buf).await?;
/// server.send_to(&buf[..n], from).await?;
/// let n = client.recv(&mut buf).await?;
/// assert_eq!(&buf[..n], b"hello");
/// # Ok(())
/// # }
/// ```
pub struct UdpSocket {
    stack: StackRef,
    h: UdpHandle,
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("local", &self.local_addr().ok())
            .field("peer", &self.peer_addr().ok())
            .finish()
    }
}

impl UdpSocket {
    /// Bind to `addr`: one of the stack's addresses or the unspecified address of a
    /// family (`0.0.0.0` / `::`) for all of them; port 0 picks an ephemeral port.
    /// Several addresses are tried in turn, as tokio does. Fails with `AddrInUse`
    /// or `AddrNotAvailable` like a kernel socket.
    pub async fn bind(stack: &NetStack, addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        let mut last = None;
        for a in addr.to_socket_addrs()? {
            let mut inner = stack.stack.lock();
            inner.check_running()?;
            match inner.engine.udp_bind(a) {
                Ok(h) => {
                    inner.udp.insert(h, UdpWaiters::default());
                    drop(inner);
                    return Ok(UdpSocket {
                        stack: stack.stack.clone(),
                        h,
                    });
                }
                Err(e) => last = Some(udp_error(e)),
            }
        }
        Err(last
            .unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to bind")))
    }

    /// Connect to `addr`: `send` / `recv` then talk to it, and datagrams from anyone
    /// else are not received (they are answered as if no socket held the port, as
    /// the kernel does). With several addresses, the first that works is used.
    pub async fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        let mut last = None;
        for a in addr.to_socket_addrs()? {
            match self.stack.lock().engine.udp_connect(self.h, a) {
                Ok(()) => return Ok(()),
                Err(e) => last = Some(udp_error(e)),
            }
        }
        Err(last.unwrap_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "no address to connect to")
        }))
    }

    /// The bound address (with the source address `connect` chose, if it did).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.stack
            .lock()
            .engine
            .udp_local_addr(self.h)
            .ok_or_else(|| udp_error(UdpError::InvalidHandle))
    }

    /// The connected peer (`NotConnected` if none).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.stack
            .lock()
            .engine
            .udp_peer_addr(self.h)
            .ok_or_else(|| udp_error(UdpError::NotConnected))
    }

    /// Send one datagram to `target`; returns its length.
    pub async fn send_to(&self, buf: &[u8], target: impl ToSocketAddrs) -> io::Result<usize> {
        let target = target
            .to_socket_addrs()?
            .into_iter()
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address"))?;
        poll_fn(|cx| self.poll_send_to(cx, buf, target)).await
    }

    /// Poll form of [`send_to`](UdpSocket::send_to).
    pub fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: SocketAddr,
    ) -> Poll<io::Result<usize>> {
        self.poll_send_inner(cx, |e, h| e.udp_send_to(h, buf, target))
    }

    /// Send one datagram to the connected peer.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_send(cx, buf)).await
    }

    /// Poll form of [`send`](UdpSocket::send).
    pub fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.poll_send_inner(cx, |e, h| e.udp_send(h, buf))
    }

    /// Send to `target` if the send queue has room now (`WouldBlock` otherwise).
    pub fn try_send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
        let r = self.stack.lock().engine.udp_send_to(self.h, buf, target);
        self.after_send(r)
    }

    /// Send to the connected peer if the send queue has room now.
    pub fn try_send(&self, buf: &[u8]) -> io::Result<usize> {
        let r = self.stack.lock().engine.udp_send(self.h, buf);
        self.after_send(r)
    }

    fn after_send(&self, r: Result<usize, UdpError>) -> io::Result<usize> {
        let n = r.map_err(udp_error)?;
        self.stack.kick();
        Ok(n)
    }

    fn poll_send_inner(
        &self,
        cx: &mut Context<'_>,
        f: impl FnOnce(&mut synack_core::Stack, UdpHandle) -> Result<usize, UdpError>,
    ) -> Poll<io::Result<usize>> {
        let mut inner = self.stack.lock();
        if let Err(e) = inner.check_running() {
            return Poll::Ready(Err(e));
        }
        match f(&mut inner.engine, self.h) {
            Ok(n) => {
                drop(inner);
                self.stack.kick();
                Poll::Ready(Ok(n))
            }
            Err(UdpError::WouldBlock) => {
                let w = inner.udp.entry(self.h).or_default();
                store(&mut w.write, cx.waker());
                drop(inner);
                // The queue drains only when the driver runs.
                self.stack.kick();
                Poll::Pending
            }
            Err(e) => Poll::Ready(Err(udp_error(e))),
        }
    }

    /// Receive one datagram into `buf`; returns the bytes copied and the sender. A
    /// datagram longer than `buf` is cut to fit and the rest discarded, as with a
    /// kernel socket.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let mut rb = ReadBuf::new(buf);
        let from = poll_fn(|cx| self.poll_recv_from(cx, &mut rb)).await?;
        Ok((rb.filled().len(), from))
    }

    /// Poll form of [`recv_from`](UdpSocket::recv_from), with tokio's signature.
    pub fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<SocketAddr>> {
        let mut inner = self.stack.lock();
        match inner
            .engine
            .udp_recv_from(self.h, buf.initialize_unfilled())
        {
            Ok((n, from, _)) => {
                buf.advance(n);
                Poll::Ready(Ok(from))
            }
            Err(UdpError::WouldBlock) => {
                if let Err(e) = inner.check_running() {
                    return Poll::Ready(Err(e));
                }
                let w = inner.udp.entry(self.h).or_default();
                store(&mut w.read, cx.waker());
                Poll::Pending
            }
            Err(e) => Poll::Ready(Err(udp_error(e))),
        }
    }

    /// Receive one datagram from the connected peer.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        let mut rb = ReadBuf::new(buf);
        poll_fn(|cx| self.poll_recv(cx, &mut rb)).await?;
        Ok(rb.filled().len())
    }

    /// Poll form of [`recv`](UdpSocket::recv).
    pub fn poll_recv(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if self.stack.lock().engine.udp_peer_addr(self.h).is_none() {
            return Poll::Ready(Err(udp_error(UdpError::NotConnected)));
        }
        self.poll_recv_from(cx, buf).map_ok(|_| ())
    }

    /// Receive a datagram if one is queued (`WouldBlock` otherwise).
    pub fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let (n, from, _) = self
            .stack
            .lock()
            .engine
            .udp_recv_from(self.h, buf)
            .map_err(udp_error)?;
        Ok((n, from))
    }

    /// The next datagram's length and sender, without taking it; waits for one.
    pub async fn peek_sender(&self) -> io::Result<(usize, SocketAddr)> {
        poll_fn(|cx| {
            let mut inner = self.stack.lock();
            if let Some(e) = inner.engine.udp_take_error(self.h) {
                return Poll::Ready(Err(udp_error(e)));
            }
            if let Some(x) = inner.engine.udp_peek(self.h) {
                return Poll::Ready(Ok(x));
            }
            if let Err(e) = inner.check_running() {
                return Poll::Ready(Err(e));
            }
            let w = inner.udp.entry(self.h).or_default();
            store(&mut w.read, cx.waker());
            Poll::Pending
        })
        .await
    }

    /// Take the error an ICMP message left for this connected socket (the
    /// `ECONNREFUSED` of a closed port), like tokio's `take_error`.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        Ok(self
            .stack
            .lock()
            .engine
            .udp_take_error(self.h)
            .map(udp_error))
    }

    /// Wait until a datagram can be received (or an error is pending).
    pub async fn readable(&self) -> io::Result<()> {
        self.peek_sender().await.map(|_| ())
    }

    /// Wait until a datagram of up to the link MTU can be queued.
    pub async fn writable(&self) -> io::Result<()> {
        poll_fn(|cx| {
            let mut inner = self.stack.lock();
            if let Err(e) = inner.check_running() {
                return Poll::Ready(Err(e));
            }
            if inner
                .engine
                .udp_send_ready(self.h, inner.engine.config().mtu)
            {
                return Poll::Ready(Ok(()));
            }
            let w = inner.udp.entry(self.h).or_default();
            store(&mut w.write, cx.waker());
            Poll::Pending
        })
        .await
    }
}

impl Drop for UdpSocket {
    fn drop(&mut self) {
        {
            let mut inner = self.stack.lock();
            inner.engine.udp_close(self.h);
            inner.udp.remove(&self.h);
        }
        self.stack.kick();
    }
}

/// The any-destination UDP intercept of a [`NetStack`] (VPN / tun2socks): every
/// datagram reaching the device that no [`UdpSocket`] takes comes out of
/// [`recv`](UdpIntercept::recv) with its source and *original destination*, and
/// [`send_as`](UdpIntercept::send_as) replies as that destination.
///
/// The stack remembers each (source, destination) flow until it has been idle for
/// [`Config::udp_flow_timeout`](crate::Config::udp_flow_timeout) (30 s), or
/// `udp_flow_timeout_stream` (120 s) once a reply was sent on it;
/// [`expired`](UdpIntercept::expired) reports each forgotten flow so the application
/// can release what it holds for it. One intercept per stack.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// use synack::{MemoryDevice, NetStack, UdpIntercept, UdpSocket};
/// let (a, b) = MemoryDevice::pair();
/// let client_stack = NetStack::new(a, &["10.0.0.1".parse().unwrap()])?;
/// let tunnel = NetStack::new(b, &["10.0.0.2".parse().unwrap()])?;
/// let intercept = UdpIntercept::new(&tunnel).await?;
/// // The client sends to an address the tunnel does not own.
/// let client = UdpSocket::bind(&client_stack, "0.0.0.0:0").await?;
/// client.connect("192.0.2.53:53").await?;
/// client.send(b"query").await?;
/// let (payload, src, original_dst) = intercept.recv().await?;
/// assert_eq!(original_dst, "192.0.2.53:53".parse().unwrap());
/// // Answer as 192.0.2.53:53.
/// intercept.send_as(original_dst, src, &payload).await?;
/// let mut buf = [0u8; 16];
/// let n = client.recv(&mut buf).await?;
/// assert_eq!(&buf[..n], b"query");
/// # Ok(())
/// # }
/// ```
pub struct UdpIntercept {
    pub(crate) stack: StackRef,
    pub(crate) h: UdpHandle,
}

impl fmt::Debug for UdpIntercept {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpIntercept")
            .field("flows", &self.flow_count())
            .finish()
    }
}

/// Most expired flows kept for [`UdpIntercept::expired`]; older ones are dropped, so
/// an application that never asks holds no memory for them.
pub(crate) const EXPIRED_KEPT: usize = 4096;

impl UdpIntercept {
    /// Start intercepting. Fails with `AddrInUse` if the stack has an intercept.
    pub async fn new(stack: &NetStack) -> io::Result<UdpIntercept> {
        let mut inner = stack.stack.lock();
        inner.check_running()?;
        let h = inner.engine.udp_intercept().map_err(udp_error)?;
        inner.udp.insert(h, UdpWaiters::default());
        inner.udp_expired.clear();
        drop(inner);
        Ok(UdpIntercept {
            stack: stack.stack.clone(),
            h,
        })
    }

    /// The next intercepted datagram: `(payload, source, original destination)`.
    pub async fn recv(&self) -> io::Result<(Vec<u8>, SocketAddr, SocketAddr)> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Poll form of [`recv`](UdpIntercept::recv).
    pub fn poll_recv(
        &self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<(Vec<u8>, SocketAddr, SocketAddr)>> {
        let mut inner = self.stack.lock();
        match inner.engine.udp_recv_datagram(self.h) {
            Ok(d) => Poll::Ready(Ok((d.payload, d.src, d.dst))),
            Err(UdpError::WouldBlock) => {
                if let Err(e) = inner.check_running() {
                    return Poll::Ready(Err(e));
                }
                let w = inner.udp.entry(self.h).or_default();
                store(&mut w.read, cx.waker());
                Poll::Pending
            }
            Err(e) => Poll::Ready(Err(udp_error(e))),
        }
    }

    /// Send `payload` from `from` (an original destination) to `to` (its client).
    pub async fn send_as(
        &self,
        from: SocketAddr,
        to: SocketAddr,
        payload: &[u8],
    ) -> io::Result<usize> {
        poll_fn(|cx| {
            let mut inner = self.stack.lock();
            if let Err(e) = inner.check_running() {
                return Poll::Ready(Err(e));
            }
            let now = self.stack.now();
            match inner.engine.udp_send_as(now, self.h, from, to, payload) {
                Ok(n) => {
                    drop(inner);
                    self.stack.kick();
                    Poll::Ready(Ok(n))
                }
                Err(UdpError::WouldBlock) => {
                    let w = inner.udp.entry(self.h).or_default();
                    store(&mut w.write, cx.waker());
                    drop(inner);
                    self.stack.kick();
                    Poll::Pending
                }
                Err(e) => Poll::Ready(Err(udp_error(e))),
            }
        })
        .await
    }

    /// Refuse the flow from `client` to `target` (an original destination): the
    /// client gets ICMP port unreachable from `target` about `payload` (the datagram
    /// it sent), as from a closed port, so its connected socket sees ECONNREFUSED;
    /// the flow is forgotten. Returns false when the ICMP rate limit held the error
    /// back.
    pub fn refuse(
        &self,
        client: SocketAddr,
        target: SocketAddr,
        payload: &[u8],
    ) -> io::Result<bool> {
        let sent = {
            let mut inner = self.stack.lock();
            inner.check_running()?;
            let now = self.stack.now();
            inner
                .engine
                .udp_refuse(now, self.h, client, target, payload)
                .map_err(udp_error)?
        };
        self.stack.kick();
        Ok(sent)
    }

    /// The next flow the stack forgot after its idle timeout: `(client, original
    /// destination)`. Waits for one.
    pub async fn expired(&self) -> io::Result<(SocketAddr, SocketAddr)> {
        poll_fn(|cx| {
            let mut inner = self.stack.lock();
            if let Some(x) = inner.udp_expired.pop_front() {
                return Poll::Ready(Ok(x));
            }
            if let Err(e) = inner.check_running() {
                return Poll::Ready(Err(e));
            }
            let w = inner.udp.entry(self.h).or_default();
            store(&mut w.expired, cx.waker());
            Poll::Pending
        })
        .await
    }

    /// Flows the stack remembers now.
    pub fn flow_count(&self) -> usize {
        self.stack.lock().engine.udp_flow_count()
    }
}

impl Drop for UdpIntercept {
    fn drop(&mut self) {
        {
            let mut inner = self.stack.lock();
            inner.engine.udp_close(self.h);
            inner.udp.remove(&self.h);
            inner.udp_expired.clear();
        }
        self.stack.kick();
    }
}
