//! The driver task: the one place that moves packets between the device and the
//! engine. Each turn follows the engine's driving order (see `synack_core::Stack`):
//!
//! 1. feed the batch of packets read from the device to `handle_packet`, and call
//!    `handle_timeout` when the engine's deadline has passed;
//! 2. drain `poll_transmit` into a batch and write it to the device; drain
//!    `poll_event` and wake the tasks waiting on those connections and listeners;
//! 3. sleep until the device has packets, the deadline comes, or an application call
//!    nudges the driver.
//!
//! Wakers and the trace callback run with the engine unlocked. Offload marks travel
//! with the packets: a received packet whose checksums the device vouches for goes
//! to `handle_packet_unchecked`, and the segment size of an outgoing TSO
//! super-segment is set on its place in the batch.

use crate::device::{Device, PacketBatch};
use crate::runtime::{Inner, Shared, TraceFn};
use std::io;
use std::sync::Arc;
use std::task::Waker;
use std::time::Duration;
use synack_core::trace::TraceEvent;
use synack_core::{Event, UdpEvent};

/// Longest time captured packets stay in the capture buffer while traffic flows.
const CAPTURE_FLUSH: Duration = Duration::from_millis(200);

/// Marks the driver stopped when it returns, however it returns.
struct StopGuard(Arc<Shared>);

impl Drop for StopGuard {
    fn drop(&mut self) {
        self.0.mark_stopped();
    }
}

/// Run the stack until the device fails, or every user handle is gone and every
/// connection has finished (the engine holds no connection but compact TIME-WAIT
/// records: the FINs of closed connections are retransmitted until acknowledged or
/// their retry limits end them).
pub(crate) async fn run<D: Device>(
    shared: Arc<Shared>,
    mut device: D,
    mut trace: Option<TraceFn>,
    batch: usize,
) {
    let _stopped = StopGuard(shared.clone());
    let mut rx = PacketBatch::new(batch);
    let mut tx = PacketBatch::new(batch);
    let mut wakers: Vec<Waker> = Vec::new();
    let mut traces: Vec<TraceEvent> = Vec::new();
    let mut capture_dirty_since: Option<tokio::time::Instant> = None;
    // One timer for the engine's deadline, kept across turns (see `arm`).
    let timer = tokio::time::sleep_until(tokio::time::Instant::now() + FAR);
    tokio::pin!(timer);
    let mut timer_at: Option<tokio::time::Instant> = None;
    loop {
        if shared.record(&rx) {
            capture_dirty_since.get_or_insert_with(tokio::time::Instant::now);
        }
        let (deadline, more, stop) = {
            let mut guard = shared.lock();
            let inner = &mut *guard;
            let now = shared.now();
            for (i, p) in rx.iter().enumerate() {
                if rx.checksum_trusted(i) {
                    // An offloading device vouches for this packet's checksums.
                    inner.engine.handle_packet_unchecked(now, p);
                } else {
                    inner.engine.handle_packet(now, p);
                }
            }
            if inner.engine.poll_timeout().is_some_and(|t| t <= now) {
                inner.engine.handle_timeout(now);
            }
            let max = inner.engine.max_packet_size();
            while !tx.is_full() {
                let engine = &mut inner.engine;
                let mut segment_size = None;
                let n = tx
                    .push_with(max, |buf| {
                        Ok(engine.poll_transmit(now, buf).map_or(0, |t| {
                            segment_size = t.segment_size;
                            t.len
                        }))
                    })
                    .unwrap_or(0);
                if n == 0 {
                    break;
                }
                // A TSO super-segment: the device cuts it (Device::tso_max).
                tx.set_last_segment_size(segment_size);
            }
            dispatch_events(inner, &mut wakers);
            if trace.is_some() {
                while let Some(ev) = inner.engine.poll_trace() {
                    traces.push(ev);
                }
            }
            let stop = shared.handle_count() == 0 && inner.engine.active_connection_count() == 0;
            (inner.engine.poll_timeout(), tx.is_full(), stop)
        };
        rx.clear();
        for w in wakers.drain(..) {
            w.wake();
        }
        if let Some(f) = trace.as_mut() {
            for ev in traces.drain(..) {
                f(ev);
            }
        }
        if !tx.is_empty() {
            if shared.record(&tx) {
                capture_dirty_since.get_or_insert_with(tokio::time::Instant::now);
            }
            let sent = device.send(&tx).await;
            tx.clear();
            if let Err(e) = sent {
                fail(&shared, e);
                return;
            }
        }
        if stop {
            let _ = shared.flush_capture();
            return;
        }
        if more {
            // The engine has more to send: go again, but let other tasks run first.
            tokio::task::yield_now().await;
            continue;
        }
        arm(
            timer.as_mut(),
            &mut timer_at,
            deadline.map(|t| shared.tokio_instant(t)),
        );
        let flush_at = capture_dirty_since.map(|t| t + CAPTURE_FLUSH);
        let far = tokio::time::Instant::now() + FAR;
        tokio::select! {
            _ = shared.driver_wake.notified() => {}
            r = device.recv(&mut rx) => {
                if let Err(e) = r {
                    if e.kind() != io::ErrorKind::Interrupted && e.kind() != io::ErrorKind::WouldBlock {
                        fail(&shared, e);
                        return;
                    }
                }
            }
            _ = timer.as_mut(), if timer_at.is_some() => {
                // Fired: the next turn arms it again for whatever is due then.
                timer_at = None;
            }
            _ = tokio::time::sleep_until(flush_at.unwrap_or(far)), if flush_at.is_some() => {
                if let Err(e) = shared.flush_capture() {
                    tracing::warn!("pcap capture flush failed: {e}");
                }
                capture_dirty_since = None;
            }
        }
    }
}

/// A deadline so far away that it means "none".
const FAR: Duration = Duration::from_secs(3600);

/// Point the driver's timer at the engine's next deadline `want`, touching tokio's
/// timer only when that deadline is earlier than the one armed (or none is armed).
/// A later or vanished deadline leaves the timer where it was: it fires early once,
/// the turn finds nothing due, and re-arms. Registering an earlier deadline makes
/// tokio wake its I/O driver (an eventfd write and an extra `epoll_wait`), and a
/// fresh timer each turn did that for most turns: twice per connection in the
/// tun2socks connection benchmark (a SYN-ACK's retransmission timer, then the
/// next), where the armed timer now mostly stays.
fn arm(
    timer: std::pin::Pin<&mut tokio::time::Sleep>,
    armed: &mut Option<tokio::time::Instant>,
    want: Option<tokio::time::Instant>,
) {
    let Some(want) = want else { return };
    if armed.is_none_or(|a| want < a) {
        timer.reset(want);
        *armed = Some(want);
    }
}

/// Turn engine events into wake-ups of the tasks waiting for them.
fn dispatch_events(inner: &mut Inner, wakers: &mut Vec<Waker>) {
    dispatch_udp_events(inner, wakers);
    if inner.engine.has_syn_requests() {
        wakers.append(&mut inner.syn_waiters);
    }
    if inner.engine.has_udp_flow_requests() {
        wakers.append(&mut inner.udp_flow_waiters);
    }
    if inner.engine.has_unhandled() {
        wakers.extend(inner.raw_waiter.take());
    }
    while let Some(ev) = inner.engine.poll_event() {
        match ev {
            Event::Incoming(l) => {
                if let Some(list) = inner.listeners.get_mut(&l) {
                    wakers.append(list);
                }
            }
            Event::Connected(h) | Event::Writable(h) => {
                if let Some(c) = inner.conns.get_mut(&h) {
                    wakers.extend(c.write.take());
                }
            }
            Event::Readable(h) => {
                if let Some(c) = inner.conns.get_mut(&h) {
                    wakers.extend(c.read.take());
                }
            }
            Event::Closed(h, _) => {
                if let Some(c) = inner.conns.get_mut(&h) {
                    wakers.extend(c.read.take());
                    wakers.extend(c.write.take());
                }
            }
        }
    }
}

/// UDP events: wake the socket's reader or writer; keep expired intercepted flows
/// (at most `EXPIRED_KEPT`, the oldest dropped) for `UdpIntercept::expired`.
fn dispatch_udp_events(inner: &mut Inner, wakers: &mut Vec<Waker>) {
    while let Some(ev) = inner.engine.poll_udp_event() {
        match ev {
            UdpEvent::Readable(h) => {
                if let Some(w) = inner.udp.get_mut(&h) {
                    wakers.extend(w.read.take());
                }
            }
            UdpEvent::Writable(h) => {
                if let Some(w) = inner.udp.get_mut(&h) {
                    wakers.extend(w.write.take());
                }
            }
            UdpEvent::FlowExpired {
                handle,
                client,
                target,
            } => {
                if inner.udp_expired.len() >= crate::udp::EXPIRED_KEPT {
                    inner.udp_expired.pop_front();
                }
                inner.udp_expired.push_back((client, target));
                if let Some(w) = inner.udp.get_mut(&handle) {
                    wakers.extend(w.expired.take());
                }
            }
        }
    }
}

/// The device failed: remember why and wake everyone so they see the error.
fn fail(shared: &Shared, e: io::Error) {
    tracing::error!("synack driver stopped: device error: {e}");
    let mut wakers = Vec::new();
    {
        let mut inner = shared.lock();
        inner.failure = Some((e.kind(), format!("synack device failed: {e}")));
        inner.take_all_wakers(&mut wakers);
    }
    let _ = shared.flush_capture();
    for w in wakers {
        w.wake();
    }
}
