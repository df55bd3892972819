//! [`TcpStream`]: one TCP connection of a [`NetStack`], with tokio's `AsyncRead` /
//! `AsyncWrite` and the methods of `tokio::net::TcpStream` that make sense here, plus
//! its split halves.
//!
//! Closing follows the socket API: `poll_shutdown` sends FIN after the queued data (a
//! half-close, RFC 9293 §3.10.4); dropping the stream closes it gracefully in the
//! background (FIN, or RST if received data was left unread: RFC 2525 §2.17); with
//! `set_linger(Some(Duration::ZERO))` dropping aborts it with RST (RFC 9293 §3.10.5).

use crate::addr::ToSocketAddr;
use crate::error::{conn_error, connect_error, not_connected, recv_error, send_error};
use crate::runtime::{NetStack, StackRef};
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use synack_core::{ConnError, ConnHandle, ConnInfo, RecvError, SendError, SocketOptions, State};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The connection behind a stream and its halves; closes it when the last owner goes.
pub(crate) struct StreamInner {
    stack: StackRef,
    h: ConnHandle,
    linger_zero: AtomicBool,
}

impl StreamInner {
    /// Wrap a connection handle that the caller registered in `conns`.
    pub(crate) fn new(stack: StackRef, h: ConnHandle) -> StreamInner {
        StreamInner {
            stack,
            h,
            linger_zero: AtomicBool::new(false),
        }
    }

    fn poll_read(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let mut inner = self.stack.lock();
        let dst = buf.initialize_unfilled();
        match inner.engine.recv(self.h, dst) {
            Ok(n) => {
                drop(inner);
                buf.advance(n);
                if n > 0 {
                    // The window opened: the engine may owe the peer an update.
                    self.stack.kick();
                }
                Poll::Ready(Ok(()))
            }
            Err(RecvError::WouldBlock | RecvError::NotConnected) => {
                if let Err(e) = inner.check_running() {
                    return Poll::Ready(Err(e));
                }
                inner.wait_read(self.h, cx.waker());
                Poll::Pending
            }
            Err(e) => Poll::Ready(Err(recv_error(e))),
        }
    }

    fn poll_write(&self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let mut inner = self.stack.lock();
        match inner.engine.send(self.h, data) {
            Ok(n) => {
                drop(inner);
                if n > 0 {
                    self.stack.kick();
                }
                Poll::Ready(Ok(n))
            }
            Err(SendError::WouldBlock) => {
                if let Err(e) = inner.check_running() {
                    return Poll::Ready(Err(e));
                }
                inner.wait_write(self.h, cx.waker());
                Poll::Pending
            }
            Err(e) => Poll::Ready(Err(send_error(e))),
        }
    }

    /// Wait until the active open finished (ESTABLISHED or later) or failed.
    fn poll_connected(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut inner = self.stack.lock();
        let Some(info) = inner.engine.info(self.h) else {
            return Poll::Ready(Err(not_connected()));
        };
        match info.state {
            State::SynSent | State::SynReceived => {
                if let Err(e) = inner.check_running() {
                    return Poll::Ready(Err(e));
                }
                inner.wait_write(self.h, cx.waker());
                Poll::Pending
            }
            State::Closed => Poll::Ready(Err(conn_error(info.error.unwrap_or(ConnError::Refused)))),
            _ => Poll::Ready(Ok(())),
        }
    }

    fn shutdown(&self) -> io::Result<()> {
        let r = {
            let mut inner = self.stack.lock();
            let now = self.stack.now();
            inner.engine.shutdown(now, self.h)
        };
        self.stack.kick();
        match r {
            Ok(()) => Ok(()),
            Err(SendError::InvalidHandle) => Err(not_connected()),
            Err(e) => Err(send_error(e)),
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.stack
            .lock()
            .engine
            .local_addr(self.h)
            .ok_or_else(not_connected)
    }

    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.stack
            .lock()
            .engine
            .peer_addr(self.h)
            .ok_or_else(not_connected)
    }
}

impl Drop for StreamInner {
    fn drop(&mut self) {
        {
            let mut inner = self.stack.lock();
            let now = self.stack.now();
            if self.linger_zero.load(Ordering::Relaxed) {
                inner.engine.abort(now, self.h);
            } else {
                inner.engine.close(now, self.h);
            }
            inner.conns.remove(&self.h);
        }
        self.stack.kick();
    }
}

/// A TCP connection on a [`NetStack`], like `tokio::net::TcpStream`.
pub struct TcpStream {
    inner: Arc<StreamInner>,
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("local", &self.local_addr().ok())
            .field("peer", &self.peer_addr().ok())
            .finish()
    }
}

impl TcpStream {
    pub(crate) fn from_inner(inner: StreamInner) -> TcpStream {
        TcpStream {
            inner: Arc::new(inner),
        }
    }

    /// Open a connection to `addr` (RFC 9293 §3.10.1), choosing a local address of
    /// the same family and an ephemeral port. Fails with `ConnectionRefused` if the
    /// peer answers RST, `TimedOut` if SYN retransmissions run out.
    pub async fn connect(stack: &NetStack, addr: impl ToSocketAddr) -> io::Result<TcpStream> {
        let remote = addr.to_socket_addr()?;
        TcpStream::open(stack, remote, None).await
    }

    /// Like [`connect`](TcpStream::connect) from a chosen local address and/or port
    /// (an unspecified IP or port 0 lets the stack choose that part), like binding a
    /// `tokio::net::TcpSocket` before connecting.
    pub async fn connect_from(
        stack: &NetStack,
        local: impl ToSocketAddr,
        addr: impl ToSocketAddr,
    ) -> io::Result<TcpStream> {
        let local = local.to_socket_addr()?;
        let remote = addr.to_socket_addr()?;
        TcpStream::open(stack, remote, Some(local)).await
    }

    async fn open(
        stack: &NetStack,
        remote: SocketAddr,
        local: Option<SocketAddr>,
    ) -> io::Result<TcpStream> {
        let h = {
            let mut inner = stack.stack.lock();
            inner.check_running()?;
            let now = stack.stack.now();
            let h = inner
                .engine
                .connect(now, remote, local)
                .map_err(connect_error)?;
            inner.conns.insert(h, Default::default());
            h
        };
        stack.stack.kick();
        // Dropping this future before the handshake ends closes the attempt.
        let stream = TcpStream::from_inner(StreamInner::new(stack.stack.clone(), h));
        poll_fn(|cx| stream.inner.poll_connected(cx)).await?;
        Ok(stream)
    }

    /// Our address of the connection. For a connection accepted by an intercepting
    /// listener it is the original destination the client asked for.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }

    /// Disable (true) or enable Nagle's algorithm (TCP_NODELAY; RFC 1122 §4.2.3.4).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        let mut inner = self.inner.stack.lock();
        let now = self.inner.stack.now();
        inner.engine.info(self.inner.h).ok_or_else(not_connected)?;
        inner.engine.set_nodelay(now, self.inner.h, nodelay);
        drop(inner);
        self.inner.stack.kick();
        Ok(())
    }

    /// Whether Nagle's algorithm is disabled.
    pub fn nodelay(&self) -> io::Result<bool> {
        Ok(self.options()?.nodelay)
    }

    /// SO_LINGER. Only a zero timeout changes behaviour: dropping the stream then
    /// aborts the connection with RST instead of closing it with FIN. Other values
    /// are remembered as "graceful" (the close always completes in the background).
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        self.inner
            .linger_zero
            .store(linger == Some(Duration::ZERO), Ordering::Relaxed);
        Ok(())
    }

    /// `Some(Duration::ZERO)` if dropping aborts, `None` otherwise.
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        Ok(self
            .inner
            .linger_zero
            .load(Ordering::Relaxed)
            .then_some(Duration::ZERO))
    }

    /// A snapshot of the connection: state, RTT, RTO, congestion window, counters.
    pub fn info(&self) -> io::Result<ConnInfo> {
        self.inner
            .stack
            .lock()
            .engine
            .info(self.inner.h)
            .ok_or_else(not_connected)
    }

    /// The connection's socket options.
    pub fn options(&self) -> io::Result<SocketOptions> {
        self.inner
            .stack
            .lock()
            .engine
            .options(self.inner.h)
            .ok_or_else(not_connected)
    }

    /// Change socket options (keep-alive, user timeout, MSS clamp, delayed ACK, ...).
    pub fn set_options(&self, f: impl FnOnce(&mut SocketOptions)) -> io::Result<()> {
        let mut inner = self.inner.stack.lock();
        let now = self.inner.stack.now();
        inner.engine.info(self.inner.h).ok_or_else(not_connected)?;
        inner.engine.set_options(now, self.inner.h, f);
        drop(inner);
        self.inner.stack.kick();
        Ok(())
    }

    /// Resize the send and/or receive buffer (SO_SNDBUF / SO_RCVBUF).
    pub fn set_buffer_sizes(&self, send: Option<usize>, recv: Option<usize>) -> io::Result<()> {
        let mut inner = self.inner.stack.lock();
        inner.engine.info(self.inner.h).ok_or_else(not_connected)?;
        inner.engine.set_buffer_sizes(self.inner.h, send, recv);
        Ok(())
    }

    /// Split into a read half and a write half borrowing the stream.
    pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        (
            ReadHalf { inner: &self.inner },
            WriteHalf { inner: &self.inner },
        )
    }

    /// Split into owned halves that can move to different tasks. Dropping the write
    /// half shuts the sending side down (FIN), like tokio; the connection closes when
    /// both halves are gone.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        let read = OwnedReadHalf {
            inner: self.inner.clone(),
        };
        let write = OwnedWriteHalf {
            inner: self.inner,
            shutdown_on_drop: true,
        };
        (read, write)
    }
}

impl AsyncRead for TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.inner.poll_read(cx, buf)
    }
}

impl AsyncWrite for TcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.inner.poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.inner.shutdown())
    }
}

/// The read half of [`TcpStream::split`].
#[derive(Debug)]
pub struct ReadHalf<'a> {
    inner: &'a StreamInner,
}

/// The write half of [`TcpStream::split`]. `poll_shutdown` sends FIN.
#[derive(Debug)]
pub struct WriteHalf<'a> {
    inner: &'a StreamInner,
}

/// The owned read half of [`TcpStream::into_split`].
#[derive(Debug)]
pub struct OwnedReadHalf {
    inner: Arc<StreamInner>,
}

/// The owned write half of [`TcpStream::into_split`]. Dropping it sends FIN.
#[derive(Debug)]
pub struct OwnedWriteHalf {
    inner: Arc<StreamInner>,
    shutdown_on_drop: bool,
}

impl fmt::Debug for StreamInner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamInner")
            .field("handle", &self.h)
            .finish()
    }
}

/// The halves given to [`OwnedReadHalf::reunite`] came from different streams.
#[derive(Debug)]
pub struct ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf);

impl fmt::Display for ReuniteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tried to reunite halves that are not from the same socket")
    }
}

impl std::error::Error for ReuniteError {}

impl OwnedReadHalf {
    /// Put the halves back together into a stream.
    pub fn reunite(self, mut other: OwnedWriteHalf) -> Result<TcpStream, ReuniteError> {
        if Arc::ptr_eq(&self.inner, &other.inner) {
            other.shutdown_on_drop = false;
            drop(other);
            Ok(TcpStream { inner: self.inner })
        } else {
            Err(ReuniteError(self, other))
        }
    }

    /// Our address of the connection.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }
}

impl OwnedWriteHalf {
    /// Drop the half without sending FIN.
    pub fn forget(mut self) {
        self.shutdown_on_drop = false;
    }

    /// Put the halves back together into a stream.
    pub fn reunite(self, other: OwnedReadHalf) -> Result<TcpStream, ReuniteError> {
        other.reunite(self)
    }

    /// Our address of the connection.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }
}

impl Drop for OwnedWriteHalf {
    fn drop(&mut self) {
        if self.shutdown_on_drop {
            let _ = self.inner.shutdown();
        }
    }
}

macro_rules! read_half {
    ($t:ty) => {
        impl AsyncRead for $t {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                self.inner.poll_read(cx, buf)
            }
        }
    };
}

macro_rules! write_half {
    ($t:ty) => {
        impl AsyncWrite for $t {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                self.inner.poll_write(cx, buf)
            }
            fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }
            fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(self.inner.shutdown())
            }
        }
    };
}

read_half!(ReadHalf<'_>);
read_half!(OwnedReadHalf);
write_half!(WriteHalf<'_>);
write_half!(OwnedWriteHalf);
