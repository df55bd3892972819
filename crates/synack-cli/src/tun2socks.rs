//! `synack tun2socks`: the runtime's forwarder (`synack::forward`) on a TUN device.
//! Flags are checked and the proxy is greeted before the device is touched, so a
//! wrong flag or an unreachable proxy is a one-line error and exit status 2.

use crate::args::Tun2socksArgs;
use crate::net::{open_stack_with, runtime, until_interrupted};
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;
use synack::forward::{self, ForwardOptions, ForwardStats, Upstream};

/// `HOST:PORT` to one address (a name is looked up once, now).
fn resolve(flag: &str, v: &str) -> Result<SocketAddr, String> {
    v.to_socket_addrs()
        .map_err(|e| format!("{flag} {v}: {e}"))?
        .next()
        .ok_or_else(|| format!("{flag} {v}: the name has no address"))
}

pub(crate) fn run(a: Tun2socksArgs) -> Result<ExitCode, String> {
    let upstream = match &a.socks5 {
        Some(p) => Upstream::Socks5(resolve("--socks5", p)?),
        None => Upstream::Direct,
    };
    let mut opts = ForwardOptions::new(upstream);
    opts.dns = a.dns.as_deref().map(|d| resolve("--dns", d)).transpose()?;
    opts.connect_timeout = a.connect_timeout;
    if let Err(e) = forward::raise_fd_limit() {
        eprintln!("synack: cannot raise the open-file limit: {e}");
    }
    let rt = runtime()?;
    rt.block_on(async move {
        if let Upstream::Socks5(p) = upstream {
            forward::probe(upstream, Duration::from_secs(5))
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
            Upstream::Socks5(p) => format!("SOCKS5 proxy {p}"),
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
