//! `synack link`: two TUN devices joined by the `synack-link` emulator.

use crate::args::LinkArgs;
use std::process::ExitCode;
use synack_link::spec::{parse_duration, DirSpec};
use synack_link::{link_configs, Link, Side};

/// Both directions' impairments from the flags: the shared flags, then `--ab` / `--ba`.
fn specs(a: &LinkArgs) -> Result<(DirSpec, DirSpec), String> {
    let mut both = DirSpec::default();
    for (key, value) in [
        ("delay", &a.delay),
        ("jitter", &a.jitter),
        ("rate", &a.rate),
        ("queue", &a.queue),
        ("loss", &a.loss),
        ("burst-loss", &a.burst_loss),
        ("duplicate", &a.duplicate),
        ("reorder", &a.reorder),
        ("reorder-delay", &a.reorder_delay),
        ("mtu", &a.mtu),
    ] {
        if let Some(v) = value {
            both.set(key, v).map_err(|e| format!("--{key}: {e}"))?;
        }
    }
    let (mut ab, mut ba) = (both.clone(), both);
    if let Some(list) = &a.ab {
        ab.apply_list(list).map_err(|e| format!("--ab: {e}"))?;
    }
    if let Some(list) = &a.ba {
        ba.apply_list(list).map_err(|e| format!("--ba: {e}"))?;
    }
    if ab.mtu != ba.mtu {
        return Err("--ab/--ba: both directions need the same mtu (the devices have one)".into());
    }
    Ok((ab, ba))
}

pub(crate) fn run(a: LinkArgs) -> Result<ExitCode, String> {
    let (ab, ba) = specs(&a)?;
    let duration = a
        .duration
        .as_deref()
        .map(parse_duration)
        .transpose()
        .map_err(|e| format!("--duration: {e}"))?;
    if a.a == a.b {
        return Err(format!("--a and --b name the same device {:?}", a.a));
    }
    let (c_ab, c_ba) = link_configs(&ab, &ba);
    eprintln!("synack link: {} → {}: {c_ab:?}", a.a, a.b);
    eprintln!("synack link: {} → {}: {c_ba:?}", a.b, a.a);
    serve(&a, Link::new(c_ab, c_ba, a.seed), ab.mtu, duration)
}

#[cfg(target_os = "linux")]
fn serve(
    a: &LinkArgs,
    link: Link,
    mtu: usize,
    duration: Option<std::time::Duration>,
) -> Result<ExitCode, String> {
    use synack_link::{open_plain_tun, TunLink};
    let mtu16 = u16::try_from(mtu).map_err(|_| format!("--mtu {mtu}: too large"))?;
    let dev_a = open_plain_tun(&a.a, mtu16).map_err(|e| e.to_string())?;
    let dev_b = open_plain_tun(&a.b, mtu16).map_err(|e| e.to_string())?;
    let running = TunLink::start(link, dev_a, dev_b, mtu).map_err(|e| e.to_string())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    rt.block_on(async {
        let wait = async {
            match duration {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = wait => {}
        }
    });
    for (from, to, side) in [(&a.a, &a.b, Side::A), (&a.b, &a.a, Side::B)] {
        let s = running.link().stats(side);
        let t = running.link().timing(side);
        println!(
            "{from} → {to}: sent {} packets ({} bytes), delivered {}, lost {}, queue drops {}, mtu drops {}, duplicated {}, reordered {}; released late by {:.1} µs on average, {:.1} µs at most, {} over 1 ms",
            s.sent, s.sent_bytes, s.delivered, s.lost, s.dropped_queue, s.dropped_mtu,
            s.duplicated, s.reordered, t.mean_late_us(), t.late_ns_max as f64 / 1000.0, t.late_over_1ms
        );
    }
    running.stop().map_err(|e| format!("TUN device: {e}"))?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(not(target_os = "linux"))]
fn serve(
    _a: &LinkArgs,
    _link: Link,
    _mtu: usize,
    _duration: Option<std::time::Duration>,
) -> Result<ExitCode, String> {
    Err("synack link needs Linux (TUN devices)".into())
}
