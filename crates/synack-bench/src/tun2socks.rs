//! The tun2socks rows (issue 15 item 6): a kernel client sends through synack's
//! forwarder (`synack::forward` with `Upstream::Direct`, what `synack tun2socks
//! --direct` runs) to a kernel server, next to the same client and server joined by
//! a veth pair without it, in the same run.
//!
//! Two namespaces: the client's (`c`), whose route to the server's address is the
//! TUN device, and the tunnel's (`g`), where synack holds the TUN device (created
//! there with vnet_hdr offloads, then moved into `c`, as a VPN app's device would be)
//! and the kernel server listens on a loopback address. The forwarder's upstream
//! connection is the kernel's own TCP over loopback, so the path is kernel → TUN →
//! synack → copy → kernel socket → kernel. Throughput is measured at the server
//! (every byte checked against the pattern); connections per second are sequential
//! connect–close cycles timed at the client (each waits for the server's close, so
//! every one crossed the forwarder both ways).

use crate::median;
use crate::pattern::Pattern;
use crate::report::{Baseline, Figure, Row};
use crate::tun::{io_err, ip, kernel_receive, kernel_send, Netns, SEED, STALL};
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::{Duration, Instant};
use synack::forward::{ForwardOptions, ForwardStats, Upstream};
use synack::{IpCidr, NetStack, TunConfig, TunDevice};

/// synack's address on the TUN device.
const OWN: Ipv4Addr = Ipv4Addr::new(10, 82, 0, 2);
/// The client's address on the TUN device.
const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 82, 0, 1);
/// The server's address (loopback in the tunnel's namespace, or the veth's far end).
const SERVER: Ipv4Addr = Ipv4Addr::new(10, 82, 1, 1);
const PORT: u16 = 6005;
const TUN: &str = "synt2s0";

/// Row names.
pub(crate) const BULK: &str = "TUN, kernel → tun2socks → kernel";
/// Row names.
pub(crate) const CHURN: &str = "TUN, tun2socks connections";

/// What the run measures.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// Bytes per transfer.
    pub(crate) bytes: u64,
    /// Connections per churn repetition.
    pub(crate) conns: usize,
    /// Repetitions (medians).
    pub(crate) reps: usize,
}

/// One measurement through the forwarder: bulk (`Some(bytes)`) or churn (`None`,
/// `conns` cycles). Returns Gbit/s or connections per second.
fn through_tunnel(bytes: Option<u64>, conns: usize) -> Result<f64, String> {
    let g = Netns::new("t2g")?;
    let c = Netns::new("t2c")?;
    let c_name = c.name().to_string();
    g.run(move || {
        ip(&["addr", "add", &format!("{SERVER}/32"), "dev", "lo"])?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(io_err("tokio runtime"))?;
        rt.block_on(async move {
            let own = IpCidr::new(OWN.into(), 24).map_err(io_err("address"))?;
            let mut cfg = TunConfig::new(TUN, &[own]);
            cfg.offload = true;
            let dev = TunDevice::open(&cfg).map_err(io_err("TUN device"))?;
            let stack = NetStack::builder()
                .address(own.addr)
                .build(dev)
                .map_err(io_err("synack stack"))?;
            let stats = Arc::new(ForwardStats::default());
            let fwd = {
                let stack = stack.clone();
                let stats = stats.clone();
                tokio::spawn(async move {
                    synack::forward::forward(&stack, ForwardOptions::new(Upstream::Direct), stats)
                        .await
                })
            };
            // Hand the device to the client's namespace (the descriptor stays ours).
            ip(&["link", "set", TUN, "netns", &c_name])?;
            for cmd in [
                format!("-n {c_name} addr add {CLIENT}/24 dev {TUN}"),
                format!("-n {c_name} link set {TUN} up"),
                format!("-n {c_name} route add {SERVER}/32 dev {TUN}"),
            ] {
                ip(&cmd.split_whitespace().collect::<Vec<_>>())?;
            }
            let l = std::net::TcpListener::bind(SocketAddrV4::new(SERVER, PORT))
                .map_err(io_err("kernel listener"))?;
            let to = SocketAddr::V4(SocketAddrV4::new(SERVER, PORT));
            let r = tokio::task::spawn_blocking(move || match bytes {
                Some(total) => bulk(&c, l, to, total),
                None => churn(&c, l, to, conns),
            })
            .await
            .map_err(|_| "a benchmark thread panicked".to_string())?;
            fwd.abort();
            r
        })
    })
}

/// Bulk from a kernel client in `c` to the kernel listener `l`: Gbit/s at `l`.
fn bulk(c: &Netns, l: std::net::TcpListener, to: SocketAddr, total: u64) -> Result<f64, String> {
    let receiver = std::thread::spawn(move || kernel_receive(l, &Pattern::new(SEED)));
    let sent = c.run(move || kernel_send(to, total, &Pattern::new(SEED)));
    let got = receiver
        .join()
        .map_err(|_| "kernel receiver panicked".to_string())??;
    sent?;
    if got.bytes != total {
        return Err(format!("received {} of {total} bytes", got.bytes));
    }
    Ok(got.gbps())
}

/// `n` sequential connections from `c` to `l`, each closed by the server at once
/// and read to its end by the client: connections per second at the client.
fn churn(c: &Netns, l: std::net::TcpListener, to: SocketAddr, n: usize) -> Result<f64, String> {
    let server = std::thread::spawn(move || -> Result<(), String> {
        l.set_nonblocking(false).map_err(io_err("listener"))?;
        for _ in 0..n {
            let (s, _) = l.accept().map_err(io_err("kernel accept"))?;
            drop(s);
        }
        Ok(())
    });
    let r = c.run(move || {
        let start = Instant::now();
        for i in 0..n {
            let mut s = std::net::TcpStream::connect_timeout(&to, Duration::from_secs(5))
                .map_err(|e| format!("connection {i}: {e}"))?;
            s.set_read_timeout(Some(STALL)).map_err(io_err("kernel"))?;
            let mut rest = Vec::new();
            let _ = s.read_to_end(&mut rest);
        }
        Ok(n as f64 / start.elapsed().as_secs_f64())
    });
    match server.join() {
        Ok(Ok(())) => r,
        Ok(Err(e)) => Err(e),
        Err(_) => Err("kernel server panicked".into()),
    }
}

/// The same client and server joined by a veth pair: bulk or churn as above.
fn over_veth(bytes: Option<u64>, conns: usize) -> Result<f64, String> {
    let a = Netns::new("t2va")?;
    let b = Netns::new("t2vb")?;
    let (a_ns, b_ns) = (a.name().to_string(), b.name().to_string());
    for cmd in [
        format!("link add t2va netns {a_ns} type veth peer name t2vb netns {b_ns}"),
        format!("-n {a_ns} addr add {CLIENT}/24 dev t2va"),
        format!("-n {b_ns} addr add {SERVER}/24 dev t2vb"),
        format!("-n {a_ns} link set t2va up"),
        format!("-n {b_ns} link set t2vb up"),
        format!("-n {a_ns} route add {SERVER}/32 dev t2va"),
        format!("-n {b_ns} route add {CLIENT}/32 dev t2vb"),
    ] {
        ip(&cmd.split_whitespace().collect::<Vec<_>>())?;
    }
    let l = b.run(|| {
        std::net::TcpListener::bind(SocketAddrV4::new(SERVER, PORT)).map_err(io_err("bind"))
    })?;
    let to = SocketAddr::V4(SocketAddrV4::new(SERVER, PORT));
    match bytes {
        Some(total) => bulk(&a, l, to, total),
        None => churn(&a, l, to, conns),
    }
}

fn fig(v: &[f64], err: &Option<String>) -> Figure {
    match (v.is_empty(), err) {
        (false, None) => Figure::Value(median(v.to_vec())),
        (_, Some(e)) => Figure::NotRun(format!("failed: {e}")),
        (true, None) => Figure::NotRun("no repetition".into()),
    }
}

/// One path's measurement.
type Measure<'a> = Box<dyn Fn() -> Result<f64, String> + 'a>;

/// The two rows; each repetition measures the four paths in turn.
pub(crate) fn rows(plan: Plan, progress: bool) -> Vec<Row> {
    let mut v: [Vec<f64>; 4] = Default::default();
    let mut err: [Option<String>; 4] = Default::default();
    for rep in 0..plan.reps {
        let runs: [(&str, Measure<'_>); 4] = [
            (
                "kernel → kernel (veth)",
                Box::new(|| over_veth(Some(plan.bytes), 0)),
            ),
            (
                "kernel → tun2socks → kernel",
                Box::new(|| through_tunnel(Some(plan.bytes), 0)),
            ),
            (
                "connections over veth",
                Box::new(|| over_veth(None, plan.conns)),
            ),
            (
                "connections through tun2socks",
                Box::new(|| through_tunnel(None, plan.conns)),
            ),
        ];
        for (i, (what, f)) in runs.iter().enumerate() {
            let r = f();
            if progress {
                match &r {
                    Ok(x) => eprintln!("  tun2socks rep {}: {what}: {x:.2}", rep + 1),
                    Err(e) => eprintln!("  tun2socks rep {}: {what}: failed: {e}", rep + 1),
                }
            }
            match r {
                Ok(x) => v[i].push(x),
                Err(e) => {
                    err[i].get_or_insert(e);
                }
            }
        }
    }
    let no_peer = || Figure::NotRun("smoltcp has no forwarder".into());
    let bulk = fig(&v[1], &err[1]);
    let churn = fig(&v[3], &err[3]);
    let note = "synack::forward with Upstream::Direct (synack tun2socks --direct) on a TUN device with vnet_hdr offloads";
    let with_base = |row: Row, base: Baseline, unit: &str| {
        let extra = match (&base.value, base.percent) {
            (Figure::Value(v), Some(p)) => {
                format!("; {p:.0}% of the same client and server over veth ({v:.2} {unit})")
            }
            (Figure::Value(v), None) => format!("; over veth {v:.2} {unit}"),
            (Figure::NotRun(why), _) => format!("; veth not run: {why}"),
        };
        let mut row = row.with_baseline(base);
        row.note += &extra;
        row
    };
    vec![
        with_base(
            Row::new(BULK, "Gbit/s", true, bulk.clone(), no_peer(), note),
            Baseline::new("kernel → kernel over veth", fig(&v[0], &err[0]), &bulk),
            "Gbit/s",
        ),
        with_base(
            Row::new(
                CHURN,
                "conn/s",
                true,
                churn.clone(),
                no_peer(),
                format!("{} sequential connect–close cycles; {note}", plan.conns),
            ),
            Baseline::new("kernel ↔ kernel over veth", fig(&v[2], &err[2]), &churn),
            "conn/s",
        ),
    ]
}
