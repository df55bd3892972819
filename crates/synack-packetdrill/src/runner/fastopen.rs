//! TCP Fast Open in scripts, and the `sysctl` lines scripts run as shell commands.
//!
//! - Shell commands: `set_sysctls.py /proc/sys/net/ipv4/NAME=VALUE ...` and
//!   `sysctl -q net.ipv4.NAME=VALUE` set the engine's configuration where a setting
//!   maps onto it (`tcp_fastopen`, `tcp_fastopen_key`, `tcp_timestamps`, `tcp_sack`,
//!   `tcp_window_scaling`, `tcp_syn_retries`, `tcp_syncookies`, `tcp_ecn`, ...); commands before the script's first
//!   event configure the stack it starts with, later ones change what the engine can
//!   change while running (Fast Open bits and key). `ip tcp_metrics flush` empties the
//!   Fast Open cookie cache. `defaults.sh` is the baseline the runner starts from, so it
//!   sets nothing. Anything else is reported as a skipped line naming what was ignored.
//! - Socket calls: `sendto`/`sendmsg` with `MSG_FASTOPEN` on a fresh socket open the
//!   connection with data in the SYN (Linux `tcp_sendmsg_fastopen`); `TCP_FASTOPEN_CONNECT`
//!   defers `connect` to the first write when a cookie is cached; `TCP_FASTOPEN` enables
//!   a listener with a queue length; `TCP_FASTOPEN_KEY` gives it a key.

use super::consts::{self, eval_int, MSG_FASTOPEN};
use super::syscall::{errno, Fd, FdKind, Immediate, Op, Ret};
use super::{fail, Run, Stop, Sut};
use crate::ast::{Expr, SyscallEvent};
use std::net::{IpAddr, SocketAddr};
use synack_core::fastopen::{self, FastOpenKey};
use synack_core::{Config, ConnectError, State};

/// `net.ipv4.tcp_fastopen` under upstream's `defaults.sh` (client, server, every
/// listener without the socket option).
pub(super) const DEFAULT_FASTOPEN: u32 = 0x70403;

/// `net.ipv4.tcp_ecn` under upstream's `defaults.sh` (0: off; Linux's own default
/// and the engine's is 2, accept when asked).
pub(super) const DEFAULT_ECN: synack_core::Ecn = synack_core::Ecn::Off;

/// `net.ipv4.tcp_fastopen_key` under upstream's `defaults.sh`.
pub(super) const DEFAULT_KEY: &str = "a1a1a1a1-b2b2b2b2-c3c3c3c3-d4d4d4d4";

/// One `name=value` setting found in a shell command (`name` as `net.ipv4.x`).
fn settings(cmd: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for tok in cmd.split(|c: char| c.is_whitespace() || c == '\\') {
        let tok = tok.trim_matches(|c| c == '"' || c == '\'' || c == ';');
        let Some((name, value)) = tok.split_once('=') else {
            continue;
        };
        let name = if let Some(rest) = name.strip_prefix("/proc/sys/") {
            rest.replace('/', ".")
        } else if name.starts_with("net.") {
            name.to_string()
        } else {
            continue;
        };
        out.push((name, value.trim_matches('"').to_string()));
    }
    out
}

fn parse_u32(v: &str) -> Option<u32> {
    match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(h) => u32::from_str_radix(h, 16).ok(),
        None => v.parse().ok(),
    }
}

/// What a shell command does to the engine.
#[derive(Debug, Default)]
pub(super) struct CommandEffect {
    /// `ip tcp_metrics flush`: forget cached cookies.
    pub(super) flush_metrics: bool,
    /// `tcp_fastopen` set.
    pub(super) fastopen: Option<u32>,
    /// `tcp_fastopen_key` set (primary, backup).
    pub(super) key: Option<(FastOpenKey, Option<FastOpenKey>)>,
    /// Settings applied to `Config` (only meaningful before the stack exists).
    pub(super) config: Vec<String>,
    /// What could not be applied, for the skipped-lines report.
    pub(super) ignored: Vec<String>,
    /// `tc qdisc` made the device drop every packet (`pfifo limit 0`: `Some(true)`)
    /// or removed that qdisc (`Some(false)`).
    pub(super) egress_blocked: Option<bool>,
}

/// The device-level effect of `tc qdisc` commands: a zero-length queue drops every
/// packet (`add`/`replace` with `limit 0`), and deleting the root qdisc undoes it.
/// Other qdiscs (`fq`, `netem`, ...) are not modelled.
fn qdisc_effect(cmd: &str) -> Option<bool> {
    let mut effect = None;
    for part in cmd.split([';', '\n', '&', '|']) {
        let words: Vec<&str> = part.split_whitespace().collect();
        if words.len() < 3 || words[0] != "tc" || words[1] != "qdisc" {
            continue;
        }
        match words[2] {
            "add" | "replace" | "change" if words.windows(2).any(|w| w == ["limit", "0"]) => {
                effect = Some(true);
            }
            "del" | "delete" => effect = Some(false),
            _ => {}
        }
    }
    effect
}

/// Read a shell command, applying to `cfg` what maps onto the configuration.
pub(super) fn interpret_command(cmd: &str, cfg: &mut Config) -> CommandEffect {
    let mut e = CommandEffect::default();
    let trimmed = cmd.trim();
    if trimmed.contains("tcp_metrics") && trimmed.contains("flush") {
        e.flush_metrics = true;
    }
    for (name, value) in settings(cmd) {
        let n = name.strip_prefix("net.ipv4.").unwrap_or(&name);
        let flag = parse_u32(&value).map(|v| v != 0);
        let applied = match (n, flag) {
            ("tcp_fastopen", _) => match parse_u32(&value) {
                Some(v) => {
                    cfg.fastopen = v;
                    e.fastopen = Some(v);
                    true
                }
                None => false,
            },
            ("tcp_fastopen_key", _) => match fastopen::parse_key(&value) {
                Some(k) => {
                    cfg.fastopen_key = Some(k.0);
                    e.key = Some(k);
                    true
                }
                None => false,
            },
            // No blackhole detection here: 0 (off) is what the engine does anyway.
            ("tcp_fastopen_blackhole_timeout_sec", Some(false)) => true,
            ("tcp_timestamps", Some(on)) => {
                cfg.timestamps = on;
                true
            }
            ("tcp_sack", Some(on)) => {
                cfg.sack = on;
                true
            }
            ("tcp_window_scaling", Some(on)) => {
                cfg.window_scaling = on;
                true
            }
            ("tcp_slow_start_after_idle", Some(on)) => {
                cfg.slow_start_after_idle = on;
                true
            }
            ("tcp_syn_retries", _) => parse_u32(&value).map(|v| cfg.syn_retries = v).is_some(),
            ("tcp_synack_retries", _) => {
                parse_u32(&value).map(|v| cfg.synack_retries = v).is_some()
            }
            ("tcp_retries2", _) => parse_u32(&value).map(|v| cfg.retries = v).is_some(),
            ("tcp_orphan_retries", _) => {
                parse_u32(&value).map(|v| cfg.orphan_retries = v).is_some()
            }
            // Linux runs tail loss probes with tcp_early_retrans 3 or 4.
            ("tcp_early_retrans", _) => parse_u32(&value)
                .map(|v| cfg.loss_probes = matches!(v, 3 | 4))
                .is_some(),
            ("tcp_notsent_lowat", _) => parse_u32(&value).map(|v| cfg.notsent_lowat = v).is_some(),
            ("tcp_max_orphans", _) => parse_u32(&value)
                .map(|v| cfg.max_orphans = v as usize)
                .is_some(),
            ("tcp_syncookies", _) => parse_u32(&value)
                .map(|v| cfg.syncookies = synack_core::SynCookies::from_sysctl(v))
                .is_some(),
            ("tcp_ecn", _) => parse_u32(&value)
                .map(|v| cfg.ecn = synack_core::Ecn::from_sysctl(v))
                .is_some(),
            // The engine falls back from ECN after a SYN timeout, as Linux's default 1.
            ("tcp_ecn_fallback", Some(true)) => true,
            _ => false,
        };
        if applied {
            e.config.push(format!("{name}={value}"));
        } else {
            e.ignored.push(format!("{name}={value}"));
        }
    }
    e.egress_blocked = qdisc_effect(trimmed);
    // Commands that are neither settings, the defaults, the restore script, the
    // metrics flush nor a dropping qdisc are ignored as a whole.
    let known = e.egress_blocked == Some(true)
        || trimmed.is_empty()
        || trimmed.contains("defaults.sh")
        || trimmed.contains("set_sysctls.py")
        || trimmed.starts_with("sysctl")
        || trimmed.contains("sysctl_restore")
        || e.flush_metrics;
    if !known {
        e.ignored
            .push(format!("`{}`", trimmed.lines().next().unwrap_or("")));
    }
    e
}

/// `sendto`'s or `sendmsg`'s destination argument is `AF_UNSPEC` (Linux refuses Fast
/// Open then).
fn af_unspec(addr: Option<&Expr>) -> bool {
    match addr {
        Some(Expr::Symbol(s)) => s == "AF_UNSPEC",
        Some(e) => {
            matches!(e.field("sa_family").or_else(|| e.field("sin_family")), Some(Expr::Symbol(s)) if s == "AF_UNSPEC")
        }
        None => false,
    }
}

/// The bytes a `sendmsg` msghdr carries: the sum of its iovec lengths.
pub(super) fn msghdr_len(line: usize, msg: Option<&Expr>) -> Result<usize, Stop> {
    let Some(Expr::Struct(fields)) = msg else {
        return Err(fail(line, "sendmsg: expected a msghdr struct"));
    };
    let Some(iov) = fields.iter().find(|f| f.name == "msg_iov") else {
        return Ok(0);
    };
    let Expr::Array(items) = &iov.value else {
        return Err(fail(
            line,
            "sendmsg: msg_iov must be an array of {base, len}",
        ));
    };
    let mut total = 0usize;
    for it in items {
        let len = match it {
            Expr::Tuple(parts) if parts.len() == 2 => eval_int(&parts[1]),
            Expr::Struct(_) => it
                .field("iov_len")
                .map_or(Err("iovec without iov_len".to_string()), eval_int),
            other => Err(format!("bad iovec `{other}`")),
        }
        .map_err(|m| fail(line, format!("sendmsg: {m}")))?;
        total += len.max(0) as usize;
    }
    Ok(total)
}

impl Run {
    /// A write-like call (`write`, `send`, `sendto`, `sendmsg`) on descriptor `n` that
    /// Fast Open concerns: `MSG_FASTOPEN` on a socket that is not connected, or the
    /// first write of a `TCP_FASTOPEN_CONNECT` socket whose connect was deferred.
    /// `None`: an ordinary write.
    pub(super) fn fastopen_write(
        &mut self,
        n: i64,
        len: usize,
        flags: i64,
        addr: Option<&Expr>,
    ) -> Option<Immediate> {
        let f = self.fd(n)?.clone();
        let fastopen_flag = flags & MSG_FASTOPEN != 0;
        match f.kind {
            FdKind::Conn(h) => {
                // Linux: another Fast Open (or connect) is still in progress.
                let connecting = matches!(
                    self.stack.state(h),
                    Some(State::SynSent | State::SynReceived)
                );
                if fastopen_flag && connecting {
                    return Some(Immediate::Done(errno("EALREADY")));
                }
                None
            }
            FdKind::Listener(_) => None,
            FdKind::Fresh => {
                if !fastopen_flag && f.deferred.is_none() {
                    return None;
                }
                if self.stack.config().fastopen & fastopen::CLIENT_ENABLE == 0 || af_unspec(addr) {
                    return Some(Immediate::Done(errno("EOPNOTSUPP")));
                }
                let remote = match f.deferred {
                    Some(r) => r,
                    None => SocketAddr::new(
                        super::syscall::sockaddr_ip(addr).unwrap_or(self.remote_ip),
                        super::syscall::sockaddr_port(addr).unwrap_or(self.connect_port),
                    ),
                };
                let nonblock = f.nonblocking || flags & consts::MSG_DONTWAIT != 0;
                Some(self.fastopen_connect(n, &f, remote, len, !nonblock))
            }
        }
    }

    /// Open descriptor `n` towards `remote` with Fast Open, `len` bytes to send.
    fn fastopen_connect(
        &mut self,
        n: i64,
        f: &Fd,
        remote: SocketAddr,
        len: usize,
        blocking: bool,
    ) -> Immediate {
        let local = f.bound_port.map(|p| SocketAddr::new(self.local_ip, p));
        let now = self.instant();
        let data = vec![0u8; len];
        // Options set before the connect shape the SYN (TCP_MAXSEG bounds its data).
        let mut so = synack_core::SocketOptions::from_config(self.stack.config());
        so.max_segment = f.opts.maxseg;
        match self
            .stack
            .connect_fastopen_with(now, remote, local, Some(so), &data, blocking)
        {
            Ok((h, taken)) => {
                self.apply_opts(h, &f.opts);
                if let Some(fd) = self.fds.get_mut(&n) {
                    fd.kind = FdKind::Conn(h);
                    fd.deferred = None;
                }
                self.all_conns.push(h);
                self.sut = Sut::Connecting;
                self.drain();
                if blocking {
                    // Linux waits for the handshake, then sends the rest; a failed
                    // handshake fails the call whatever the SYN carried.
                    Immediate::Wait(Op::Write {
                        fd: n,
                        len,
                        done: taken,
                        dontwait: false,
                        connecting: true,
                        eor: false,
                        more: false,
                    })
                } else if taken > 0 {
                    Immediate::Done(Ret::Ok(taken as i64))
                } else {
                    Immediate::Done(errno("EINPROGRESS"))
                }
            }
            Err(ConnectError::AddrInUse) => Immediate::Done(errno("EADDRINUSE")),
            Err(ConnectError::BadAddress) => Immediate::Done(errno("ENETUNREACH")),
            Err(ConnectError::NoPorts) => Immediate::Done(errno("EADDRNOTAVAIL")),
            Err(ConnectError::TooManyConnections) => Immediate::Done(errno("ENOBUFS")),
        }
    }

    /// `connect` on a `TCP_FASTOPEN_CONNECT` socket (Linux `tcp_fastopen_defer_connect`):
    /// with a cookie for the server the SYN waits for the first write and `connect`
    /// returns 0 at once; without one, the SYN asks for a cookie. `None`: not such a
    /// socket.
    pub(super) fn fastopen_defer_connect(
        &mut self,
        n: i64,
        remote: SocketAddr,
    ) -> Option<Immediate> {
        let f = self.fd(n)?.clone();
        if !f.fastopen_connect || !matches!(f.kind, FdKind::Fresh) {
            return None;
        }
        if f.deferred.is_some() {
            return Some(Immediate::Done(errno("EISCONN")));
        }
        if self.stack.fastopen_would_send_data(remote.ip()) {
            if let Some(fd) = self.fds.get_mut(&n) {
                fd.deferred = Some(remote);
            }
            return Some(Immediate::Done(Ret::Ok(0)));
        }
        let r = self.fastopen_connect(n, &f, remote, 0, false);
        Some(match r {
            Immediate::Done(Ret::Err(e))
                if e != consts::errno_value("EINPROGRESS").unwrap_or(0) =>
            {
                r
            }
            _ if f.nonblocking => Immediate::Done(errno("EINPROGRESS")),
            _ => Immediate::Wait(Op::Connect { fd: n }),
        })
    }

    /// `setsockopt(TCP_FASTOPEN | TCP_FASTOPEN_CONNECT | TCP_FASTOPEN_KEY)`.
    pub(super) fn fastopen_setsockopt(
        &mut self,
        line: usize,
        n: i64,
        name: i64,
        s: &SyscallEvent,
    ) -> Result<Ret, Stop> {
        let val = s.args.get(3);
        let len = s
            .args
            .get(4)
            .map(eval_int)
            .transpose()
            .map_err(|m| fail(line, m))?;
        let client_on = self.stack.config().fastopen & fastopen::CLIENT_ENABLE != 0;
        let Some(f) = self.fds.get_mut(&n) else {
            return Ok(errno("EBADF"));
        };
        match name {
            23 => {
                let v = val
                    .map(eval_int)
                    .transpose()
                    .map_err(|m| fail(line, m))?
                    .unwrap_or(0);
                if v < 0 {
                    return Ok(errno("EINVAL"));
                }
                f.fastopen_qlen = Some(v as usize);
                if let FdKind::Listener(l) = f.kind {
                    self.stack.set_listener_fastopen(l, v as usize);
                }
            }
            30 => {
                if !client_on {
                    return Ok(errno("EOPNOTSUPP"));
                }
                let v = val
                    .map(eval_int)
                    .transpose()
                    .map_err(|m| fail(line, m))?
                    .unwrap_or(0);
                f.fastopen_connect = v != 0;
            }
            33 => {
                let bytes = match val {
                    Some(Expr::Str { text, .. }) => unescape(text),
                    _ => return Ok(errno("EINVAL")),
                };
                let want = len.map_or(bytes.len(), |l| l.max(0) as usize);
                if want != 16 || bytes.len() < 16 {
                    return Ok(errno("EINVAL"));
                }
                let mut key = [0u8; 16];
                key.copy_from_slice(&bytes[..16]);
                f.fastopen_key = Some(key);
                if let FdKind::Listener(l) = f.kind {
                    self.stack.set_listener_fastopen_key(l, key);
                }
            }
            _ => {
                return Err(Stop::Skip(format!(
                    "line {line}: socket option 6/{name} is not supported"
                )))
            }
        }
        Ok(Ret::Ok(0))
    }

    /// Apply a descriptor's Fast Open settings to the listener it just became.
    pub(super) fn fastopen_listen(&mut self, n: i64) {
        let Some(f) = self.fd(n) else {
            return;
        };
        let FdKind::Listener(l) = f.kind else {
            return;
        };
        let (qlen, key, maxseg) = (f.fastopen_qlen, f.fastopen_key, f.opts.maxseg);
        if maxseg.is_some() {
            self.stack.set_listener_max_segment(l, maxseg);
        }
        if let Some(q) = qlen {
            self.stack.set_listener_fastopen(l, q);
        }
        if let Some(k) = key {
            self.stack.set_listener_fastopen_key(l, k);
        }
    }

    /// A shell command met at run time: the settings it changes apply to what the
    /// engine does from now on.
    pub(super) fn run_command(&mut self, line: usize, cmd: &str) {
        let mut e = CommandEffect::default();
        self.stack
            .update_config(|cfg| e = interpret_command(cmd, cfg));
        if e.flush_metrics {
            self.stack.clear_fastopen_cache();
        }
        if let Some((k, b)) = e.key {
            self.stack.set_fastopen_key(k, b);
        }
        if let Some(blocked) = e.egress_blocked {
            self.stack.set_egress_blocked(blocked);
        }
        let ignored = e.ignored;
        if !ignored.is_empty() {
            self.skipped_lines.push(format!(
                "line {line}: shell command: ignored {}",
                ignored.join(", ")
            ));
        }
    }
}

/// The bytes of a string literal as C reads it (`\xNN`, `\n`, `\0`, `\\`, `\"`).
fn unescape(text: &str) -> Vec<u8> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            match b[i + 1] {
                b'x' => {
                    let hex: String = text[i + 2..]
                        .chars()
                        .take(2)
                        .take_while(char::is_ascii_hexdigit)
                        .collect();
                    out.push(u8::from_str_radix(&hex, 16).unwrap_or(0));
                    i += 2 + hex.len();
                    continue;
                }
                b'n' => out.push(b'\n'),
                b't' => out.push(b'\t'),
                b'0' => out.push(0),
                c => out.push(c),
            }
            i += 2;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// The address a `connect` names (or the script's remote).
pub(super) fn connect_target(run: &Run, s: &SyscallEvent) -> SocketAddr {
    let a = s.args.get(1);
    let ip: IpAddr = super::syscall::sockaddr_ip(a).unwrap_or(run.remote_ip);
    SocketAddr::new(
        ip,
        super::syscall::sockaddr_port(a).unwrap_or(run.connect_port),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qdisc_and_early_retrans_commands() {
        let mut cfg = Config::linux();
        let e = interpret_command(
            "tc qdisc delete dev tun0 root 2>/dev/null ; tc qdisc add dev tun0 root pfifo limit 0",
            &mut cfg,
        );
        assert_eq!(e.egress_blocked, Some(true));
        assert!(e.ignored.is_empty(), "{:?}", e.ignored);
        let e = interpret_command("tc qdisc del dev tun0 root", &mut cfg);
        assert_eq!(e.egress_blocked, Some(false));
        let e = interpret_command("tc qdisc replace dev tun0 root fq", &mut cfg);
        assert_eq!(e.egress_blocked, None, "fq is not modelled");
        assert_eq!(e.ignored.len(), 1);
        assert!(cfg.loss_probes);
        interpret_command("sysctl -q net.ipv4.tcp_early_retrans=0", &mut cfg);
        assert!(!cfg.loss_probes);
        interpret_command("sysctl -q net.ipv4.tcp_early_retrans=3", &mut cfg);
        assert!(cfg.loss_probes);
    }

    #[test]
    fn sysctl_lines() {
        let mut cfg = Config::linux();
        let e = interpret_command(
            "../../common/defaults.sh\n ../../common/set_sysctls.py /proc/sys/net/ipv4/tcp_timestamps=0 \\\n /proc/sys/net/ipv4/tcp_fastopen=0x30403 /proc/sys/net/ipv4/tcp_min_tso_segs=2",
            &mut cfg,
        );
        assert!(!cfg.timestamps);
        assert_eq!(cfg.fastopen, 0x30403);
        assert_eq!(e.ignored, vec!["net.ipv4.tcp_min_tso_segs=2".to_string()]);
        let e = interpret_command("sysctl -q net.ipv4.tcp_fastopen=0", &mut cfg);
        assert_eq!(e.fastopen, Some(0));
        let e = interpret_command("sysctl -q net.ipv4.tcp_syncookies=2", &mut cfg);
        assert_eq!(e.config, ["net.ipv4.tcp_syncookies=2"]);
        assert_eq!(cfg.syncookies, synack_core::SynCookies::Always);
        interpret_command("sysctl -q net.ipv4.tcp_syncookies=0", &mut cfg);
        assert_eq!(cfg.syncookies, synack_core::SynCookies::Off);
        // net.ipv4.tcp_ecn: 0 off, 1 ask and accept, 2 accept only.
        for (v, want) in [
            (1, synack_core::Ecn::On),
            (0, synack_core::Ecn::Off),
            (2, synack_core::Ecn::Passive),
        ] {
            let e = interpret_command(&format!("sysctl -q net.ipv4.tcp_ecn={v}"), &mut cfg);
            assert_eq!(e.config, [format!("net.ipv4.tcp_ecn={v}")]);
            assert_eq!(cfg.ecn, want);
        }
        let e = interpret_command("ip tcp_metrics flush all > /dev/null 2>&1", &mut cfg);
        assert!(e.flush_metrics && e.ignored.is_empty());
        let e = interpret_command("tc qdisc add dev tun0 root fq", &mut cfg);
        assert_eq!(e.ignored.len(), 1);
    }

    #[test]
    fn key_bytes() {
        let b = unescape(r"\xf7\x63\xbf\xa0\x81\x3d\x80\xed\x30\x1d\x64\xcd\x90\x4a\xbc\xce");
        assert_eq!(b.len(), 16);
        assert_eq!(&b[..4], &[0xf7, 0x63, 0xbf, 0xa0]);
    }
}
