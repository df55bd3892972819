//! System calls of a script, executed against the engine with Linux semantics:
//! a file-descriptor table (numbered as the script numbers them, from 3), blocking
//! and non-blocking sockets (`O_NONBLOCK`, `MSG_DONTWAIT`), blocking calls that
//! finish later in virtual time (`0...0.2 connect(...)`), errno values as Linux
//! names them, socket options mapped onto `SocketOptions`, and `poll` readiness
//! computed as Linux `tcp_poll` does.

use super::consts::{self, eval_int, O_NONBLOCK, O_RDWR};
use super::{fail, fail_with, secs, Run, Stop, Sut};
use crate::ast::{Event, Expr, SyscallEvent};
use std::net::SocketAddr;
use synack_core::{
    ConnError, ConnHandle, ConnectError, Duration, Keepalive, ListenError, ListenerHandle,
    RecvError, SendError, State,
};

/// What a descriptor refers to.
#[derive(Debug, Clone, Copy)]
pub(super) enum FdKind {
    /// A socket that is neither listening nor connected.
    Fresh,
    /// A listening socket.
    Listener(ListenerHandle),
    /// A connection (active or accepted).
    Conn(ConnHandle),
}

/// Socket options as the script set them (applied to connections as they appear).
#[derive(Debug, Clone, Default)]
pub(super) struct SockOpts {
    reuseaddr: bool,
    /// SO_LINGER (onoff, seconds).
    linger: Option<(bool, i64)>,
    rcvbuf: Option<usize>,
    sndbuf: Option<usize>,
    keepalive: bool,
    keepidle: Option<u64>,
    keepintvl: Option<u64>,
    keepcnt: Option<u32>,
    nodelay: bool,
    /// TCP_CORK.
    cork: bool,
    pub(super) maxseg: Option<u16>,
    user_timeout_ms: Option<u64>,
    /// TCP_NOTSENT_LOWAT, 0 when unset.
    notsent_lowat: u32,
    linger2: Option<i64>,
    syncnt: Option<u32>,
    /// TCP_CONGESTION.
    congestion: Option<synack_core::cc::Algorithm>,
}

/// One file descriptor.
#[derive(Debug, Clone)]
pub(super) struct Fd {
    pub(super) kind: FdKind,
    pub(super) nonblocking: bool,
    pub(super) opts: SockOpts,
    pub(super) bound_port: Option<u16>,
    /// The connection's error has been reported once (Linux clears `sk_err`).
    error_reported: bool,
    shut_wr: bool,
    /// `shutdown(SHUT_RD)` was called: like Linux (`RCV_SHUTDOWN` in
    /// `tcp_recvmsg`), a read returns what is queued, then 0 instead of blocking.
    shut_rd: bool,
    /// `TCP_FASTOPEN_CONNECT` is on.
    pub(super) fastopen_connect: bool,
    /// A `TCP_FASTOPEN_CONNECT` connect waiting for the first write, to this server.
    pub(super) deferred: Option<SocketAddr>,
    /// `TCP_FASTOPEN` queue length, for when the socket listens.
    pub(super) fastopen_qlen: Option<usize>,
    /// `TCP_FASTOPEN_KEY`, for when the socket listens.
    pub(super) fastopen_key: Option<[u8; 16]>,
    /// `TCP_INQ`: `recvmsg` reports the bytes left to read.
    pub(super) inq: bool,
}

impl Fd {
    pub(super) fn new() -> Fd {
        Fd {
            kind: FdKind::Fresh,
            nonblocking: false,
            opts: SockOpts::default(),
            bound_port: None,
            error_reported: false,
            shut_wr: false,
            shut_rd: false,
            fastopen_connect: false,
            deferred: None,
            fastopen_qlen: None,
            fastopen_key: None,
            inq: false,
        }
    }
}

/// A read or write of `len > 0` bytes from a `NULL` buffer.
fn len_is_null(s: &SyscallEvent) -> bool {
    arg(s, 2)
        .and_then(|e| eval_int(e).ok())
        .is_some_and(|l| l > 0)
        && null_buffer(s)
}

/// A call's outcome: a value or -1 with errno.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ret {
    Ok(i64),
    Err(i64),
}

pub(super) fn errno(name: &str) -> Ret {
    Ret::Err(consts::errno_value(name).unwrap_or(22))
}

/// Linux errno for a dead connection.
fn conn_errno(e: ConnError) -> Ret {
    errno(match e {
        ConnError::Reset => "ECONNRESET",
        ConnError::Refused => "ECONNREFUSED",
        ConnError::TimedOut => "ETIMEDOUT",
        ConnError::Aborted => "ECONNABORTED",
        ConnError::Unreachable => "EHOSTUNREACH",
        ConnError::NetUnreachable => "ENETUNREACH",
        ConnError::ProtocolUnreachable => "ENOPROTOOPT",
        ConnError::Prohibited => "EACCES",
    })
}

/// A call that can wait.
#[derive(Debug, Clone)]
pub(super) enum Op {
    Accept {
        fd: i64,
        new_fd: Option<i64>,
    },
    Connect {
        fd: i64,
    },
    Read {
        fd: i64,
        len: usize,
        dontwait: bool,
    },
    Write {
        fd: i64,
        len: usize,
        done: usize,
        dontwait: bool,
        /// A Fast Open `sendto`: the handshake's failure is the call's error.
        connecting: bool,
        /// `MSG_EOR`: the data ends a record.
        eor: bool,
        /// `MSG_MORE`: more data follows (corked, not pushed).
        more: bool,
    },
    Poll {
        fds: Vec<PollFd>,
        timeout_ms: i64,
    },
}

#[derive(Debug, Clone)]
pub(super) struct PollFd {
    fd: i64,
    events: u32,
    revents: Option<u32>,
}

/// A blocking call in progress.
#[derive(Debug, Clone)]
pub(super) struct Pending {
    line: usize,
    call: SyscallEvent,
    op: Op,
    start: u64,
    /// When the script says the call returns.
    end: u64,
    tol: u64,
    /// Written with `...END`: otherwise the call was expected to return at once.
    scripted_end: bool,
    /// A time at which the call completes on its own (a poll timeout).
    pub(super) wake_at: Option<u64>,
}

fn arg(s: &SyscallEvent, i: usize) -> Option<&Expr> {
    s.args.get(i)
}

/// The buffer argument of a read or write is `NULL`: Linux fails the copy with
/// EFAULT (the runner does so without looking at the connection).
fn null_buffer(s: &SyscallEvent) -> bool {
    matches!(arg(s, 1), Some(Expr::Symbol(n)) if n == "NULL")
}

fn int_arg(line: usize, s: &SyscallEvent, i: usize) -> Result<i64, Stop> {
    let e =
        arg(s, i).ok_or_else(|| fail(line, format!("{}: missing argument {}", s.name, i + 1)))?;
    eval_int(e).map_err(|m| fail(line, format!("{}: argument {}: {m}", s.name, i + 1)))
}

/// A port in a sockaddr struct argument (`{sa_family=AF_INET, sin_port=htons(80), ...}`).
pub(super) fn sockaddr_port(e: Option<&Expr>) -> Option<u16> {
    let e = e?;
    e.field("sin_port")
        .or_else(|| e.field("sin6_port"))
        .and_then(|p| eval_int(p).ok())
        .map(|p| p as u16)
}

/// An address in a sockaddr struct argument (`sin_addr=inet_addr("192.0.2.1")`).
pub(super) fn sockaddr_ip(e: Option<&Expr>) -> Option<std::net::IpAddr> {
    let a = e?.field("sin_addr").or_else(|| e?.field("sin6_addr"))?;
    match a {
        Expr::Call { args, .. } => match args.first()? {
            Expr::Str { text, .. } => text.parse().ok(),
            _ => None,
        },
        _ => None,
    }
}

impl Run {
    pub(super) fn fd(&self, n: i64) -> Option<&Fd> {
        self.fds.get(&n)
    }

    pub(super) fn new_fd_number(&self, wanted: &Expr) -> i64 {
        match wanted.as_int() {
            // Script descriptors are names, as in packetdrill (which maps them to
            // live ones): a name still in use is given to the new socket.
            Some(n) if n >= 0 => n,
            _ => (3..).find(|n| !self.fds.contains_key(n)).unwrap_or(3),
        }
    }

    /// Apply the script's options to a connection.
    pub(super) fn apply_opts(&mut self, h: ConnHandle, o: &SockOpts) {
        let now = self.instant();
        let o2 = o.clone();
        self.stack.set_options(now, h, move |so| {
            so.nodelay = o2.nodelay;
            so.cork = o2.cork;
            so.keepalive = o2.keepalive.then(|| {
                let d = Keepalive::default();
                Keepalive {
                    idle: o2.keepidle.map_or(d.idle, Duration::from_secs),
                    interval: o2.keepintvl.map_or(d.interval, Duration::from_secs),
                    count: o2.keepcnt.unwrap_or(d.count),
                }
            });
            if let Some(ms) = o2.user_timeout_ms {
                so.user_timeout = (ms > 0).then(|| Duration::from_millis(ms));
            }
            if let Some(s) = o2.linger2 {
                if s > 0 {
                    so.fin_wait2_timeout = Duration::from_secs(s as u64);
                }
            }
            if let Some(n) = o2.syncnt {
                so.syn_retries = n;
            }
            if let Some(m) = o2.maxseg {
                so.max_segment = Some(m);
            }
            if let Some(a) = o2.congestion {
                so.congestion = a;
            }
        });
        if o.rcvbuf.is_some() || o.sndbuf.is_some() {
            self.stack.set_buffer_sizes(h, o.sndbuf, o.rcvbuf);
        }
        self.stack.set_notsent_lowat(h, o.notsent_lowat);
    }

    /// Start a system call event (any pending blocking call has finished).
    pub(super) fn start_syscall(
        &mut self,
        e: &Event,
        s: &SyscallEvent,
        end: Option<u64>,
        tol: u64,
    ) -> Result<(), Stop> {
        let line = e.line;
        let op = match self.immediate(line, s)? {
            Immediate::Done(ret) => {
                self.drain();
                return self.verify(line, s, ret, end, tol);
            }
            Immediate::Wait(op) => op,
        };
        let wake_at = match &op {
            Op::Poll { timeout_ms, .. } if *timeout_ms >= 0 => {
                Some(self.now + (*timeout_ms as u64) * 1000)
            }
            _ => None,
        };
        let p = Pending {
            line,
            call: s.clone(),
            op,
            start: self.now,
            end: end.unwrap_or(self.now),
            tol: end.map_or(self.tol_usecs, |end| {
                self.tolerance(end.saturating_sub(self.now))
            }),
            scripted_end: end.is_some(),
            wake_at,
        };
        self.pending = Some(p);
        self.retry_pending()
    }

    /// Try to complete the pending blocking call.
    pub(super) fn retry_pending(&mut self) -> Result<(), Stop> {
        let Some(mut p) = self.pending.take() else {
            return Ok(());
        };
        let now = self.now;
        let timed_out = p.wake_at.is_some_and(|w| now >= w);
        match self.attempt(p.line, &mut p.op, timed_out)? {
            Some(ret) => {
                self.drain();
                self.verify(p.line, &p.call, ret, Some(p.end), p.tol)
                    .map_err(|stop| match stop {
                        Stop::Fail(mut f) if !p.scripted_end && f.message.starts_with("timing") => {
                            f.message = format!(
                                "system call blocked from {} s to {} s; the script expects it to return at once",
                                secs(p.start),
                                secs(now)
                            );
                            Stop::Fail(f)
                        }
                        other => other,
                    })
            }
            None => {
                self.pending = Some(p);
                Ok(())
            }
        }
    }

    /// Wait (in virtual time) for the pending call to return, at most until its
    /// scripted end plus tolerance. `next_line` is the event that needs it done.
    pub(super) fn finish_pending(&mut self, _next_line: Option<usize>) -> Result<(), Stop> {
        while let Some(p) = &self.pending {
            let limit = p.end.saturating_add(p.tol);
            if !self.step_timer(limit)? {
                let p = self.pending.take().expect("pending");
                return Err(fail_with(
                    p.line,
                    format!(
                        "blocking system call did not return by {} s (tolerance {} s)",
                        secs(p.end),
                        secs(p.tol)
                    ),
                    p.call.to_string(),
                    "still blocked".to_string(),
                ));
            }
        }
        Ok(())
    }

    /// Check a call's outcome (and its end time, for a blocking call) against the
    /// script.
    fn verify(
        &mut self,
        line: usize,
        s: &SyscallEvent,
        ret: Ret,
        end: Option<u64>,
        tol: u64,
    ) -> Result<(), Stop> {
        let actual = match ret {
            Ret::Ok(v) => format!("returned {v}"),
            Ret::Err(e) => format!("returned -1 {}", consts::errno_name(e)),
        };
        let expected_val = match &s.result {
            Expr::Ellipsis => None,
            other => Some(eval_int(other).map_err(|m| fail(line, m))?),
        };
        let got_val = match ret {
            Ret::Ok(v) => v,
            Ret::Err(_) => -1,
        };
        let mut ok = expected_val.is_none_or(|v| v == got_val);
        if let Some(name) = &s.errno {
            let want = consts::errno_value(name)
                .ok_or_else(|| fail(line, format!("unknown errno `{name}`")))?;
            ok &= ret == Ret::Err(want);
        } else if let Ret::Err(_) = ret {
            ok &= expected_val == Some(-1);
        }
        if !ok {
            return Err(fail_with(
                line,
                format!("{}: unexpected result", s.name),
                s.to_string(),
                actual,
            ));
        }
        if let Some(end) = end {
            if self.now + tol < end || self.now > end.saturating_add(tol) {
                return Err(fail_with(
                    line,
                    format!(
                        "timing error: expected system call return at {} s but it returned at {} s; tolerance {} s",
                        secs(end),
                        secs(self.now),
                        secs(tol)
                    ),
                    s.to_string(),
                    actual,
                ));
            }
        }
        Ok(())
    }

    /// Run the part of a call that never blocks; calls that may wait become an
    /// [`Op`] tried at once and then whenever the engine makes progress.
    fn immediate(&mut self, line: usize, s: &SyscallEvent) -> Result<Immediate, Stop> {
        let name = s.name.as_str();
        let fdn = || int_arg(line, s, 0);
        let ret = match name {
            "socket" => {
                let ty = int_arg(line, s, 1).unwrap_or(1);
                if ty & 0xf != 1 {
                    return Err(Stop::Skip(format!(
                        "line {line}: only SOCK_STREAM sockets are supported"
                    )));
                }
                let n = self.new_fd_number(&s.result);
                let mut fd = Fd::new();
                fd.nonblocking = ty & O_NONBLOCK != 0;
                self.fds.insert(n, fd);
                Ret::Ok(n)
            }
            "bind" => self.bind(fdn()?, s)?,
            "listen" => self.listen(fdn()?, int_arg(line, s, 1)?),
            "accept" | "accept4" => {
                return self.wait_or(
                    line,
                    Op::Accept {
                        fd: fdn()?,
                        new_fd: s.result.as_int(),
                    },
                )
            }
            "connect" => return self.connect(line, fdn()?, s),
            "read" | "recv" | "recvfrom" => {
                let flags = if name == "read" {
                    0
                } else {
                    int_arg(line, s, 3).unwrap_or(0)
                };
                if flags & 2 != 0 {
                    return Err(Stop::Skip(format!(
                        "line {line}: MSG_PEEK is not supported"
                    )));
                }
                let len = int_arg(line, s, 2)?.max(0) as usize;
                if len > 0 && null_buffer(s) {
                    return Ok(Immediate::Done(errno("EFAULT")));
                }
                let op = Op::Read {
                    fd: fdn()?,
                    len,
                    dontwait: flags & consts::MSG_DONTWAIT != 0,
                };
                return self.wait_or(line, op);
            }
            "write" | "send" | "sendto" | "sendmsg" => {
                let (len, flags, addr) = if name == "sendmsg" {
                    let msg = arg(s, 1);
                    let len = super::fastopen::msghdr_len(line, msg)?;
                    let addr = msg.and_then(|m| match m {
                        Expr::Struct(f) => {
                            f.iter().find(|f| f.name == "msg_name").map(|f| &f.value)
                        }
                        _ => None,
                    });
                    (len, int_arg(line, s, 2).unwrap_or(0), addr)
                } else {
                    let flags = if name == "write" {
                        0
                    } else {
                        int_arg(line, s, 3).unwrap_or(0)
                    };
                    if len_is_null(s) {
                        return Ok(Immediate::Done(errno("EFAULT")));
                    }
                    (int_arg(line, s, 2)?.max(0) as usize, flags, arg(s, 4))
                };
                if let Some(imm) = self.fastopen_write(fdn()?, len, flags, addr) {
                    return Ok(imm);
                }
                let op = Op::Write {
                    fd: fdn()?,
                    len,
                    done: 0,
                    dontwait: flags & consts::MSG_DONTWAIT != 0,
                    connecting: false,
                    eor: flags & 0x80 != 0,
                    more: flags & consts::MSG_MORE != 0,
                };
                return self.wait_or(line, op);
            }
            "close" => {
                let n = fdn()?;
                self.epolls.remove(&n);
                for e in self.epolls.values_mut() {
                    e.forget(n);
                }
                self.close(n)
            }
            "epoll_create" | "epoll_create1" => self.epoll_create(s),
            "epoll_ctl" => self.epoll_ctl(line, s)?,
            "epoll_wait" | "epoll_pwait" => self.epoll_wait(line, s)?,
            "recvmsg" => return self.recvmsg(line, fdn()?, s),
            "shutdown" => self.shutdown(fdn()?, int_arg(line, s, 1)?),
            "setsockopt" => self.setsockopt(line, fdn()?, s)?,
            "getsockopt" => self.getsockopt(line, fdn()?, s)?,
            "fcntl" => {
                let n = fdn()?;
                let cmd = int_arg(line, s, 1)?;
                match self.fds.get_mut(&n) {
                    None => errno("EBADF"),
                    Some(fd) => match cmd {
                        3 => Ret::Ok(O_RDWR | if fd.nonblocking { O_NONBLOCK } else { 0 }),
                        4 => {
                            fd.nonblocking = int_arg(line, s, 2)? & O_NONBLOCK != 0;
                            Ret::Ok(0)
                        }
                        _ => {
                            return Err(Stop::Skip(format!(
                                "line {line}: fcntl command {cmd} is not supported"
                            )))
                        }
                    },
                }
            }
            "ioctl" => self.ioctl(line, fdn()?, s)?,
            "poll" => {
                let Some(Expr::Array(items)) = arg(s, 0) else {
                    return Err(fail(
                        line,
                        "poll: first argument must be [{fd=..., events=...}]",
                    ));
                };
                let mut fds = Vec::new();
                for it in items {
                    let field = |n: &str| it.field(n);
                    let fd = field("fd")
                        .ok_or_else(|| fail(line, "poll: pollfd without fd"))
                        .and_then(|e| eval_int(e).map_err(|m| fail(line, m)))?;
                    let events = field("events")
                        .map(eval_int)
                        .transpose()
                        .map_err(|m| fail(line, m))?
                        .unwrap_or(0) as u32;
                    let revents = match field("revents") {
                        None | Some(Expr::Ellipsis) => None,
                        Some(e) => Some(eval_int(e).map_err(|m| fail(line, m))? as u32),
                    };
                    fds.push(PollFd {
                        fd,
                        events,
                        revents,
                    });
                }
                let timeout_ms = int_arg(line, s, 2)?;
                return self.wait_or(line, Op::Poll { fds, timeout_ms });
            }
            other => {
                return Err(Stop::Skip(format!(
                    "line {line}: system call `{other}` is not supported"
                )))
            }
        };
        Ok(Immediate::Done(ret))
    }

    /// Try `op` now: done, or wait for it.
    fn wait_or(&mut self, line: usize, mut op: Op) -> Result<Immediate, Stop> {
        Ok(match self.attempt(line, &mut op, false)? {
            Some(ret) => Immediate::Done(ret),
            None => Immediate::Wait(op),
        })
    }

    /// One try at a waiting call (a non-blocking socket answers EAGAIN instead of
    /// waiting). `timed_out`: a poll's timeout has expired.
    pub(super) fn attempt(
        &mut self,
        line: usize,
        op: &mut Op,
        timed_out: bool,
    ) -> Result<Option<Ret>, Stop> {
        match op {
            Op::Accept { fd, new_fd } => {
                let Some(f) = self.fd(*fd).cloned() else {
                    return Ok(Some(errno("EBADF")));
                };
                let FdKind::Listener(l) = f.kind else {
                    return Ok(Some(errno("EINVAL")));
                };
                match self.stack.accept(l) {
                    Some(h) => {
                        if let Some(c) = self.incoming.get_mut(&l.index()) {
                            *c = c.saturating_sub(1);
                        }
                        let n = match new_fd {
                            Some(n) if *n >= 0 => *n,
                            _ => (3..).find(|n| !self.fds.contains_key(n)).unwrap_or(3),
                        };
                        let mut nf = Fd::new();
                        nf.kind = FdKind::Conn(h);
                        nf.opts = f.opts.clone();
                        self.apply_opts(h, &f.opts);
                        self.fds.insert(n, nf);
                        self.all_conns.push(h);
                        Ok(Some(Ret::Ok(n)))
                    }
                    None if f.nonblocking => Ok(Some(errno("EAGAIN"))),
                    None => Ok(None),
                }
            }
            Op::Connect { fd } => {
                let Some(f) = self.fd(*fd).cloned() else {
                    return Ok(Some(errno("EBADF")));
                };
                let FdKind::Conn(h) = f.kind else {
                    return Ok(Some(errno("EBADF")));
                };
                match self.stack.state(h) {
                    Some(State::SynSent | State::SynReceived) => Ok(None),
                    Some(State::Closed) | None => {
                        let e = self.stack.info(h).and_then(|i| i.error);
                        if let Some(fd) = self.fds.get_mut(fd) {
                            fd.error_reported = true;
                        }
                        Ok(Some(e.map_or(errno("ECONNABORTED"), conn_errno)))
                    }
                    Some(_) => Ok(Some(Ret::Ok(0))),
                }
            }
            Op::Read { fd, len, dontwait } => {
                let Some(f) = self.fd(*fd).cloned() else {
                    return Ok(Some(errno("EBADF")));
                };
                let FdKind::Conn(h) = f.kind else {
                    if f.deferred.is_some() {
                        // A deferred Fast Open connect is in SYN-SENT for Linux.
                        return Ok((f.nonblocking || *dontwait).then(|| errno("EAGAIN")));
                    }
                    return Ok(Some(errno("ENOTCONN")));
                };
                let mut buf = vec![0u8; *len];
                match self.stack.recv(h, &mut buf) {
                    Ok(n) => Ok(Some(Ret::Ok(n as i64))),
                    Err(RecvError::WouldBlock) if f.shut_rd => Ok(Some(Ret::Ok(0))),
                    Err(RecvError::WouldBlock) if f.nonblocking || *dontwait => {
                        Ok(Some(errno("EAGAIN")))
                    }
                    Err(RecvError::WouldBlock) => Ok(None),
                    Err(RecvError::Closed(e)) => Ok(Some(self.take_error(*fd, e, Ret::Ok(0)))),
                    Err(RecvError::NotConnected) => Ok(Some(errno("ENOTCONN"))),
                    Err(RecvError::InvalidHandle) => Ok(Some(errno("EBADF"))),
                }
            }
            Op::Write {
                fd,
                len,
                done,
                dontwait,
                connecting,
                eor,
                more,
            } => {
                let Some(f) = self.fd(*fd).cloned() else {
                    return Ok(Some(errno("EBADF")));
                };
                let FdKind::Conn(h) = f.kind else {
                    return Ok(Some(errno("EPIPE")));
                };
                let nonblock = f.nonblocking || *dontwait;
                if *connecting {
                    // A blocking Fast Open `sendto` (Linux `tcp_sendmsg_fastopen`):
                    // the connect's error is the call's, whatever the SYN carried.
                    match self.stack.state(h) {
                        Some(State::SynSent | State::SynReceived) => return Ok(None),
                        Some(State::Closed) | None => {
                            let e = self.stack.info(h).and_then(|i| i.error);
                            return Ok(Some(match e {
                                Some(e) => self.take_error(*fd, e, errno("EPIPE")),
                                None => errno("EPIPE"),
                            }));
                        }
                        _ => *connecting = false,
                    }
                }
                // Linux sk_stream_wait_connect: writes wait for the handshake (not
                // on a Fast Open server connection, which may write at once).
                if matches!(
                    self.stack.state(h),
                    Some(State::SynSent | State::SynReceived)
                ) && !self.stack.is_passive_fastopen(h)
                {
                    return Ok(if nonblock {
                        Some(errno("EAGAIN"))
                    } else {
                        None
                    });
                }
                let zeros = vec![0u8; *len - *done];
                loop {
                    if *done == *len {
                        if *eor {
                            self.stack.end_record(h);
                        }
                        return Ok(Some(Ret::Ok(*len as i64)));
                    }
                    let chunk = &zeros[..*len - *done];
                    let sent = if *more {
                        self.stack.send_more(h, chunk)
                    } else {
                        self.stack.send(h, chunk)
                    };
                    match sent {
                        Ok(n) => {
                            *done += n;
                            self.drain();
                        }
                        Err(SendError::WouldBlock) => {
                            return Ok(if nonblock {
                                Some(if *done > 0 {
                                    Ret::Ok(*done as i64)
                                } else {
                                    errno("EAGAIN")
                                })
                            } else {
                                None
                            })
                        }
                        Err(SendError::Shutdown) => {
                            return Ok(Some(if *done > 0 {
                                Ret::Ok(*done as i64)
                            } else {
                                errno("EPIPE")
                            }))
                        }
                        Err(SendError::Closed(e)) => {
                            return Ok(Some(self.take_error(*fd, e, errno("EPIPE"))))
                        }
                        Err(SendError::InvalidHandle) => return Ok(Some(errno("EBADF"))),
                    }
                }
            }
            Op::Poll { fds, timeout_ms } => {
                let mut ready = 0;
                let mut actual = Vec::new();
                for p in fds.iter() {
                    // POLLERR and POLLHUP are always reported (poll(2)).
                    let mask = p.events | consts::POLLERR | consts::POLLHUP;
                    let r = self.poll_mask(p.fd) & mask;
                    if r != 0 {
                        ready += 1;
                    }
                    actual.push(r);
                }
                if ready == 0 && *timeout_ms != 0 && !timed_out {
                    return Ok(None);
                }
                for (p, r) in fds.iter().zip(&actual) {
                    if let Some(want) = p.revents {
                        if want != *r {
                            return Err(fail_with(
                                line,
                                format!("poll: revents of fd {} differ", p.fd),
                                format!("revents={}", consts::poll_flags_to_string(want)),
                                format!("revents={}", consts::poll_flags_to_string(*r)),
                            ));
                        }
                    }
                }
                Ok(Some(Ret::Ok(ready)))
            }
        }
    }

    /// Report a connection's error once (Linux `sock_error` clears `sk_err`), then
    /// `after`.
    fn take_error(&mut self, fd: i64, e: ConnError, after: Ret) -> Ret {
        match self.fds.get_mut(&fd) {
            Some(f) if !f.error_reported => {
                f.error_reported = true;
                conn_errno(e)
            }
            _ => after,
        }
    }

    /// Linux `tcp_poll` readiness of a descriptor (before masking with events).
    pub(super) fn poll_mask(&self, fdn: i64) -> u32 {
        use consts::*;
        let Some(f) = self.fd(fdn) else {
            return 0x20; // POLLNVAL
        };
        match f.kind {
            // A deferred Fast Open connect is writable: the write sends the SYN
            // (Linux `tcp_poll` with `defer_connect`).
            FdKind::Fresh if f.deferred.is_some() => POLLOUT | POLLWRNORM,
            FdKind::Fresh => POLLOUT | POLLWRNORM | POLLHUP,
            FdKind::Listener(l) => {
                if self.incoming.get(&l.index()).copied().unwrap_or(0) > 0 {
                    POLLIN | POLLRDNORM
                } else {
                    0
                }
            }
            FdKind::Conn(h) => {
                let state = self.stack.state(h).unwrap_or(State::Closed);
                let closed = state == State::Closed;
                let rcv_shut = closed
                    || matches!(
                        state,
                        State::CloseWait | State::LastAck | State::Closing | State::TimeWait
                    );
                let snd_shut = closed || f.shut_wr;
                let mut m = 0;
                if closed || (rcv_shut && snd_shut) {
                    m |= POLLHUP;
                }
                if rcv_shut {
                    m |= POLLIN | POLLRDNORM | POLLRDHUP;
                }
                if !matches!(state, State::SynSent | State::SynReceived) {
                    if self.stack.recv_queue(h) > 0 {
                        m |= POLLIN | POLLRDNORM;
                    }
                    if snd_shut || self.stack.is_writable(h) {
                        m |= POLLOUT | POLLWRNORM;
                    }
                }
                let err = self.stack.info(h).and_then(|i| i.error);
                if err.is_some() && !f.error_reported {
                    m |= POLLERR;
                }
                m
            }
        }
    }

    fn port_in_use(&self, port: u16, reuseaddr: bool) -> bool {
        let listening = self.fds.values().any(|f| match f.kind {
            FdKind::Listener(l) => self
                .stack
                .listener_addr(l)
                .is_some_and(|a| a.port() == port),
            _ => false,
        });
        if listening {
            return true;
        }
        if reuseaddr {
            return false;
        }
        self.all_conns.iter().any(|h| {
            self.stack.state(*h).is_some_and(|s| s != State::Closed)
                && self.stack.local_addr(*h).is_some_and(|a| a.port() == port)
        })
    }

    fn bind(&mut self, n: i64, s: &SyscallEvent) -> Result<Ret, Stop> {
        let port = sockaddr_port(arg(s, 1)).unwrap_or(self.bind_port);
        let Some(f) = self.fd(n) else {
            return Ok(errno("EBADF"));
        };
        if f.bound_port.is_some() || !matches!(f.kind, FdKind::Fresh) {
            return Ok(errno("EINVAL"));
        }
        // Linux inet_csk_get_port: a port held by another socket is refused unless
        // SO_REUSEADDR is set and nobody listens on it.
        if self.port_in_use(port, f.opts.reuseaddr) {
            return Ok(errno("EADDRINUSE"));
        }
        if let Some(f) = self.fds.get_mut(&n) {
            f.bound_port = Some(port);
        }
        Ok(Ret::Ok(0))
    }

    fn listen(&mut self, n: i64, backlog: i64) -> Ret {
        let Some(f) = self.fd(n) else {
            return errno("EBADF");
        };
        match f.kind {
            FdKind::Listener(_) => return Ret::Ok(0),
            FdKind::Conn(_) => return errno("EINVAL"),
            FdKind::Fresh => {}
        }
        let port = f.bound_port.unwrap_or(self.bind_port);
        // Linux accepts backlog + 1 connections (sk_acceptq_is_full uses `>`).
        let backlog = backlog.clamp(0, 4096) as usize + 1;
        match self
            .stack
            .listen(SocketAddr::new(self.local_ip, port), backlog)
        {
            Ok(l) => {
                if let Some(f) = self.fds.get_mut(&n) {
                    f.kind = FdKind::Listener(l);
                    f.bound_port = Some(port);
                }
                self.fastopen_listen(n);
                self.sut = Sut::Listening(port);
                Ret::Ok(0)
            }
            Err(ListenError::AddrInUse) => errno("EADDRINUSE"),
            Err(ListenError::BadAddress) => errno("EADDRNOTAVAIL"),
        }
    }

    fn connect(&mut self, line: usize, n: i64, s: &SyscallEvent) -> Result<Immediate, Stop> {
        let Some(f) = self.fd(n).cloned() else {
            return Ok(Immediate::Done(errno("EBADF")));
        };
        match f.kind {
            FdKind::Listener(_) => return Ok(Immediate::Done(errno("EISCONN"))),
            FdKind::Conn(h) => {
                let ret = match self.stack.state(h) {
                    Some(State::SynSent | State::SynReceived) => errno("EALREADY"),
                    Some(State::Closed) | None => {
                        let e = self.stack.info(h).and_then(|i| i.error);
                        match e {
                            Some(e) => self.take_error(n, e, errno("ECONNABORTED")),
                            None => errno("EISCONN"),
                        }
                    }
                    Some(_) => errno("EISCONN"),
                };
                return Ok(Immediate::Done(ret));
            }
            FdKind::Fresh => {}
        }
        let target = super::fastopen::connect_target(self, s);
        if let Some(imm) = self.fastopen_defer_connect(n, target) {
            return Ok(match imm {
                Immediate::Wait(op) => self.wait_or(line, op)?,
                done => done,
            });
        }
        let ip = sockaddr_ip(arg(s, 1)).unwrap_or(self.remote_ip);
        let port = sockaddr_port(arg(s, 1)).unwrap_or(self.connect_port);
        let local = f.bound_port.map(|p| SocketAddr::new(self.local_ip, p));
        let now = self.instant();
        match self.stack.connect(now, SocketAddr::new(ip, port), local) {
            Ok(h) => {
                self.apply_opts(h, &f.opts);
                if let Some(fd) = self.fds.get_mut(&n) {
                    fd.kind = FdKind::Conn(h);
                }
                self.all_conns.push(h);
                self.sut = Sut::Connecting;
                self.drain();
                if f.nonblocking {
                    Ok(Immediate::Done(errno("EINPROGRESS")))
                } else {
                    self.wait_or(line, Op::Connect { fd: n })
                }
            }
            // Linux __inet_hash_connect: a bound port whose 4-tuple is taken (e.g.
            // in TIME-WAIT) gives EADDRNOTAVAIL.
            Err(ConnectError::AddrInUse) => Ok(Immediate::Done(errno(if local.is_some() {
                "EADDRNOTAVAIL"
            } else {
                "EADDRINUSE"
            }))),
            Err(ConnectError::BadAddress) => Ok(Immediate::Done(errno("ENETUNREACH"))),
            Err(ConnectError::NoPorts) => Ok(Immediate::Done(errno("EADDRNOTAVAIL"))),
            Err(ConnectError::TooManyConnections) => Ok(Immediate::Done(errno("ENOBUFS"))),
        }
    }

    fn close(&mut self, n: i64) -> Ret {
        let Some(f) = self.fds.remove(&n) else {
            return errno("EBADF");
        };
        let now = self.instant();
        match f.kind {
            FdKind::Fresh => {}
            FdKind::Listener(l) => {
                self.stack.close_listener(now, l);
                self.incoming.remove(&l.index());
            }
            FdKind::Conn(h) => {
                // SO_LINGER {onoff=1, linger=0}: close resets (RFC 9293 §3.10.5 ABORT).
                if f.opts.linger == Some((true, 0)) {
                    self.stack.abort(now, h);
                } else {
                    self.stack.close(now, h);
                }
            }
        }
        Ret::Ok(0)
    }

    fn shutdown(&mut self, n: i64, how: i64) -> Ret {
        let Some(f) = self.fds.get_mut(&n) else {
            return errno("EBADF");
        };
        let FdKind::Conn(h) = f.kind else {
            return errno("ENOTCONN");
        };
        if how == 0 || how == 2 {
            f.shut_rd = true;
        }
        if how == 1 || how == 2 {
            f.shut_wr = true;
            let now = self.instant();
            if self.stack.shutdown(now, h).is_err() {
                return errno("ENOTCONN");
            }
        } else if how != 0 {
            return errno("EINVAL");
        }
        Ret::Ok(0)
    }

    fn setsockopt(&mut self, line: usize, n: i64, s: &SyscallEvent) -> Result<Ret, Stop> {
        let level = int_arg(line, s, 1)?;
        let name = int_arg(line, s, 2)?;
        if level == 6 && matches!(name, 23 | 30 | 33) {
            return self.fastopen_setsockopt(line, n, name, s);
        }
        let val_expr = arg(s, 3).ok_or_else(|| fail(line, "setsockopt: missing value"))?;
        let Some(f) = self.fds.get_mut(&n) else {
            return Ok(errno("EBADF"));
        };
        let o = &mut f.opts;
        let int = || eval_int(val_expr).map_err(|m| fail(line, format!("setsockopt: {m}")));
        match (level, name) {
            (1, 2) => o.reuseaddr = int()? != 0,
            (1, 15) => {}
            (1, 13) => {
                let onoff = val_expr
                    .field("l_onoff")
                    .or_else(|| val_expr.field("onoff"))
                    .map(eval_int)
                    .transpose()
                    .map_err(|m| fail(line, m))?
                    .unwrap_or(0);
                let secs = val_expr
                    .field("l_linger")
                    .or_else(|| val_expr.field("linger"))
                    .map(eval_int)
                    .transpose()
                    .map_err(|m| fail(line, m))?
                    .unwrap_or(0);
                o.linger = Some((onoff != 0, secs));
            }
            (1, 7) => o.sndbuf = Some(int()?.max(0) as usize),
            (1, 8) => o.rcvbuf = Some(int()?.max(0) as usize),
            (1, 9) => o.keepalive = int()? != 0,
            // SO_ZEROCOPY: data is copied here either way.
            (1, 60) => {}
            (6, 36) => f.inq = int()? != 0,
            (6, 1) => o.nodelay = int()? != 0,
            (6, 3) => o.cork = int()? != 0,
            (6, 2) => {
                let v = int()?;
                if !(88..=32767).contains(&v) && v != 0 {
                    return Ok(errno("EINVAL"));
                }
                o.maxseg = (v > 0).then_some(v as u16);
            }
            (6, 4) => o.keepidle = Some(int()?.max(1) as u64),
            (6, 5) => o.keepintvl = Some(int()?.max(1) as u64),
            (6, 6) => o.keepcnt = Some(int()?.max(1) as u32),
            (6, 7) => {
                let v = int()?;
                if !(1..=127).contains(&v) {
                    return Ok(errno("EINVAL"));
                }
                o.syncnt = Some(v as u32);
            }
            (6, 8) => o.linger2 = Some(int()?),
            (6, 18) => {
                let v = int()?;
                if v < 0 {
                    return Ok(errno("EINVAL"));
                }
                o.user_timeout_ms = Some(v as u64);
            }
            (6, 12) => {}
            // TCP_NOTSENT_LOWAT.
            (6, 25) => o.notsent_lowat = int()?.clamp(0, i64::from(u32::MAX)) as u32,
            (6, 13) => {
                // TCP_CONGESTION: a name as Linux takes it ("cubic", "reno", "bbr").
                let Expr::Str { text, .. } = val_expr else {
                    return Err(fail(line, "setsockopt: TCP_CONGESTION takes a string"));
                };
                match synack_core::cc::Algorithm::from_name(text.trim_end_matches("\\0")) {
                    Some(a) => o.congestion = Some(a),
                    None => return Ok(errno("ENOENT")),
                }
            }
            _ => {
                return Err(Stop::Skip(format!(
                    "line {line}: socket option {level}/{name} is not supported"
                )))
            }
        }
        let opts = o.clone();
        match f.kind {
            FdKind::Conn(h) => {
                self.apply_opts(h, &opts);
                if (level, name) == (6, 1) && opts.nodelay {
                    // Linux pushes on every TCP_NODELAY set, even a repeated one.
                    let now = self.instant();
                    self.stack.push(now, h);
                }
            }
            // TCP_MAXSEG on a listener clamps the MSS of its SYN-ACKs (Linux).
            FdKind::Listener(l) => self.stack.set_listener_max_segment(l, opts.maxseg),
            FdKind::Fresh => {}
        }
        Ok(Ret::Ok(0))
    }

    fn getsockopt(&mut self, line: usize, n: i64, s: &SyscallEvent) -> Result<Ret, Stop> {
        let level = int_arg(line, s, 1)?;
        let name = int_arg(line, s, 2)?;
        let Some(f) = self.fds.get(&n).cloned() else {
            return Ok(errno("EBADF"));
        };
        let conn = match f.kind {
            FdKind::Conn(h) => Some(h),
            _ => None,
        };
        let o = &f.opts;
        let value: i64 = match (level, name) {
            (1, 4) => {
                // SO_ERROR: the pending error, cleared by reading it; else the soft
                // error of an ICMP message, cleared too (Linux sock_getsockopt).
                let e = conn.and_then(|h| self.stack.info(h)).and_then(|i| i.error);
                let soft = |stack: &mut synack_core::Stack| {
                    conn.and_then(|h| stack.take_soft_error(h))
                        .map_or(0, |e| match conn_errno(e) {
                            Ret::Err(v) | Ret::Ok(v) => v,
                        })
                };
                match e {
                    Some(e) if !f.error_reported => match self.take_error(n, e, Ret::Ok(0)) {
                        Ret::Err(v) | Ret::Ok(v) => v,
                    },
                    _ => soft(&mut self.stack),
                }
            }
            (1, 2) => i64::from(o.reuseaddr),
            (1, 9) => i64::from(o.keepalive),
            (6, 1) => i64::from(o.nodelay),
            (6, 3) => i64::from(o.cork),
            (6, 2) => conn
                .and_then(|h| self.stack.info(h))
                .map_or(i64::from(o.maxseg.unwrap_or(536)), |i| i64::from(i.mss)),
            (6, 4) => o.keepidle.unwrap_or(7200) as i64,
            (6, 5) => o.keepintvl.unwrap_or(75) as i64,
            (6, 6) => i64::from(o.keepcnt.unwrap_or(9)),
            (6, 7) => i64::from(o.syncnt.unwrap_or(6)),
            (6, 18) => o.user_timeout_ms.unwrap_or(0) as i64,
            (6, 25) => i64::from(o.notsent_lowat),
            _ => {
                return Err(Stop::Skip(format!(
                    "line {line}: getsockopt {level}/{name} is not supported"
                )))
            }
        };
        match arg(s, 3) {
            None | Some(Expr::Ellipsis) => {}
            Some(e) => {
                let want = eval_int(e).map_err(|m| fail(line, format!("getsockopt: {m}")))?;
                if want != value {
                    let show = |v: i64| {
                        if (level, name) == (1, 4) && v != 0 {
                            consts::errno_name(v)
                        } else {
                            v.to_string()
                        }
                    };
                    return Err(fail_with(
                        line,
                        "getsockopt: unexpected option value",
                        format!("[{}]", show(want)),
                        format!("[{}]", show(value)),
                    ));
                }
            }
        }
        Ok(Ret::Ok(0))
    }

    fn ioctl(&mut self, line: usize, n: i64, s: &SyscallEvent) -> Result<Ret, Stop> {
        let req = int_arg(line, s, 1)?;
        let Some(f) = self.fds.get(&n) else {
            return Ok(errno("EBADF"));
        };
        let FdKind::Conn(h) = f.kind else {
            return Ok(errno("EINVAL"));
        };
        let value = match req {
            0x541B => self.stack.recv_queue(h) as i64,
            0x5411 => self.stack.info(h).map_or(0, |i| i.send_queue as i64),
            _ => {
                return Err(Stop::Skip(format!(
                    "line {line}: ioctl {req:#x} is not supported"
                )))
            }
        };
        if let Some(e) = arg(s, 2) {
            if !matches!(e, Expr::Ellipsis) {
                let want = eval_int(e).map_err(|m| fail(line, format!("ioctl: {m}")))?;
                if want != value {
                    return Err(fail_with(
                        line,
                        "ioctl: unexpected value",
                        format!("[{want}]"),
                        format!("[{value}]"),
                    ));
                }
            }
        }
        Ok(Ret::Ok(0))
    }
}

/// The first part of a call.
pub(super) enum Immediate {
    Done(Ret),
    Wait(Op),
}
