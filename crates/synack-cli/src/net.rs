//! `synack serve`, `connect`, `intercept`: the runtime over a TUN device.

use crate::args::{ConnectArgs, InterceptArgs, ServeArgs, TunArgs};
use std::net::SocketAddr;
use std::process::ExitCode;
use synack::{LossyDevice, NetStack, TcpListener, TcpStream, TunConfig, TunDevice};

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

/// Open the device and start a stack on it, with capture and trace if asked.
fn open_stack(t: &TunArgs) -> Result<NetStack, String> {
    open_stack_with(t, synack::Config::default())
}

/// [`open_stack`] from the engine configuration `base`.
pub(crate) fn open_stack_with(t: &TunArgs, base: synack::Config) -> Result<NetStack, String> {
    check_prefixes(t)?;
    let mut cfg = TunConfig::new(t.tun.clone(), &t.addrs);
    cfg.kernel_addrs = t.host_addrs.clone();
    cfg.mtu = t.mtu;
    cfg.offload = t.offload;
    let dev = TunDevice::open(&cfg).map_err(|e| format!("{}: {e}", t.tun))?;
    if dev.created() {
        let kernel: Vec<String> = dev
            .kernel_addrs()
            .iter()
            .map(|c| format!("{}/{}", c.addr, c.prefix))
            .collect();
        eprintln!(
            "synack: created {} (kernel side {})",
            dev.name(),
            kernel.join(", ")
        );
    }
    let mut b = NetStack::builder();
    b = b.config(match t.rto_min {
        Some(min) => synack::Config {
            rto_min: min,
            rto_initial: base.rto_initial.max(min),
            ..base
        },
        None => base,
    });
    for a in &t.addrs {
        b = b.address(a.addr);
        if let Some(bc) = a.broadcast() {
            b = b.broadcast(bc);
        }
    }
    if let Some(p) = &t.pcap {
        let f =
            std::fs::File::create(p).map_err(|e| format!("cannot create {}: {e}", p.display()))?;
        b = b.capture(std::io::BufWriter::new(f));
    }
    if t.trace {
        b = b.on_trace(|ev| eprintln!("{}", synack_viz::format_event(&ev)));
    }
    let built = if t.drop > 0.0 {
        b.build(LossyDevice::new(dev, t.drop, t.drop_seed))
    } else {
        b.build(dev)
    };
    built.map_err(|e| format!("cannot start the stack: {e}"))
}

/// A device synack creates needs an address for the kernel: the first host of each
/// `--addr` prefix, or `--host-addr`. A bare address (`10.1.0.2`, a /32) leaves no
/// room for one: say which flags fix that before touching the device.
fn check_prefixes(t: &TunArgs) -> Result<(), String> {
    if !t.host_addrs.is_empty() {
        return Ok(());
    }
    for a in &t.addrs {
        if a.peer_host().is_err() {
            let example = if a.addr.is_ipv4() { 24 } else { 64 };
            return Err(format!(
                "--addr {a} leaves no room for the kernel's address on the device: give a prefix (e.g. --addr {}/{example}) or the kernel's address with --host-addr",
                a.addr
            ));
        }
    }
    Ok(())
}

/// Wait for Ctrl-C, then flush the capture.
pub(crate) async fn until_interrupted(stack: &NetStack) {
    let _ = tokio::signal::ctrl_c().await;
    let _ = stack.flush_capture();
}

pub(crate) fn serve(a: ServeArgs) -> Result<ExitCode, String> {
    if let Some(dir) = &a.http {
        match std::fs::metadata(dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(format!("--http {}: not a directory", dir.display())),
            Err(e) => return Err(format!("--http {}: {e}", dir.display())),
        }
    }
    let rt = runtime()?;
    rt.block_on(async move {
        let stack = open_stack(&a.tun)?;
        let mut listeners = Vec::new();
        for c in &a.tun.addrs {
            let addr = SocketAddr::new(c.addr, a.port);
            let l = TcpListener::bind(&stack, addr)
                .await
                .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
            eprintln!("synack: listening on {addr}");
            listeners.push(l);
        }
        let http = a.http.clone();
        let (echo, discard) = (a.echo, a.discard);
        serve_loop(&stack, listeners, a.count, move |stream, peer| {
            let http = http.clone();
            async move {
                let r = if echo {
                    synack::apps::echo(stream)
                        .await
                        .map(|n| format!("echoed {n} bytes"))
                } else if discard {
                    synack::apps::discard(stream)
                        .await
                        .map(|n| format!("discarded {n} bytes"))
                } else if let Some(dir) = http {
                    synack::apps::http_serve(stream, &dir)
                        .await
                        .map(|n| format!("{n} HTTP requests"))
                } else {
                    Ok(String::new())
                };
                match r {
                    Ok(msg) => eprintln!("synack: {peer}: {msg}"),
                    Err(e) => eprintln!("synack: {peer}: {e}"),
                }
            }
        })
        .await
    })
}

/// Hand every connection the listeners accept to `handle`, each on its own task,
/// until `count` connections have been served (then wait for them to finish) or
/// Ctrl-C; then let the last FINs leave and flush the capture.
async fn serve_loop<F, Fut>(
    stack: &NetStack,
    listeners: Vec<TcpListener>,
    count: Option<u64>,
    handle: F,
) -> Result<ExitCode, String>
where
    F: Fn(TcpStream, SocketAddr) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for l in listeners {
        let tx = tx.clone();
        tokio::spawn(async move {
            loop {
                match l.accept().await {
                    Ok(s) => {
                        if tx.send(s).is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        eprintln!("synack: accept failed: {e}");
                        break;
                    }
                }
            }
        });
    }
    drop(tx);
    let mut served = 0u64;
    let mut tasks = tokio::task::JoinSet::new();
    let interrupted = until_interrupted(stack);
    tokio::pin!(interrupted);
    loop {
        tokio::select! {
            _ = &mut interrupted => break,
            next = rx.recv() => {
                let Some((stream, peer)) = next else { break };
                served += 1;
                tasks.spawn(handle(stream, peer));
                if count.is_some_and(|c| served >= c) {
                    while tasks.join_next().await.is_some() {}
                    break;
                }
            }
        }
    }
    // Let the last FINs go out before the driver stops.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let _ = stack.flush_capture();
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn connect(a: ConnectArgs) -> Result<ExitCode, String> {
    let rt = runtime()?;
    rt.block_on(async move {
        let stack = open_stack(&a.tun)?;
        let stream = connect_verbosely(&stack, a.target, a.timeout).await?;
        let result = if let Some(path) = &a.http_get {
            let host = a.target.to_string();
            let mut out = tokio::io::stdout();
            synack::apps::http_get(stream, &host, path, &mut out)
                .await
                .map(|_| ())
        } else if let Some(file) = &a.send_file {
            let f = tokio::fs::File::open(file)
                .await
                .map_err(|e| format!("cannot open {}: {e}", file.display()))?;
            synack::apps::copy_bidirectional(stream, f, tokio::io::stdout())
                .await
                .map(|_| ())
        } else {
            synack::apps::copy_bidirectional(stream, tokio::io::stdin(), tokio::io::stdout())
                .await
                .map(|_| ())
        };
        // Let the last ACK / FIN go out before the driver stops.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let _ = stack.flush_capture();
        result.map_err(|e| format!("{}: {e}", a.target))?;
        Ok(ExitCode::SUCCESS)
    })
}

/// Connect, saying on stderr what is awaited when the peer does not answer at once,
/// and giving up after `timeout` (otherwise when TCP does, after its SYN
/// retransmissions, about two minutes).
async fn connect_verbosely(
    stack: &NetStack,
    target: SocketAddr,
    timeout: Option<std::time::Duration>,
) -> Result<TcpStream, String> {
    let connect = TcpStream::connect(stack, target);
    tokio::pin!(connect);
    let patience = std::time::Duration::from_secs(2);
    let first = tokio::time::timeout(patience.min(timeout.unwrap_or(patience)), &mut connect).await;
    let result = match first {
        Ok(r) => r,
        Err(_) if timeout.is_some_and(|t| t <= patience) => {
            return Err(format!(
                "cannot connect to {target}: no answer within {:.1} s (--timeout)",
                timeout.unwrap_or(patience).as_secs_f64()
            ))
        }
        Err(_) => {
            let limit = match timeout {
                Some(t) => format!("giving up after {:.1} s", t.as_secs_f64()),
                None => "TCP gives up after about 2 minutes; --timeout sets a limit".to_string(),
            };
            eprintln!("synack: waiting for {target} to answer the SYN (its SYN-ACK) — {limit}");
            match timeout {
                Some(t) => {
                    match tokio::time::timeout(t.saturating_sub(patience), &mut connect).await {
                        Ok(r) => r,
                        Err(_) => {
                            return Err(format!(
                                "cannot connect to {target}: no answer within {:.1} s (--timeout)",
                                t.as_secs_f64()
                            ))
                        }
                    }
                }
                None => connect.await,
            }
        }
    };
    result.map_err(|e| format!("cannot connect to {target}: {e}"))
}

pub(crate) fn intercept(a: InterceptArgs) -> Result<ExitCode, String> {
    let rt = runtime()?;
    rt.block_on(async move {
        let stack = open_stack(&a.tun)?;
        let l = TcpListener::intercept(&stack)
            .await
            .map_err(|e| format!("cannot intercept: {e}"))?;
        eprintln!("synack: intercepting every TCP connection on {}", a.tun.tun);
        serve_loop(&stack, vec![l], a.count, |stream, peer| {
            let dst = stream
                .local_addr()
                .map(|d| d.to_string())
                .unwrap_or_else(|_| "?".into());
            // The original destination, on stdout, one line per connection.
            println!("{peer} -> {dst}");
            async move {
                if let Err(e) = synack::apps::echo(stream).await {
                    eprintln!("synack: {peer} -> {dst}: {e}");
                }
            }
        })
        .await
    })
}
