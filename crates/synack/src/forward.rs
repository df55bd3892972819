//! A tun2socks forwarder (issue 15 item 5): every TCP connection and UDP flow that
//! reaches a [`NetStack`]'s device, whatever its destination, is carried to that
//! destination through a SOCKS5 proxy (TCP `CONNECT`, UDP `ASSOCIATE`) or through the
//! host's own sockets ([`Upstream::Direct`]). `synack tun2socks` runs it.
//!
//! TCP is decided at SYN time ([`TcpListener::decide_at_syn`]): the upstream
//! connection is made first, and only when it succeeds does the client get its
//! SYN-ACK; an upstream that refuses shows the client an RST ("connection refused"),
//! an unreachable one ICMP host unreachable, and one that does not answer in time
//! nothing (the client times out). UDP is decided on a flow's first datagram
//! ([`UdpIntercept::decide_flows`]): it waits in the stack while the upstream
//! association is made; if that cannot be made the flow is refused (ICMP port
//! unreachable, ECONNREFUSED at a connected client socket, and the flow's later
//! datagrams refused too until it is idle) and nothing else is sent.
//! `dns` sends every flow and connection to port 53 to one server instead, answered
//! as the address the client asked.
//!
//! SOCKS5 `CONNECT` is tokio-socks'; `UDP ASSOCIATE` is ours (forward/socks_udp.rs):
//! tokio-socks has no UDP support, and the association is a short exchange on a TCP
//! control connection plus a 10-byte header on each datagram (RFC 1928 §7).
//! Username/password authentication (RFC 1929) is offered for both when
//! [`ForwardOptions::auth`] is set.

mod socks_udp;

use crate::listener::TcpListener;
use crate::runtime::NetStack;
use crate::udp::UdpIntercept;
use crate::SynRequest;
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where connections and flows go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upstream {
    /// Through the host's own sockets.
    Direct,
    /// Through a SOCKS5 proxy (with [`ForwardOptions::auth`], if set).
    Socks5(SocketAddr),
}

/// A SOCKS5 username and password (RFC 1929), each at most 255 bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct SocksAuth {
    /// The user name.
    pub username: String,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for SocksAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password stays out of logs.
        f.debug_struct("SocksAuth")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// What the forwarder does.
#[derive(Debug, Clone)]
pub struct ForwardOptions {
    /// Where connections and flows go.
    pub upstream: Upstream,
    /// Send DNS (port 53, TCP and UDP) to this server instead of where it was sent.
    pub dns: Option<SocketAddr>,
    /// How long an upstream connection may take before the client's SYN is dropped
    /// (the client retransmits into a new attempt).
    pub connect_timeout: Duration,
    /// A UDP flow's upstream association is closed after this long without a
    /// datagram either way.
    pub udp_idle: Duration,
    /// Username/password for the SOCKS5 proxy (RFC 1929); `None`: no authentication.
    pub auth: Option<SocksAuth>,
}

impl ForwardOptions {
    /// Forward to `upstream`, DNS not redirected, a 10 s connect timeout, UDP flows
    /// closed after 60 s idle.
    pub fn new(upstream: Upstream) -> ForwardOptions {
        ForwardOptions {
            upstream,
            dns: None,
            connect_timeout: Duration::from_secs(10),
            udp_idle: Duration::from_secs(60),
            auth: None,
        }
    }
}

/// Counters of a running forwarder.
#[derive(Debug, Default)]
pub struct ForwardStats {
    /// TCP connections carried (accepted at SYN time).
    pub tcp_accepted: std::sync::atomic::AtomicU64,
    /// SYNs answered with RST because the upstream refused.
    pub tcp_refused: std::sync::atomic::AtomicU64,
    /// SYNs answered unreachable or dropped because the upstream failed otherwise.
    pub tcp_failed: std::sync::atomic::AtomicU64,
    /// UDP flows opened upstream.
    pub udp_flows: std::sync::atomic::AtomicU64,
    /// UDP flows refused because no association could be made.
    pub udp_refused: std::sync::atomic::AtomicU64,
}

/// Raise this process's open-file limit to its hard limit: a forwarder holds two
/// descriptors per TCP connection (the upstream socket and, with a proxy, nothing
/// more) and one or two per UDP flow, and the usual soft limit of 1,024 would cap it
/// near 1,000 connections. Returns the limit now in force.
pub fn raise_fd_limit() -> io::Result<u64> {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid resource and a live struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) != 0 {
            return Err(io::Error::last_os_error());
        }
        r.rlim_cur = r.rlim_max;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &r) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    #[allow(clippy::unnecessary_cast)] // rlim_t is not u64 everywhere
    Ok(r.rlim_cur as u64)
}

/// Check that the proxy answers a SOCKS5 greeting and accepts `auth` (or no
/// authentication), so a wrong `--socks5` or bad credentials are reported at start
/// rather than as failing connections. `Direct` needs no check.
pub async fn probe(
    upstream: Upstream,
    auth: Option<&SocksAuth>,
    timeout: Duration,
) -> io::Result<()> {
    match upstream {
        Upstream::Direct => Ok(()),
        Upstream::Socks5(proxy) => tokio::time::timeout(timeout, socks_udp::greet(proxy, auth))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no answer"))?
            .map(|_| ()),
    }
}

/// Forward every TCP connection and UDP flow reaching `stack` until an error stops
/// it (the stack's device failing). Takes the stack's intercepting listener and UDP
/// intercept; the stack should answer pings for intercepted destinations
/// ([`Config::icmp_echo_intercepted`](crate::Config::icmp_echo_intercepted)) if
/// clients are to see them answered.
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// use synack::forward::{forward, ForwardOptions, Upstream};
/// use synack::{IpCidr, NetStack, TunConfig, TunDevice};
/// let addr: IpCidr = "10.77.0.2/24".parse().unwrap();
/// let dev = TunDevice::open(&TunConfig::new("t2s0", &[addr]))?;
/// let stack = NetStack::new(dev, &[addr.addr])?;
/// let opts = ForwardOptions::new(Upstream::Socks5("127.0.0.1:1080".parse().unwrap()));
/// forward(&stack, opts, Default::default()).await
/// # }
/// ```
pub async fn forward(
    stack: &NetStack,
    opts: ForwardOptions,
    stats: Arc<ForwardStats>,
) -> io::Result<()> {
    let listener = TcpListener::intercept(stack).await?;
    // The SYN waits as long as the upstream may take, plus a little for the answer.
    listener.decide_at_syn(opts.connect_timeout + Duration::from_secs(1))?;
    let udp = Arc::new(UdpIntercept::new(stack).await?);
    let opts = Arc::new(opts);
    let tcp = tokio::spawn(tcp_loop(listener, opts.clone(), stats.clone()));
    let udp = tokio::spawn(udp_loop(udp, opts, stats));
    tokio::select! {
        r = tcp => r.map_err(io::Error::other)?,
        r = udp => r.map_err(io::Error::other)?,
    }
}

/// Where a connection or flow to `target` really goes.
fn destination(opts: &ForwardOptions, target: SocketAddr) -> SocketAddr {
    match opts.dns {
        Some(dns) if target.port() == 53 => dns,
        _ => target,
    }
}

async fn tcp_loop(
    listener: TcpListener,
    opts: Arc<ForwardOptions>,
    stats: Arc<ForwardStats>,
) -> io::Result<()> {
    loop {
        let syn = listener.next_syn().await?;
        tokio::spawn(carry_tcp(syn, opts.clone(), stats.clone()));
    }
}

/// Connect upstream, then answer the SYN as the upstream answered, then copy.
async fn carry_tcp(syn: SynRequest, opts: Arc<ForwardOptions>, stats: Arc<ForwardStats>) {
    use std::sync::atomic::Ordering::Relaxed;
    let to = destination(&opts, syn.target());
    let upstream = tokio::time::timeout(
        opts.connect_timeout,
        connect(opts.upstream, opts.auth.as_ref(), to),
    )
    .await;
    let mut upstream = match upstream {
        Ok(Ok(s)) => s,
        // Refused by the destination, or by the proxy (its ruleset, or credentials
        // it no longer takes): the client sees "connection refused".
        Ok(Err(e))
            if matches!(
                e.kind(),
                io::ErrorKind::ConnectionRefused | io::ErrorKind::PermissionDenied
            ) =>
        {
            tracing::debug!("tun2socks: {} -> {to}: {e}", syn.client());
            stats.tcp_refused.fetch_add(1, Relaxed);
            syn.refuse();
            return;
        }
        Ok(Err(e))
            if matches!(
                e.kind(),
                io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable
            ) =>
        {
            stats.tcp_failed.fetch_add(1, Relaxed);
            syn.unreachable();
            return;
        }
        Ok(Err(e)) => {
            tracing::debug!("tun2socks: {} -> {to}: {e}", syn.client());
            stats.tcp_failed.fetch_add(1, Relaxed);
            syn.ignore();
            return;
        }
        Err(_) => {
            stats.tcp_failed.fetch_add(1, Relaxed);
            syn.ignore();
            return;
        }
    };
    let Ok(mut client) = syn.accept().await else {
        return;
    };
    stats.tcp_accepted.fetch_add(1, Relaxed);
    // 64 KiB each way (tokio's default is 8 KiB): fewer, larger writes into both
    // stacks' send buffers.
    let _ =
        tokio::io::copy_bidirectional_with_sizes(&mut client, &mut upstream, 64 << 10, 64 << 10)
            .await;
}

/// The upstream byte stream of one connection.
enum UpStream {
    Direct(tokio::net::TcpStream),
    Socks(tokio_socks::tcp::Socks5Stream<tokio::net::TcpStream>),
}

async fn connect(
    upstream: Upstream,
    auth: Option<&SocksAuth>,
    to: SocketAddr,
) -> io::Result<UpStream> {
    match upstream {
        Upstream::Direct => {
            let s = tokio::net::TcpStream::connect(to).await?;
            let _ = s.set_nodelay(true);
            Ok(UpStream::Direct(s))
        }
        Upstream::Socks5(proxy) => {
            let s = match auth {
                None => tokio_socks::tcp::Socks5Stream::connect(proxy, to).await,
                Some(a) => {
                    tokio_socks::tcp::Socks5Stream::connect_with_password(
                        proxy,
                        to,
                        &a.username,
                        &a.password,
                    )
                    .await
                }
            };
            let s = s.map_err(socks_error)?;
            let _ = s.set_nodelay(true);
            Ok(UpStream::Socks(s))
        }
    }
}

/// The io::Error a SOCKS5 failure means to the client: RFC 1928 §6 replies 3/4/5
/// map onto unreachable / refused, so the SYN is answered the same way.
fn socks_error(e: tokio_socks::Error) -> io::Error {
    use tokio_socks::Error as E;
    let kind = match &e {
        E::ConnectionRefused => io::ErrorKind::ConnectionRefused,
        E::HostUnreachable => io::ErrorKind::HostUnreachable,
        E::NetworkUnreachable => io::ErrorKind::NetworkUnreachable,
        E::ConnectionNotAllowedByRuleset
        | E::PasswordAuthFailure(_)
        | E::AuthorizationRequired
        | E::NoAcceptableAuthMethods => io::ErrorKind::PermissionDenied,
        E::Io(io) => io.kind(),
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, e.to_string())
}

macro_rules! delegate {
    ($self:ident, $s:ident => $e:expr) => {
        match $self.get_mut() {
            UpStream::Direct($s) => $e,
            UpStream::Socks($s) => $e,
        }
    };
}

impl tokio::io::AsyncRead for UpStream {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        delegate!(self, s => std::pin::Pin::new(s).poll_read(cx, buf))
    }
}

impl tokio::io::AsyncWrite for UpStream {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<io::Result<usize>> {
        delegate!(self, s => std::pin::Pin::new(s).poll_write(cx, buf))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        delegate!(self, s => std::pin::Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        delegate!(self, s => std::pin::Pin::new(s).poll_shutdown(cx))
    }
}

/// A UDP flow's upstream: where its client's datagrams are sent.
type Flows = Arc<Mutex<HashMap<(SocketAddr, SocketAddr), Arc<socks_udp::Association>>>>;

fn lock(
    flows: &Flows,
) -> std::sync::MutexGuard<'_, HashMap<(SocketAddr, SocketAddr), Arc<socks_udp::Association>>> {
    flows
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The data path: each intercepted datagram goes to its flow's association. New
/// flows come from the decisions (`udp_decisions`), accepted only once their
/// association is open.
async fn udp_loop(
    udp: Arc<UdpIntercept>,
    opts: Arc<ForwardOptions>,
    stats: Arc<ForwardStats>,
) -> io::Result<()> {
    // The first datagram waits as long as the association may take, plus a little.
    udp.decide_flows(opts.connect_timeout + Duration::from_secs(1))?;
    let flows: Flows = Arc::default();
    let decisions = tokio::spawn(udp_decisions(
        udp.clone(),
        opts.clone(),
        stats.clone(),
        flows.clone(),
    ));
    let _abort = AbortOnDrop(decisions);
    loop {
        let (payload, client, target) = udp.recv().await?;
        let known = lock(&flows).get(&(client, target)).cloned();
        match known {
            Some(a) => {
                let _ = a.send(&payload).await;
            }
            None => {
                // The stack still knows the flow but its association closed after
                // `udp_idle` without an answer: open a new one for this datagram.
                // (Datagrams arriving meanwhile start their own attempts; rare, as
                // the flow was idle.)
                let (udp, opts, stats, flows) =
                    (udp.clone(), opts.clone(), stats.clone(), flows.clone());
                tokio::spawn(async move {
                    let Some(a) = open_flow(&opts, &stats, target).await else {
                        let _ = udp.refuse(client, target, &payload);
                        return;
                    };
                    lock(&flows).insert((client, target), a.clone());
                    let _ = a.send(&payload).await;
                    relay_answers(&udp, &opts, &flows, a, client, target).await;
                });
            }
        }
    }
}

/// Aborts a spawned task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<io::Result<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Each new flow: open its association, then accept the flow (its held datagrams
/// reach the data path, which finds the association) or refuse it.
async fn udp_decisions(
    udp: Arc<UdpIntercept>,
    opts: Arc<ForwardOptions>,
    stats: Arc<ForwardStats>,
    flows: Flows,
) -> io::Result<()> {
    loop {
        let req = udp.next_flow().await?;
        let (udp, opts, stats, flows) = (udp.clone(), opts.clone(), stats.clone(), flows.clone());
        tokio::spawn(async move {
            let (client, target) = (req.client(), req.target());
            let Some(a) = open_flow(&opts, &stats, target).await else {
                req.refuse();
                return;
            };
            lock(&flows).insert((client, target), a.clone());
            if req.accept().is_err() {
                lock(&flows).remove(&(client, target));
                return;
            }
            relay_answers(&udp, &opts, &flows, a, client, target).await;
        });
    }
}

/// Open the upstream association of a flow to `target`; `None` (counted) when it
/// cannot be made in time.
async fn open_flow(
    opts: &ForwardOptions,
    stats: &ForwardStats,
    target: SocketAddr,
) -> Option<Arc<socks_udp::Association>> {
    use std::sync::atomic::Ordering::Relaxed;
    let to = destination(opts, target);
    let a = tokio::time::timeout(
        opts.connect_timeout,
        socks_udp::Association::open(opts.upstream, opts.auth.as_ref(), to),
    )
    .await;
    match a {
        Ok(Ok(a)) => {
            stats.udp_flows.fetch_add(1, Relaxed);
            Some(Arc::new(a))
        }
        Ok(Err(e)) => {
            tracing::debug!("tun2socks: udp -> {to}: {e}");
            stats.udp_refused.fetch_add(1, Relaxed);
            None
        }
        Err(_) => {
            stats.udp_refused.fetch_add(1, Relaxed);
            None
        }
    }
}

/// Send the association's answers to the client as `target` until it is idle for
/// `udp_idle`, then close it.
async fn relay_answers(
    udp: &UdpIntercept,
    opts: &ForwardOptions,
    flows: &Flows,
    a: Arc<socks_udp::Association>,
    client: SocketAddr,
    target: SocketAddr,
) {
    let mut buf = vec![0u8; 65_536];
    while let Ok(Ok(n)) = tokio::time::timeout(opts.udp_idle, a.recv(&mut buf)).await {
        if udp.send_as(target, client, &buf[..n]).await.is_err() {
            break;
        }
    }
    let mut f = lock(flows);
    if f.get(&(client, target)).is_some_and(|x| Arc::ptr_eq(x, &a)) {
        f.remove(&(client, target));
    }
}
