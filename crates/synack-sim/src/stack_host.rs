//! [`StackHost`]: a `synack-core` [`Stack`] with an application on top, as a simulator
//! [`Host`]. The application is any [`App`]: after every input the host lets it act
//! (accept, read, write, close), then the simulator drains the stack's output.

use crate::Host;
use synack_core::time::Instant;
use synack_core::trace::TraceEvent;
use synack_core::Stack;

/// Application logic running on a simulated host.
pub trait App: 'static {
    /// Act on the stack: called after every packet and timer, and once at the start.
    fn poll(&mut self, stack: &mut Stack, now: Instant);
    /// An application deadline (e.g. a scheduled close), if any.
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    /// True when the application has finished its work.
    fn is_done(&self) -> bool {
        true
    }
}

/// An application that does nothing (a bare stack).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoApp;

impl App for NoApp {
    fn poll(&mut self, _stack: &mut Stack, _now: Instant) {}
}

/// A synack stack plus its application, driven by the simulator.
#[derive(Debug)]
pub struct StackHost<A: App> {
    /// The engine.
    pub stack: Stack,
    /// The application.
    pub app: A,
    /// Trace events collected so far (when the stack's trace is on).
    pub trace: Vec<TraceEvent>,
    started: bool,
    /// Input arrived since the application last ran.
    app_pending: bool,
}

impl<A: App> StackHost<A> {
    /// Wrap `stack` and `app`.
    pub fn new(stack: Stack, app: A) -> StackHost<A> {
        StackHost {
            stack,
            app,
            trace: Vec::new(),
            started: false,
            app_pending: true,
        }
    }

    fn run_app(&mut self, now: Instant) {
        self.started = true;
        self.app.poll(&mut self.stack, now);
        self.collect_trace();
    }

    fn collect_trace(&mut self) {
        while let Some(ev) = self.stack.poll_trace() {
            self.trace.push(ev);
        }
    }
}

impl<A: App> Host for StackHost<A> {
    fn handle_packet(&mut self, now: Instant, packet: &[u8]) {
        self.stack.handle_packet(now, packet);
        self.app_pending = true;
        self.collect_trace();
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.stack.handle_timeout(now);
        self.app_pending = true;
        self.collect_trace();
    }

    /// The stack's own answers go out first (as a kernel's ACK of a FIN leaves before
    /// the application wakes up); when it has nothing more, the application runs once
    /// and whatever it caused follows.
    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        loop {
            let t = self.stack.poll_transmit(now, buf);
            self.collect_trace();
            if let Some(t) = t {
                return Some(t.len);
            }
            if !self.app_pending {
                return None;
            }
            self.app_pending = false;
            self.run_app(now);
        }
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        if !self.started {
            return Some(Instant::ZERO);
        }
        match (self.stack.poll_timeout(), self.app.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn is_idle(&self) -> bool {
        self.app.is_done() && self.stack.connection_count() == 0
    }
}
