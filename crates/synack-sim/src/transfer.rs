//! [`Transfer`]: the application both sides of a test or demo run: connect or accept,
//! send a deterministic stream of bytes, read the peer's stream to the end while
//! hashing it (SHA-256), and close according to a [`ClosePolicy`].

use crate::stack_host::App;
use core::net::SocketAddr;
use sha2::{Digest, Sha256};
use synack_core::time::Instant;
use synack_core::{ConnError, ConnHandle, ConnInfo, Event, ListenerHandle, Stack, State};

/// When a side closes its sending direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClosePolicy {
    /// As soon as all its data is written and all the peer's data has arrived.
    WhenDone,
    /// After reading the peer's FIN (end of stream) and writing all its data.
    OnEof,
    /// At a time set later with [`Transfer::close_at`] (for simultaneous close).
    At(Option<Instant>),
}

/// Which end of the connection this side is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Active opener: connects to `remote` (from `local`, if given).
    Client {
        /// Where to connect.
        remote: SocketAddr,
        /// Optional fixed local address (for simultaneous open).
        local: Option<SocketAddr>,
    },
    /// Passive opener: listens on `local`.
    Server {
        /// Listen address.
        local: SocketAddr,
    },
}

/// Deterministic test data: `len` bytes from `seed` (xorshift stream).
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed ^ 0x9E37_79B9_7F4A_7C15;
    if x == 0 {
        x = 1;
    }
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let b = x.to_le_bytes();
        let n = (len - out.len()).min(8);
        out.extend_from_slice(&b[..n]);
    }
    out
}

/// Readable test data: `len` bytes of "hello from the WHO #1\n..." lines.
pub fn text_pattern(who: &str, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut i = 1u64;
    while out.len() < len {
        let line = format!("hello from the {who} #{i}\n");
        let n = (len - out.len()).min(line.len());
        out.extend_from_slice(&line.as_bytes()[..n]);
        i += 1;
    }
    out
}

/// SHA-256 of `data`, as lowercase hex.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// One side of a bulk transfer.
#[derive(Debug)]
pub struct Transfer {
    role: Role,
    data: Vec<u8>,
    sent: usize,
    expect: usize,
    received: usize,
    hasher: Sha256,
    close: ClosePolicy,
    conn: Option<ConnHandle>,
    listener: Option<ListenerHandle>,
    eof: bool,
    shut: bool,
    released: bool,
    /// The connection's last info snapshot, while it existed.
    pub last_info: Option<ConnInfo>,
    /// Why the connection failed, if it did.
    pub error: Option<ConnError>,
    /// When the connection became established.
    pub established_at: Option<Instant>,
    /// When all the peer's bytes had arrived.
    pub data_done_at: Option<Instant>,
    /// A failure to start (connect/listen error), as text.
    pub setup_error: Option<String>,
    buf: Vec<u8>,
}

impl Transfer {
    /// A side that sends `data` and expects `expect` bytes from the peer.
    pub fn new(role: Role, data: Vec<u8>, expect: usize, close: ClosePolicy) -> Transfer {
        Transfer {
            role,
            data,
            sent: 0,
            expect,
            received: 0,
            hasher: Sha256::new(),
            close,
            conn: None,
            listener: None,
            eof: false,
            shut: false,
            released: false,
            last_info: None,
            error: None,
            established_at: None,
            data_done_at: None,
            setup_error: None,
            buf: vec![0; 64 * 1024],
        }
    }

    /// Schedule the close for policy `At`.
    pub fn close_at(&mut self, t: Instant) {
        self.close = ClosePolicy::At(Some(t));
    }

    /// Bytes received so far.
    pub fn received(&self) -> usize {
        self.received
    }

    /// Bytes accepted by the stack so far.
    pub fn sent(&self) -> usize {
        self.sent
    }

    /// SHA-256 (hex) of everything received.
    pub fn received_sha256(&self) -> String {
        hex(&self.hasher.clone().finalize())
    }

    /// True once all own data was written and all the peer's data read.
    pub fn data_complete(&self) -> bool {
        self.sent == self.data.len() && self.received >= self.expect
    }

    /// True once the peer's FIN was read.
    pub fn saw_eof(&self) -> bool {
        self.eof
    }

    /// The connection handle, once there is one.
    pub fn conn(&self) -> Option<ConnHandle> {
        self.conn
    }

    fn should_close(&self, now: Instant) -> bool {
        // Not before the handshake completed: a close in SYN-SENT deletes the TCB
        // (RFC 9293 §3.10.4), so a side with nothing to send would never connect.
        if self.shut || self.sent < self.data.len() || self.established_at.is_none() {
            return false;
        }
        match self.close {
            ClosePolicy::WhenDone => self.received >= self.expect,
            ClosePolicy::OnEof => self.eof,
            ClosePolicy::At(t) => t.is_some_and(|t| now >= t),
        }
    }
}

impl App for Transfer {
    fn poll(&mut self, stack: &mut Stack, now: Instant) {
        if self.conn.is_none() && self.listener.is_none() && self.setup_error.is_none() {
            match self.role {
                Role::Client { remote, local } => match stack.connect(now, remote, local) {
                    Ok(h) => self.conn = Some(h),
                    Err(e) => self.setup_error = Some(e.to_string()),
                },
                Role::Server { local } => match stack.listen(local, 0) {
                    Ok(l) => self.listener = Some(l),
                    Err(e) => self.setup_error = Some(e.to_string()),
                },
            }
        }
        while let Some(ev) = stack.poll_event() {
            if let Event::Closed(_, Some(e)) = ev {
                self.error = Some(e);
            }
        }
        if self.conn.is_none() {
            if let Some(l) = self.listener {
                if let Some(h) = stack.accept(l) {
                    self.conn = Some(h);
                    stack.close_listener(now, l);
                    self.listener = None;
                }
            }
        }
        let Some(h) = self.conn else { return };
        if self.released {
            return;
        }
        if let Some(info) = stack.info(h) {
            if self.established_at.is_none() && info.state.is_synchronized() {
                self.established_at = Some(now);
            }
            if info.error.is_some() {
                self.error = info.error;
            }
            self.last_info = Some(info);
        }
        // Write.
        while self.sent < self.data.len() {
            match stack.send(h, &self.data[self.sent..]) {
                Ok(n) if n > 0 => self.sent += n,
                _ => break,
            }
        }
        // Read.
        loop {
            match stack.recv(h, &mut self.buf) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => {
                    self.hasher.update(&self.buf[..n]);
                    self.received += n;
                }
                Err(_) => break,
            }
        }
        if self.received >= self.expect && self.data_done_at.is_none() {
            self.data_done_at = Some(now);
        }
        if self.should_close(now) {
            self.shut = true;
            let _ = stack.shutdown(now, h);
        }
        // Release the handle once the connection is over (or our side is done and the
        // peer closed): the stack finishes TIME-WAIT on its own.
        let state = stack.state(h);
        let finished = matches!(state, None | Some(State::Closed)) || (self.shut && self.eof);
        if finished {
            if let Some(info) = stack.info(h) {
                self.last_info = Some(info);
            }
            stack.close(now, h);
            self.released = true;
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match self.close {
            ClosePolicy::At(Some(t)) if !self.shut => Some(t),
            _ => None,
        }
    }

    fn is_done(&self) -> bool {
        self.released || self.setup_error.is_some()
    }
}
