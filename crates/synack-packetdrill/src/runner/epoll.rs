//! `epoll_create` / `epoll_ctl` / `epoll_wait` and `recvmsg` with `TCP_INQ`, as Linux
//! behaves for the scripts that use them.
//!
//! epoll keeps a ready list as Linux does (`ep_poll_callback`): an item joins it when
//! it is added or modified while ready, and whenever its socket has news (data
//! arrived, room to write, connected, closed, a connection to accept: the engine's
//! events). `epoll_wait` polls each listed item's full readiness (`tcp_poll`, the same
//! mask `poll` reports), reports it if any of its events are ready, and drops
//! edge-triggered (`EPOLLET`) items from the list; level-triggered items stay while
//! ready. A wait that would block is not supported (the scripts use timeout 0).
//!
//! `TCP_INQ` makes `recvmsg` report in its control message how many bytes are left to
//! read after it (1 when none are and the peer has closed, as Linux `tcp_inq_hint`).

use super::consts::eval_int;
use super::syscall::{errno, Immediate, Op, Ret};
use super::{fail, fail_with, Run, Stop};
use crate::ast::{Expr, SyscallEvent};
use std::collections::BTreeMap;

/// `EPOLLET`.
const EPOLLET: u32 = 1 << 31;
/// `EPOLLERR | EPOLLHUP`: always reported.
const ALWAYS: u32 = 0x8 | 0x10;

/// One registered descriptor.
#[derive(Debug, Clone)]
struct Item {
    events: u32,
    /// The `data` the script registered (`fd=` or `ptr=`/`u64=`), reported back.
    data: i64,
    /// On the ready list.
    ready: bool,
}

/// One epoll instance: registered descriptors by number.
#[derive(Debug, Clone, Default)]
pub(super) struct Epoll {
    items: BTreeMap<i64, Item>,
}

fn field_int(line: usize, e: &Expr, names: &[&str]) -> Result<Option<i64>, Stop> {
    for n in names {
        if let Some(v) = e.field(n) {
            if matches!(v, Expr::Ellipsis) {
                return Ok(None);
            }
            return eval_int(v).map(Some).map_err(|m| fail(line, m));
        }
    }
    Ok(None)
}

impl Epoll {
    /// A closed descriptor leaves every epoll set (Linux `eventpoll_release`).
    pub(super) fn forget(&mut self, fd: i64) {
        self.items.remove(&fd);
    }
}

impl Run {
    /// `epoll_create(size)` / `epoll_create1(flags)`.
    pub(super) fn epoll_create(&mut self, s: &SyscallEvent) -> Ret {
        let n = self.new_fd_number(&s.result);
        self.fds.insert(n, super::syscall::Fd::new());
        self.epolls.insert(n, Epoll::default());
        Ret::Ok(n)
    }

    /// `epoll_ctl(epfd, op, fd, {events=..., fd=...})`.
    pub(super) fn epoll_ctl(&mut self, line: usize, s: &SyscallEvent) -> Result<Ret, Stop> {
        let int = |i: usize| {
            s.args
                .get(i)
                .ok_or_else(|| fail(line, format!("epoll_ctl: missing argument {}", i + 1)))
                .and_then(|e| eval_int(e).map_err(|m| fail(line, m)))
        };
        let (ep, op, fd) = (int(0)?, int(1)?, int(2)?);
        if !self.epolls.contains_key(&ep) {
            return Ok(errno("EBADF"));
        }
        if !self.fds.contains_key(&fd) {
            return Ok(errno("EBADF"));
        }
        let ev = s.args.get(3).cloned().unwrap_or(Expr::Ellipsis);
        let events = field_int(line, &ev, &["events"])?.unwrap_or(0) as u32;
        let data = field_int(line, &ev, &["fd", "u64", "ptr", "u32"])?.unwrap_or(fd);
        let ready_now = self.poll_mask(fd) & (events | ALWAYS) != 0;
        let Some(epoll) = self.epolls.get_mut(&ep) else {
            return Ok(errno("EBADF"));
        };
        match op {
            // EPOLL_CTL_ADD
            1 => {
                if epoll.items.contains_key(&fd) {
                    return Ok(errno("EEXIST"));
                }
                epoll.items.insert(
                    fd,
                    Item {
                        events,
                        data,
                        ready: ready_now,
                    },
                );
            }
            // EPOLL_CTL_DEL
            2 => {
                if epoll.items.remove(&fd).is_none() {
                    return Ok(errno("ENOENT"));
                }
            }
            // EPOLL_CTL_MOD
            3 => match epoll.items.get_mut(&fd) {
                Some(it) => {
                    it.events = events;
                    it.data = data;
                    it.ready = ready_now;
                }
                None => return Ok(errno("ENOENT")),
            },
            _ => return Ok(errno("EINVAL")),
        }
        Ok(Ret::Ok(0))
    }

    /// `epoll_wait(epfd, {events=..., fd=...}, maxevents, timeout)`: the expected
    /// event (one struct, or an array of them) is checked against what is reported.
    pub(super) fn epoll_wait(&mut self, line: usize, s: &SyscallEvent) -> Result<Ret, Stop> {
        let ep = s
            .args
            .first()
            .map(eval_int)
            .transpose()
            .map_err(|m| fail(line, m))?
            .unwrap_or(-1);
        let max = s
            .args
            .get(2)
            .map(eval_int)
            .transpose()
            .map_err(|m| fail(line, m))?
            .unwrap_or(1)
            .max(1) as usize;
        let timeout = s
            .args
            .get(3)
            .map(eval_int)
            .transpose()
            .map_err(|m| fail(line, m))?
            .unwrap_or(0);
        let Some(epoll) = self.epolls.get(&ep).cloned() else {
            return Ok(errno("EBADF"));
        };
        let mut reported: Vec<(u32, i64)> = Vec::new();
        let mut next = epoll.clone();
        for (fd, it) in &epoll.items {
            if !it.ready || reported.len() >= max {
                continue;
            }
            let mask = self.poll_mask(*fd) & (it.events | ALWAYS);
            let entry = next.items.get_mut(fd).expect("item");
            if mask == 0 {
                entry.ready = false;
                continue;
            }
            reported.push((mask, it.data));
            if it.events & EPOLLET != 0 {
                entry.ready = false;
            }
        }
        if reported.is_empty() && timeout != 0 {
            return Err(Stop::Skip(format!(
                "line {line}: an epoll_wait that blocks is not supported"
            )));
        }
        self.epolls.insert(ep, next);
        // Check the events the script expects.
        let expected: Vec<&Expr> = match s.args.get(1) {
            Some(Expr::Array(items)) => items.iter().collect(),
            Some(e @ Expr::Struct(_)) => vec![e],
            _ => Vec::new(),
        };
        for (i, want) in expected.iter().enumerate() {
            let events = field_int(line, want, &["events"])?;
            let data = field_int(line, want, &["fd", "u64", "ptr", "u32"])?;
            let got = reported.get(i).copied();
            let ok = match got {
                Some((m, d)) => events.is_none_or(|e| e as u32 == m) && data.is_none_or(|x| x == d),
                // No event: the script writes `{events=0, ...}`.
                None => events.is_none_or(|e| e == 0),
            };
            if !ok {
                return Err(fail_with(
                    line,
                    "epoll_wait: unexpected event",
                    want.to_string(),
                    match got {
                        Some((m, d)) => {
                            format!(
                                "{{events={}, data={d}}}",
                                super::consts::poll_flags_to_string(m)
                            )
                        }
                        None => "no event".to_string(),
                    },
                ));
            }
        }
        Ok(Ret::Ok(reported.len() as i64))
    }

    /// The engine had news for descriptor `fd`: its epoll items join the ready list.
    pub(super) fn epoll_wake(&mut self, fd: i64) {
        for e in self.epolls.values_mut() {
            if let Some(it) = e.items.get_mut(&fd) {
                it.ready = true;
            }
        }
    }

    /// `recvmsg(fd, {msg_iov(..)=[...], msg_control=[{... TCP_CM_INQ, cmsg_data=N}]},
    /// flags)`: a read of the iovecs' total length; with `TCP_INQ` on, the control
    /// message's byte count is checked.
    pub(super) fn recvmsg(
        &mut self,
        line: usize,
        n: i64,
        s: &SyscallEvent,
    ) -> Result<Immediate, Stop> {
        let msg = s.args.get(1);
        let len = super::fastopen::msghdr_len(line, msg)?;
        let flags = s
            .args
            .get(2)
            .map(eval_int)
            .transpose()
            .map_err(|m| fail(line, m))?
            .unwrap_or(0);
        if flags & 2 != 0 {
            return Err(Stop::Skip(format!(
                "line {line}: MSG_PEEK is not supported"
            )));
        }
        let mut op = Op::Read {
            fd: n,
            len,
            dontwait: flags & super::consts::MSG_DONTWAIT != 0,
        };
        let Some(ret) = self.attempt(line, &mut op, false)? else {
            return Ok(Immediate::Wait(op));
        };
        let inq_on = self.fd(n).is_some_and(|f| f.inq);
        let want = msg
            .and_then(|m| m.field("msg_control"))
            .and_then(|c| match c {
                Expr::Array(items) => items.first(),
                other => Some(other),
            })
            .and_then(|c| c.field("cmsg_data"))
            .and_then(|d| eval_int(d).ok());
        if let (true, Some(want), Ret::Ok(_)) = (inq_on, want, ret) {
            let h = match self.fd(n).map(|f| f.kind) {
                Some(super::syscall::FdKind::Conn(h)) => Some(h),
                _ => None,
            };
            let mut inq = h.map_or(0, |h| self.stack.recv_queue(h)) as i64;
            if inq == 0 && h.is_some_and(|h| self.stack.is_read_closed(h)) {
                inq = 1;
            }
            if inq != want {
                return Err(fail_with(
                    line,
                    "recvmsg: unexpected TCP_CM_INQ value",
                    format!("cmsg_data={want}"),
                    format!("cmsg_data={inq}"),
                ));
            }
        }
        Ok(Immediate::Done(ret))
    }
}
