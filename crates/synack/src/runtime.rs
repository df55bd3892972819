//! [`NetStack`]: the runtime handle. It owns one synack engine behind a mutex, shared by
//! the driver task (the only code that talks to the device) and by the sockets (which
//! call the engine directly and then nudge the driver to transmit).
//!
//! Engine time is microseconds since the stack's start, read from tokio's clock (so a
//! test with a paused tokio clock runs the engine in paused time too).

use crate::capture::Capture;
use crate::device::Device;
use crate::driver;
use std::collections::{HashMap, VecDeque};
use std::io::{self, Write};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Waker;
use synack_core::trace::TraceEvent;
use synack_core::{Config, ConnHandle, Instant, ListenerHandle, Stack, StackStats};
use tokio::sync::Notify;

/// A callback receiving every trace event of the engine.
pub(crate) type TraceFn = Box<dyn FnMut(TraceEvent) + Send + 'static>;

/// Wakers of the tasks waiting on one connection.
#[derive(Debug, Default)]
pub(crate) struct ConnWaiters {
    pub(crate) read: Option<Waker>,
    pub(crate) write: Option<Waker>,
}

/// Everything behind the mutex.
pub(crate) struct Inner {
    pub(crate) engine: Stack,
    pub(crate) conns: HashMap<ConnHandle, ConnWaiters>,
    pub(crate) listeners: HashMap<ListenerHandle, Vec<Waker>>,
    /// Set when the driver stopped because the device failed.
    pub(crate) failure: Option<(io::ErrorKind, String)>,
    /// Wakers of the tasks waiting on UDP sockets (udp.rs).
    pub(crate) udp: HashMap<synack_core::UdpHandle, crate::udp::UdpWaiters>,
    /// Intercepted UDP flows that expired, for `UdpIntercept::expired` (bounded).
    pub(crate) udp_expired: VecDeque<(std::net::SocketAddr, std::net::SocketAddr)>,
    /// Tasks waiting for a SYN to decide (decide.rs).
    pub(crate) syn_waiters: Vec<Waker>,
    /// Tasks waiting for a UDP flow to decide (udp_decide.rs).
    pub(crate) udp_flow_waiters: Vec<Waker>,
    /// The task waiting for an unhandled packet (raw.rs).
    pub(crate) raw_waiter: Option<Waker>,
}

impl Inner {
    /// An error if the driver is gone (nothing would ever wake a waiting task).
    pub(crate) fn check_running(&self) -> io::Result<()> {
        match &self.failure {
            Some((kind, msg)) => Err(io::Error::new(*kind, msg.clone())),
            None => Ok(()),
        }
    }

    /// Remember `waker` to be woken when `h` becomes readable.
    pub(crate) fn wait_read(&mut self, h: ConnHandle, waker: &Waker) {
        let slot = &mut self.conns.entry(h).or_default().read;
        if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
            *slot = Some(waker.clone());
        }
    }

    /// Remember `waker` to be woken when `h` becomes writable (or connects, or dies).
    pub(crate) fn wait_write(&mut self, h: ConnHandle, waker: &Waker) {
        let slot = &mut self.conns.entry(h).or_default().write;
        if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
            *slot = Some(waker.clone());
        }
    }

    /// Remember `waker` to be woken when listener `l` has a connection.
    pub(crate) fn wait_accept(&mut self, l: ListenerHandle, waker: &Waker) {
        let list = self.listeners.entry(l).or_default();
        if !list.iter().any(|w| w.will_wake(waker)) {
            list.push(waker.clone());
        }
    }

    /// Every waiting task's waker (used when the driver stops).
    pub(crate) fn take_all_wakers(&mut self, out: &mut Vec<Waker>) {
        for c in self.conns.values_mut() {
            out.extend(c.read.take());
            out.extend(c.write.take());
        }
        for l in self.listeners.values_mut() {
            out.append(l);
        }
        for u in self.udp.values_mut() {
            out.extend(u.read.take());
            out.extend(u.write.take());
            out.extend(u.expired.take());
        }
        out.append(&mut self.syn_waiters);
        out.append(&mut self.udp_flow_waiters);
        out.extend(self.raw_waiter.take());
    }
}

/// State shared by the handle, the sockets and the driver.
pub(crate) struct Shared {
    inner: Mutex<Inner>,
    /// Wakes the driver after an application call that may have output.
    pub(crate) driver_wake: Notify,
    /// Engine time zero.
    start: tokio::time::Instant,
    /// Live user handles (NetStack clones, sockets); the driver stops once this is
    /// zero and every connection they closed has finished.
    handles: AtomicUsize,
    pub(crate) capture: Mutex<Option<Capture>>,
    /// Set when the driver task has returned (for [`NetStack::shutdown`]) ...
    stopped: AtomicBool,
    /// ... and its waiters woken.
    stopped_notify: Notify,
}

impl Shared {
    /// Lock the engine.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The engine's `now`. Call with the lock held, so that engine calls see
    /// non-decreasing times (the engine's monotonic-time rule).
    pub(crate) fn now(&self) -> Instant {
        let us = self.start.elapsed().as_micros();
        Instant::from_micros(u64::try_from(us).unwrap_or(u64::MAX))
    }

    /// The tokio instant of engine time `t` (capped a year ahead).
    pub(crate) fn tokio_instant(&self, t: Instant) -> tokio::time::Instant {
        let cap = self
            .now()
            .total_micros()
            .saturating_add(365 * 24 * 3600 * 1_000_000);
        let us = t.total_micros().min(cap);
        self.start + std::time::Duration::from_micros(us)
    }

    /// Ask the driver to run (after an application call that may have output).
    pub(crate) fn kick(&self) {
        self.driver_wake.notify_one();
    }

    /// Number of live user handles.
    pub(crate) fn handle_count(&self) -> usize {
        self.handles.load(Ordering::Acquire)
    }

    /// Record that the driver has returned and wake [`NetStack::shutdown`] waiters.
    pub(crate) fn mark_stopped(&self) {
        self.stopped.store(true, Ordering::Release);
        self.stopped_notify.notify_waiters();
    }

    /// Wait until the driver task has returned.
    async fn wait_stopped(&self) {
        loop {
            let notified = self.stopped_notify.notified();
            tokio::pin!(notified);
            // Registered before the check, so a stop in between is not missed.
            notified.as_mut().enable();
            if self.stopped.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }

    fn lock_capture(&self) -> MutexGuard<'_, Option<Capture>> {
        self.capture.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Flush the capture, if any.
    pub(crate) fn flush_capture(&self) -> io::Result<()> {
        match self.lock_capture().as_mut() {
            Some(c) => c.flush(),
            None => Ok(()),
        }
    }

    /// Record a batch in the capture, if any. Returns true if something was recorded.
    pub(crate) fn record(&self, batch: &crate::device::PacketBatch) -> bool {
        match self.lock_capture().as_mut() {
            Some(c) if !batch.is_empty() => {
                c.record(batch);
                true
            }
            _ => false,
        }
    }
}

/// A counted reference to the shared state: the driver runs while one exists.
pub(crate) struct StackRef(Arc<Shared>);

impl StackRef {
    fn new(shared: Arc<Shared>) -> StackRef {
        shared.handles.fetch_add(1, Ordering::AcqRel);
        StackRef(shared)
    }
}

impl Clone for StackRef {
    fn clone(&self) -> StackRef {
        StackRef::new(self.0.clone())
    }
}

impl Drop for StackRef {
    fn drop(&mut self) {
        self.0.handles.fetch_sub(1, Ordering::AcqRel);
        self.0.kick();
    }
}

impl std::ops::Deref for StackRef {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// Builds a [`NetStack`]: engine configuration, addresses, capture and trace hooks.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// use synack::{Config, MemoryDevice, NetStack};
/// let (dev, _peer) = MemoryDevice::pair();
/// let stack = NetStack::builder()
///     .config(Config { icmp_echo_intercepted: true, ..Config::default() })
///     .address("10.0.0.2".parse().unwrap())
///     .address("fd00::2".parse().unwrap())
///     .secret([7; 16]) // repeatable ISNs and ports, for tests
///     .capture(std::io::sink()) // a pcap of the device, e.g. to a File
///     .build(dev)?;
/// assert_eq!(stack.addresses().len(), 2);
/// # Ok(())
/// # }
/// ```
pub struct NetStackBuilder {
    config: Config,
    addresses: Vec<IpAddr>,
    broadcasts: Vec<IpAddr>,
    secret: Option<[u8; 16]>,
    capture: Option<Box<dyn Write + Send>>,
    trace: Option<TraceFn>,
    batch: usize,
}

impl Default for NetStackBuilder {
    fn default() -> NetStackBuilder {
        NetStackBuilder::new()
    }
}

impl std::fmt::Debug for NetStackBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetStackBuilder")
            .field("config", &self.config)
            .field("addresses", &self.addresses)
            .field("capture", &self.capture.is_some())
            .field("trace", &self.trace.is_some())
            .field("batch", &self.batch)
            .finish()
    }
}

impl NetStackBuilder {
    /// Default engine [`Config`], no address, no capture, no trace, batches of 64.
    pub fn new() -> NetStackBuilder {
        NetStackBuilder {
            config: Config::default(),
            addresses: Vec::new(),
            broadcasts: Vec::new(),
            secret: None,
            capture: None,
            trace: None,
            batch: 64,
        }
    }

    /// The engine configuration (its `mtu` is lowered to the device's MTU if larger).
    /// On a device with TCP segmentation offload ([`Device::tso_max`]) a `tso_max`
    /// of 0 is raised to the device's, and a larger one lowered to it, so the engine
    /// sends super-segments the device cuts. Buffer sizes are left as configured: the
    /// engine autotunes them (receive buffers follow the measured bandwidth-delay
    /// product up to `recv_buffer_max`, send buffers follow cwnd up to
    /// `send_buffer_max`), which is what 64 KiB super-segments need.
    pub fn config(mut self, config: Config) -> NetStackBuilder {
        self.config = config;
        self
    }

    /// Add one of the stack's own IP addresses (IPv4 or IPv6; repeat for more).
    pub fn address(mut self, addr: IpAddr) -> NetStackBuilder {
        if !self.addresses.contains(&addr) {
            self.addresses.push(addr);
        }
        self
    }

    /// Declare a broadcast address of an attached network (the subnet-directed
    /// broadcast of an address's prefix): segments to or from it are discarded
    /// unanswered (RFC 1122 §4.2.3.10; [`Stack::add_broadcast`]).
    pub fn broadcast(mut self, addr: IpAddr) -> NetStackBuilder {
        if !self.broadcasts.contains(&addr) {
            self.broadcasts.push(addr);
        }
        self
    }

    /// The 16-byte key for ISNs, ephemeral ports and the demux hash. Random if unset;
    /// set it only for repeatable experiments.
    pub fn secret(mut self, secret: [u8; 16]) -> NetStackBuilder {
        self.secret = Some(secret);
        self
    }

    /// Capture every packet crossing the device into `out` as pcap (raw IP link
    /// type). Records are buffered and flushed at least every 200 ms while traffic
    /// flows, when the stack stops, and on [`NetStack::flush_capture`].
    pub fn capture(mut self, out: impl Write + Send + 'static) -> NetStackBuilder {
        self.capture = Some(Box::new(out));
        self
    }

    /// Call `f` with every trace event (segments in and out, state changes, drops).
    /// It runs on the driver task: keep it short, or forward into a channel:
    ///
    /// ```
    /// let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    /// let builder = synack::NetStack::builder().on_trace(move |ev| {
    ///     let _ = tx.send(ev);
    /// });
    /// # drop((builder, rx.try_recv()));
    /// ```
    pub fn on_trace(mut self, f: impl FnMut(TraceEvent) + Send + 'static) -> NetStackBuilder {
        self.trace = Some(Box::new(f));
        self
    }

    /// Most packets read from or written to the device per batch (default 64).
    pub fn batch_size(mut self, packets: usize) -> NetStackBuilder {
        self.batch = packets.max(1);
        self
    }

    /// Start the stack on `device`: spawns the driver task on the current tokio
    /// runtime. Fails outside a tokio runtime or if the capture header cannot be
    /// written.
    pub fn build<D: Device>(self, device: D) -> io::Result<NetStack> {
        let rt = tokio::runtime::Handle::try_current().map_err(|_| {
            io::Error::other("synack::NetStack must be started inside a tokio runtime")
        })?;
        let mut config = self.config;
        config.mtu = config.mtu.min(device.mtu()).max(68);
        let tso = device.tso_max();
        if tso > 0 {
            config.tso_max = match config.tso_max {
                0 => tso,
                own => own.min(tso),
            };
        }
        let secret = self.secret.unwrap_or_else(rand::random);
        let mut engine = Stack::new(config, secret);
        for a in &self.addresses {
            engine.add_address(*a);
        }
        for b in &self.broadcasts {
            engine.add_broadcast(*b);
        }
        if self.trace.is_some() {
            engine.set_trace(true);
        }
        let capture = self.capture.map(Capture::new).transpose()?;
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                engine,
                conns: HashMap::new(),
                listeners: HashMap::new(),
                failure: None,
                udp: HashMap::new(),
                udp_expired: VecDeque::new(),
                syn_waiters: Vec::new(),
                udp_flow_waiters: Vec::new(),
                raw_waiter: None,
            }),
            driver_wake: Notify::new(),
            start: tokio::time::Instant::now(),
            handles: AtomicUsize::new(0),
            capture: Mutex::new(capture),
            stopped: AtomicBool::new(false),
            stopped_notify: Notify::new(),
        });
        let handle = StackRef::new(shared.clone());
        rt.spawn(driver::run(shared, device, self.trace, self.batch));
        Ok(NetStack { stack: handle })
    }
}

/// A running userspace TCP/IP stack over one [`Device`]: the runtime counterpart of
/// the kernel's network stack. Sockets are opened on it with
/// [`TcpListener::bind`](crate::TcpListener::bind),
/// [`TcpListener::intercept`](crate::TcpListener::intercept) and
/// [`TcpStream::connect`](crate::TcpStream::connect).
///
/// One driver task owns the device; it runs while any handle (a `NetStack` clone or
/// a socket) is alive, and after the last one is dropped until every connection they
/// closed has finished its FIN exchange (retransmitting what the peer has not
/// acknowledged) or given up, and what is left in TIME-WAIT is the engine's compact
/// records. [`NetStack::shutdown`] waits for that. Cloning is cheap.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// use synack::{MemoryDevice, NetStack, TcpListener, TcpStream};
/// let (a, b) = MemoryDevice::pair();
/// let client = NetStack::new(a, &["10.0.0.1".parse().unwrap()])?;
/// let server = NetStack::new(b, &["10.0.0.2".parse().unwrap()])?;
/// let listener = TcpListener::bind(&server, "10.0.0.2:80").await?;
/// let c = TcpStream::connect(&client, "10.0.0.2:80").await?;
/// let (_s, peer) = listener.accept().await?;
/// assert_eq!(peer, c.local_addr()?);
/// assert_eq!(server.connection_count(), 1);
/// drop(c);
/// // Wait until the closed connection has finished its FIN exchange.
/// client.shutdown_timeout(std::time::Duration::from_secs(5)).await;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct NetStack {
    pub(crate) stack: StackRef,
}

impl std::fmt::Debug for NetStack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetStack")
            .field("addresses", &self.addresses())
            .finish_non_exhaustive()
    }
}

impl NetStack {
    /// A builder for a stack.
    pub fn builder() -> NetStackBuilder {
        NetStackBuilder::new()
    }

    /// A stack with the default configuration and the given addresses on `device`.
    pub fn new<D: Device>(device: D, addresses: &[IpAddr]) -> io::Result<NetStack> {
        addresses
            .iter()
            .fold(NetStack::builder(), |b, a| b.address(*a))
            .build(device)
    }

    /// Add an address to the stack.
    pub fn add_address(&self, addr: IpAddr) {
        self.stack.lock().engine.add_address(addr);
    }

    /// The stack's addresses.
    pub fn addresses(&self) -> Vec<IpAddr> {
        self.stack.lock().engine.addresses().to_vec()
    }

    /// The engine configuration in force.
    pub fn config(&self) -> Config {
        self.stack.lock().engine.config().clone()
    }

    /// Stack-wide counters.
    pub fn stats(&self) -> StackStats {
        self.stack.lock().engine.stats()
    }

    /// Connections the engine holds (any state, including TIME-WAIT).
    pub fn connection_count(&self) -> usize {
        self.stack.lock().engine.connection_count()
    }

    /// Why the driver stopped, if the device failed (sockets then fail with it too).
    pub fn error(&self) -> Option<io::Error> {
        self.stack.lock().check_running().err()
    }

    /// Drop this handle and wait until the stack has stopped: every other handle (the
    /// `NetStack`'s clones, listeners, streams) is gone, and every connection they
    /// closed has delivered its queued data and finished its FIN exchange, or given up
    /// (retransmission and orphan limits, FIN-WAIT-2 timeout; see
    /// [`Config::orphan_retries`]). TIME-WAIT needs no packets and is not waited for.
    /// Returns at once if the device failed. A stream still held elsewhere keeps the
    /// stack running, so drop the sockets first; see
    /// [`shutdown_timeout`](NetStack::shutdown_timeout) to bound the wait.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (dev, _peer) = synack::MemoryDevice::pair();
    /// let stack = synack::NetStack::new(dev, &["10.0.0.1".parse().unwrap()]).unwrap();
    /// stack.shutdown().await; // nothing open: returns at once
    /// # }
    /// ```
    pub async fn shutdown(self) {
        let shared = self.stack.0.clone();
        drop(self);
        shared.wait_stopped().await;
    }

    /// [`shutdown`](NetStack::shutdown) with a deadline: true if the stack stopped
    /// within `timeout`. When it did not, the driver keeps finishing the closing
    /// connections in the background (each is bounded by its retry limits).
    pub async fn shutdown_timeout(self, timeout: std::time::Duration) -> bool {
        tokio::time::timeout(timeout, self.shutdown()).await.is_ok()
    }

    /// Whether the driver task has stopped (the device failed, or the stack was shut
    /// down and finished).
    pub fn is_stopped(&self) -> bool {
        self.stack.stopped.load(Ordering::Acquire)
    }

    /// Write out buffered capture records now.
    pub fn flush_capture(&self) -> io::Result<()> {
        self.stack.flush_capture()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::PacketBatch;

    /// A device that never delivers a packet, with a chosen TSO limit.
    struct Quiet(usize);

    impl Device for Quiet {
        async fn recv(&mut self, _batch: &mut PacketBatch) -> io::Result<()> {
            std::future::pending().await
        }
        async fn send(&mut self, _batch: &PacketBatch) -> io::Result<()> {
            Ok(())
        }
        fn mtu(&self) -> usize {
            1500
        }
        fn tso_max(&self) -> usize {
            self.0
        }
    }

    #[tokio::test]
    async fn offloading_devices_keep_the_configured_buffers_and_autotune() {
        let d = Config::default();
        let plain = NetStack::builder().build(Quiet(0)).expect("stack");
        assert_eq!(plain.config().tso_max, 0);
        let tso = NetStack::builder().build(Quiet(60_000)).expect("stack");
        assert_eq!(tso.config().tso_max, 60_000);
        for s in [&plain, &tso] {
            assert_eq!(s.config().recv_buffer, d.recv_buffer);
            assert_eq!(s.config().send_buffer, d.send_buffer);
            // The window scale allows the autotuned maximum (RFC 7323 §2.3), not only
            // the initial buffer.
            assert!(s.config().window_shift() > 0);
            assert!((65535usize << s.config().window_shift()) >= d.recv_buffer_max);
        }
    }
}
