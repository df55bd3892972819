//! [`TcpStream`]: one TCP connection of a [`NetStack`], with tokio's `AsyncRead` /
//! `AsyncWrite` and the methods of `tokio::net::TcpStream` that make sense here, plus
//! its split halves.
//!
//! Closing follows the socket API: `poll_shutdown` sends FIN after the queued data (a
//! half-close, RFC 9293 §3.10.4); dropping the stream closes it gracefully in the
//! background (FIN, or RST if received data was left unread: RFC 2525 §2.17); with
//! `set_linger(Some(Duration::ZERO))` dropping aborts it with RST (RFC 9293 §3.10.5).

use crate::addr::{each_addr, ToSocketAddrs};
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
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf, Ready};

/// The connection behind a stream and its halves; closes it when the last owner goes.
pub(crate) struct StreamInner {
    stack: StackRef,
    h: ConnHandle,
    linger_zero: AtomicBool,
    /// `take_error` already returned the connection's error.
    error_taken: AtomicBool,
}

impl StreamInner {
    /// Wrap a connection handle that the caller registered in `conns`.
    pub(crate) fn new(stack: StackRef, h: ConnHandle) -> StreamInner {
        StreamInner {
            stack,
            h,
            linger_zero: AtomicBool::new(false),
            error_taken: AtomicBool::new(false),
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

    /// Copy readable bytes into `buf` without consuming them.
    fn poll_peek(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<usize>> {
        let mut inner = self.stack.lock();
        let dst = buf.initialize_unfilled();
        let mut copied = 0;
        let r = inner.engine.recv_with(self.h, |a, b| {
            let n = a.len().min(dst.len());
            dst[..n].copy_from_slice(&a[..n]);
            let m = b.len().min(dst.len() - n);
            dst[n..n + m].copy_from_slice(&b[..m]);
            copied = n + m;
            0 // consume nothing
        });
        match r {
            Ok(_) => {
                buf.advance(copied);
                Poll::Ready(Ok(copied))
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

    /// Which of `interest` the connection is ready for now; `Pending` (with the
    /// waker registered) when none.
    fn poll_ready(&self, cx: &mut Context<'_>, interest: Interest) -> Poll<io::Result<Ready>> {
        let mut inner = self.stack.lock();
        let Some(state) = inner.engine.state(self.h) else {
            return Poll::Ready(Err(not_connected()));
        };
        let mut ready = Ready::EMPTY;
        if interest.is_readable() {
            if inner.engine.recv_queue(self.h) > 0 {
                ready |= Ready::READABLE;
            }
            if state == State::Closed || inner.engine.is_read_closed(self.h) {
                ready |= Ready::READABLE | Ready::READ_CLOSED;
            }
        }
        if interest.is_writable() {
            match state {
                State::Established | State::CloseWait => {
                    if inner.engine.send_capacity(self.h) > 0 {
                        ready |= Ready::WRITABLE;
                    }
                }
                // The handshake is not done: not writable yet.
                State::SynSent | State::SynReceived | State::Listen => {}
                // Our side is shut (or the connection is gone): a write fails at once.
                _ => ready = ready | Ready::WRITABLE | Ready::WRITE_CLOSED,
            }
        }
        if !ready.is_empty() {
            return Poll::Ready(Ok(ready));
        }
        if let Err(e) = inner.check_running() {
            return Poll::Ready(Err(e));
        }
        if interest.is_readable() {
            inner.wait_read(self.h, cx.waker());
        }
        if interest.is_writable() {
            inner.wait_write(self.h, cx.waker());
        }
        Poll::Pending
    }

    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let mut inner = self.stack.lock();
        match inner.engine.recv(self.h, buf) {
            Ok(n) => {
                drop(inner);
                if n > 0 {
                    self.stack.kick();
                }
                Ok(n)
            }
            Err(RecvError::WouldBlock | RecvError::NotConnected) => {
                inner.check_running()?;
                Err(io::ErrorKind::WouldBlock.into())
            }
            Err(e) => Err(recv_error(e)),
        }
    }

    fn try_write(&self, data: &[u8]) -> io::Result<usize> {
        let mut inner = self.stack.lock();
        match inner.engine.send(self.h, data) {
            Ok(n) => {
                drop(inner);
                if n > 0 {
                    self.stack.kick();
                }
                Ok(n)
            }
            Err(SendError::WouldBlock) => {
                inner.check_running()?;
                Err(io::ErrorKind::WouldBlock.into())
            }
            Err(e) => Err(send_error(e)),
        }
    }

    fn take_error(&self) -> io::Result<Option<io::Error>> {
        let mut inner = self.stack.lock();
        let Some(info) = inner.engine.info(self.h) else {
            return Err(not_connected());
        };
        // As Linux SO_ERROR: the connection's own error once, else the ICMP soft
        // error (`sk_err_soft`), each cleared by reading it.
        Ok(match info.error {
            Some(e) if !self.error_taken.swap(true, Ordering::Relaxed) => Some(conn_error(e)),
            _ => inner.engine.take_soft_error(self.h).map(conn_error),
        })
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
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
/// let (mut client, mut server) = synack::doc_pair().await?; // 10.0.0.1 <-> 10.0.0.2:7
/// client.write_all(b"GET / HTTP/1.0\r\n\r\n").await?;
/// client.shutdown().await?; // FIN: the server reads to the end
/// let mut req = Vec::new();
/// server.read_to_end(&mut req).await?;
/// assert!(req.starts_with(b"GET /"));
/// println!("{:?}", server.info()?.state);
/// # Ok(())
/// # }
/// ```
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
    /// peer answers RST (or ICMP port unreachable), `HostUnreachable` /
    /// `NetworkUnreachable` (EHOSTUNREACH / ENETUNREACH) as soon as an ICMP
    /// destination unreachable arrives for the SYN, as on Linux, and `TimedOut` if
    /// SYN retransmissions run out. Several
    /// addresses (`&[SocketAddr]`) are tried in turn, as tokio does: the first that
    /// connects wins, otherwise the last error is returned.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// use synack::{MemoryDevice, NetStack, TcpListener, TcpStream};
    /// let (a, b) = MemoryDevice::pair();
    /// let client = NetStack::new(a, &["10.0.0.1".parse().unwrap()])?;
    /// let server = NetStack::new(b, &["10.0.0.2".parse().unwrap()])?;
    /// let listener = TcpListener::bind(&server, ("10.0.0.2", 80)).await?;
    /// // Port 81 refuses (RST); port 80 is tried next.
    /// let addrs: [std::net::SocketAddr; 2] =
    ///     ["10.0.0.2:81".parse().unwrap(), "10.0.0.2:80".parse().unwrap()];
    /// let stream = TcpStream::connect(&client, &addrs[..]).await?;
    /// assert_eq!(stream.peer_addr()?.port(), 80);
    /// # drop(listener);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect(stack: &NetStack, addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        each_addr(&addr, |remote| TcpStream::open(stack, remote, None)).await
    }

    /// Like [`connect`](TcpStream::connect) from a chosen local address and/or port
    /// (an unspecified IP or port 0 lets the stack choose that part), like binding a
    /// `tokio::net::TcpSocket` before connecting.
    pub async fn connect_from(
        stack: &NetStack,
        local: impl crate::ToSocketAddr,
        addr: impl ToSocketAddrs,
    ) -> io::Result<TcpStream> {
        let local = local.to_socket_addr()?;
        each_addr(&addr, |remote| TcpStream::open(stack, remote, Some(local))).await
    }

    async fn open(
        stack: &NetStack,
        remote: SocketAddr,
        local: Option<SocketAddr>,
    ) -> io::Result<TcpStream> {
        TcpStream::open_with(stack, remote, local, |_, _| {}).await
    }

    /// Open a connection; `setup` runs on the new connection under the engine lock,
    /// before its SYN can leave (socket options of a `TcpSocket`).
    pub(crate) async fn open_with(
        stack: &NetStack,
        remote: SocketAddr,
        local: Option<SocketAddr>,
        setup: impl FnOnce(&mut synack_core::Stack, ConnHandle),
    ) -> io::Result<TcpStream> {
        let h = {
            let mut inner = stack.stack.lock();
            inner.check_running()?;
            let now = stack.stack.now();
            let h = inner
                .engine
                .connect(now, remote, local)
                .map_err(connect_error)?;
            setup(&mut inner.engine, h);
            inner.conns.insert(h, Default::default());
            h
        };
        stack.stack.kick();
        // Dropping this future before the handshake ends closes the attempt.
        let stream = TcpStream::from_inner(StreamInner::new(stack.stack.clone(), h));
        poll_fn(|cx| stream.inner.poll_connected(cx)).await?;
        Ok(stream)
    }

    /// A stream for the connection `h` the application already owns (registered in
    /// `conns`), once its handshake completes: a connection accepted at SYN time.
    pub(crate) async fn adopt_connected(stack: StackRef, h: ConnHandle) -> io::Result<TcpStream> {
        stack.kick();
        let stream = TcpStream::from_inner(StreamInner::new(stack, h));
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

    /// Cork (true) or uncork the connection, as Linux's `TCP_CORK`: while corked,
    /// segments shorter than the MSS wait (even with `TCP_NODELAY`) until uncorked,
    /// `set_nodelay(true)` pushes them, or the probe timer sends them (one RTO, at
    /// least 200 ms, when nothing is in flight). Uncorking sends what waits.
    pub fn set_cork(&self, cork: bool) -> io::Result<()> {
        let mut inner = self.inner.stack.lock();
        let now = self.inner.stack.now();
        inner.engine.info(self.inner.h).ok_or_else(not_connected)?;
        inner.engine.set_cork(now, self.inner.h, cork);
        drop(inner);
        self.inner.stack.kick();
        Ok(())
    }

    /// Whether the connection is corked.
    pub fn cork(&self) -> io::Result<bool> {
        Ok(self.options()?.cork)
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

    /// Receive data without removing it from the receive queue, like
    /// `tokio::net::TcpStream::peek`: waits until data (or the end of the stream)
    /// is there; `Ok(0)` is end of stream. A later read returns the same bytes.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// # let (mut a, mut b) = synack::doc_pair().await?;
    /// use tokio::io::{AsyncReadExt, AsyncWriteExt};
    /// a.write_all(b"hello").await?;
    /// let mut buf = [0u8; 16];
    /// let n = b.peek(&mut buf).await?;
    /// assert_eq!(&buf[..n], b"hello");
    /// let mut again = [0u8; 5];
    /// b.read_exact(&mut again).await?; // still there
    /// assert_eq!(&again, b"hello");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        let mut rb = ReadBuf::new(buf);
        poll_fn(|cx| self.inner.poll_peek(cx, &mut rb)).await
    }

    /// Poll form of [`peek`](TcpStream::peek): on `Ready(Ok(n))` the `n` bytes
    /// peeked were appended to `buf`; `Pending` registers the task to be woken when
    /// data arrives.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// # let (a, b) = synack::doc_pair().await?;
    /// use tokio::io::{AsyncWriteExt, ReadBuf};
    /// let mut a = a;
    /// a.write_all(b"hey").await?;
    /// let mut space = [0u8; 8];
    /// let mut buf = ReadBuf::new(&mut space);
    /// let n = std::future::poll_fn(|cx| b.poll_peek(cx, &mut buf)).await?;
    /// assert_eq!(buf.filled(), &b"hey"[..n]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn poll_peek(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<usize>> {
        self.inner.poll_peek(cx, buf)
    }

    /// Wait until the stream is ready for any of `interest`, like
    /// `tokio::net::TcpStream::ready`. The [`Ready`] set says which: readable (data,
    /// end of stream or an error to read), writable (room in the send buffer, or
    /// the sending side closed: a write then fails), `READ_CLOSED` / `WRITE_CLOSED`.
    /// Readiness can be stale by the time of the next call: `try_read` /
    /// `try_write` may still answer `WouldBlock`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// # let (a, b) = synack::doc_pair().await?;
    /// use tokio::io::Interest;
    /// let ready = a.ready(Interest::READABLE | Interest::WRITABLE).await?;
    /// assert!(ready.is_writable() && !ready.is_readable());
    /// a.try_write(b"ping")?;
    /// let ready = b.ready(Interest::READABLE).await?;
    /// assert!(ready.is_readable());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        poll_fn(|cx| self.inner.poll_ready(cx, interest)).await
    }

    /// Wait until the stream is readable (see [`ready`](TcpStream::ready)); then
    /// [`try_read`](TcpStream::try_read) usually succeeds.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// # let (a, b) = synack::doc_pair().await?;
    /// a.try_write(b"data")?;
    /// let mut buf = [0u8; 16];
    /// let n = loop {
    ///     b.readable().await?;
    ///     match b.try_read(&mut buf) {
    ///         Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
    ///         r => break r?,
    ///     }
    /// };
    /// assert_eq!(&buf[..n], b"data");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn readable(&self) -> io::Result<()> {
        self.ready(Interest::READABLE).await.map(|_| ())
    }

    /// Wait until the stream is writable (see [`ready`](TcpStream::ready)); then
    /// [`try_write`](TcpStream::try_write) usually succeeds.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// # let (a, _b) = synack::doc_pair().await?;
    /// a.writable().await?;
    /// assert_eq!(a.try_write(b"hello")?, 5);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn writable(&self) -> io::Result<()> {
        self.ready(Interest::WRITABLE).await.map(|_| ())
    }

    /// Poll form of [`readable`](TcpStream::readable): `Pending` registers the task
    /// to be woken when data, the end of the stream or an error arrives.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// # let (a, b) = synack::doc_pair().await?;
    /// use std::future::poll_fn;
    /// poll_fn(|cx| a.poll_write_ready(cx)).await?;
    /// a.try_write(b"x")?;
    /// poll_fn(|cx| b.poll_read_ready(cx)).await?;
    /// assert_eq!(b.try_read(&mut [0u8; 8])?, 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner.poll_ready(cx, Interest::READABLE).map_ok(|_| ())
    }

    /// Poll form of [`writable`](TcpStream::writable): `Pending` registers the task
    /// to be woken when the send buffer has room (example at
    /// [`poll_read_ready`](TcpStream::poll_read_ready)).
    pub fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner.poll_ready(cx, Interest::WRITABLE).map_ok(|_| ())
    }

    /// Read what is there without waiting: `Ok(n)` bytes, `Ok(0)` at end of stream
    /// (or for an empty `buf`), `WouldBlock` when nothing has arrived yet.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// # let (a, b) = synack::doc_pair().await?;
    /// let mut buf = [0u8; 64];
    /// assert_eq!(b.try_read(&mut buf).unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
    /// a.try_write(b"hi")?;
    /// b.readable().await?;
    /// assert_eq!(b.try_read(&mut buf)?, 2);
    /// # Ok(())
    /// # }
    /// ```
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.try_read(buf)
    }

    /// Queue what fits in the send buffer without waiting: `Ok(n)` bytes taken,
    /// `WouldBlock` when the buffer is full (or the handshake is not done).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// # let (a, _b) = synack::doc_pair().await?;
    /// // More than any send buffer takes at once: a part is queued, then WouldBlock.
    /// let big = vec![7u8; 64 << 20];
    /// let n = a.try_write(&big)?;
    /// assert!(n > 0 && n < big.len());
    /// assert_eq!(
    ///     a.try_write(&big[n..]).unwrap_err().kind(),
    ///     std::io::ErrorKind::WouldBlock
    /// );
    /// # Ok(())
    /// # }
    /// ```
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner.try_write(buf)
    }

    /// The error that ended the connection (reset, timeout, ...), once: like
    /// SO_ERROR, a second call returns `None`. While the connection lives, the last
    /// ICMP error reported about it (a soft error: host or network unreachable, ...;
    /// Linux `sk_err_soft`), also once; `None` when there is neither.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// # let (a, b) = synack::doc_pair().await?;
    /// assert!(a.take_error()?.is_none());
    /// b.set_linger(Some(std::time::Duration::ZERO))?;
    /// drop(b); // aborts: RST
    /// a.readable().await?;
    /// let e = a.take_error()?.expect("reset");
    /// assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset);
    /// assert!(a.take_error()?.is_none());
    /// # Ok(())
    /// # }
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.take_error()
    }

    /// Set the IP time-to-live (IPv4) / hop limit (IPv6) of this connection's
    /// packets (IP_TTL; the stack's [`Config::ttl`](synack_core::Config) otherwise).
    /// `InvalidInput` above 255.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// # let (a, _b) = synack::doc_pair().await?;
    /// a.set_ttl(12)?;
    /// assert_eq!(a.ttl()?, 12);
    /// assert!(a.set_ttl(256).is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        let ttl = u8::try_from(ttl)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "TTL must be at most 255"))?;
        self.set_options(|o| o.ttl = ttl)
    }

    /// The IP time-to-live of this connection's packets.
    pub fn ttl(&self) -> io::Result<u32> {
        Ok(u32::from(self.options()?.ttl))
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
