//! `synack tun2socks`: the runtime's forwarder (`synack::forward`) on a TUN device.
//! Flags are checked and the proxy is greeted before the device is touched, so a
//! wrong flag, an unreachable proxy or credentials it refuses are a one-line error
//! and exit status 2.
//!
//! `--socks5 USER:PASS@HOST:PORT` is the form other tun2socks tools take
//! (xjasonlyu's tun2socks and tun2proxy as `socks5://USER:PASS@HOST:PORT`, which is
//! accepted too).

use crate::args::Tun2socksArgs;
use crate::net::{open_stack_with, runtime, until_interrupted};
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;
use synack::forward::{self, ForwardOptions, ForwardStats, SocksAuth, Upstream};

/// `HOST:PORT` to one address (a name is looked up once, now).
fn resolve(flag: &str, v: &str) -> Result<SocketAddr, String> {
    v.to_socket_addrs()
        .map_err(|e| format!("{flag} {v}: {e}"))?
        .next()
        .ok_or_else(|| format!("{flag} {v}: the name has no address"))
}

/// Undo %XX escapes (so a user name or password can hold ':' or '@').
fn percent_decode(v: &str) -> Result<String, String> {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad %-escape in {v:?}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("{v:?} is not UTF-8 once unescaped"))
}

/// `[socks5://][USER:PASS@]HOST:PORT` into the proxy's `HOST:PORT` and the
/// credentials.
fn split_socks5(v: &str) -> Result<(&str, Option<SocksAuth>), String> {
    let v = v.strip_prefix("socks5://").unwrap_or(v);
    let Some((cred, host)) = v.rsplit_once('@') else {
        return Ok((v, None));
    };
    let Some((user, pass)) = cred.split_once(':') else {
        return Err(format!("--socks5: {cred:?} before '@' is not USER:PASS"));
    };
    let (username, password) = (percent_decode(user)?, percent_decode(pass)?);
    if username.is_empty() || username.len() > 255 || password.len() > 255 {
        return Err(
            "--socks5: the user name must be 1 to 255 bytes and the password at most 255".into(),
        );
    }
    Ok((host, Some(SocksAuth { username, password })))
}

pub(crate) fn run(a: Tun2socksArgs) -> Result<ExitCode, String> {
    let (upstream, auth) = match &a.socks5 {
        Some(p) => {
            let (host, auth) = split_socks5(p)?;
            (Upstream::Socks5(resolve("--socks5", host)?), auth)
        }
        None => (Upstream::Direct, None),
    };
    let mut opts = ForwardOptions::new(upstream);
    opts.auth = auth;
    opts.dns = a.dns.as_deref().map(|d| resolve("--dns", d)).transpose()?;
    opts.connect_timeout = a.connect_timeout;
    if let Err(e) = forward::raise_fd_limit() {
        eprintln!("synack: cannot raise the open-file limit: {e}");
    }
    let rt = runtime()?;
    rt.block_on(async move {
        if let Upstream::Socks5(p) = upstream {
            forward::probe(upstream, opts.auth.as_ref(), Duration::from_secs(5))
                .await
                .map_err(|e| format!("cannot use the SOCKS5 proxy {p}: {e}"))?;
        }
        let cfg = synack::Config {
            // Pings to any intercepted destination are answered by the tunnel.
            icmp_echo_intercepted: true,
            // Many clients connecting at once wait at SYN time for their upstream.
            syn_backlog: 4096,
            backlog: 4096,
            ..synack::Config::default()
        };
        let stack = open_stack_with(&a.tun, cfg)?;
        let via = match upstream {
            Upstream::Direct => "the host's sockets".to_string(),
            Upstream::Socks5(p) => match &opts.auth {
                Some(auth) => format!("SOCKS5 proxy {p} as {:?}", auth.username),
                None => format!("SOCKS5 proxy {p}"),
            },
        };
        eprintln!("synack: forwarding {} through {via}", a.tun.tun);
        let stats = Arc::new(ForwardStats::default());
        let run = forward::forward(&stack, opts, stats.clone());
        let result = tokio::select! {
            r = run => r.map_err(|e| format!("forwarding stopped: {e}")),
            _ = until_interrupted(&stack) => Ok(()),
        };
        eprintln!(
            "synack: tcp {} carried, {} refused, {} failed; udp {} flows, {} refused",
            stats.tcp_accepted.load(Relaxed),
            stats.tcp_refused.load(Relaxed),
            stats.tcp_failed.load(Relaxed),
            stats.udp_flows.load(Relaxed),
            stats.udp_refused.load(Relaxed),
        );
        result.map(|()| ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socks5_flag_forms() {
        assert_eq!(
            split_socks5("10.0.0.1:1080").unwrap(),
            ("10.0.0.1:1080", None)
        );
        let (host, auth) = split_socks5("socks5://al%40x:p%3As@w@proxy:1080").unwrap();
        assert_eq!(host, "proxy:1080");
        let auth = auth.unwrap();
        assert_eq!(
            (auth.username.as_str(), auth.password.as_str()),
            ("al@x", "p:s@w")
        );
        assert!(split_socks5("nopass@h:1")
            .unwrap_err()
            .contains("USER:PASS"));
        assert!(split_socks5(":pw@h:1").is_err(), "empty user");
        assert!(split_socks5("u:%zz@h:1").unwrap_err().contains("%-escape"));
    }
}
