//! The HTTP rows of the TUN benchmarks: the Linux kernel's `curl` downloads one large
//! file from synack's HTTP file server (`synack::apps::http_serve`, what `synack serve
//! --http` runs) over a TUN device, plain and with vnet_hdr offloads, next to the same
//! library answering the same request with the same bytes from memory on the same kind
//! of device, in the same run (issue 17: a file server far slower than the stack
//! under it).
//!
//! This file owns the served file (the bench's pattern, written once per run to a
//! directory removed by a guard's `Drop`), the in-memory responder, the `curl` client
//! and the rows. The rows time curl writing to /dev/null, as a user would, and check
//! the byte count curl reports; the tests also run every download through a pipe to a
//! checker thread that compares each byte with the pattern. The rate is measured from
//! accepting the connection to the end of curl's output.

use crate::pattern::Pattern;
use crate::report::{Baseline, Figure, Row};
use crate::tun::{self, check_count, io_err, named, Netns, CHUNK, OWN, PREFIX, STALL};
use crate::{median, Measured};
use std::io::Read;
use std::net::SocketAddrV4;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;
use synack::{IpCidr, NetStack, TcpListener, TcpStream, TunConfig, TunDevice};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Port synack's HTTP server listens on.
const PORT: u16 = 6080;

/// Name of the served file.
const FILE: &str = "big";

/// Pattern seed of the served bytes.
const SEED: u64 = 0x4854_5450;

/// Row names.
pub(crate) const PLAIN: &str = "TUN, serve --http → curl";
/// Row names.
pub(crate) const OFFLOAD: &str = "TUN, serve --http → curl, offload";

/// Why the HTTP rows cannot run here: the TUN rows' needs, and `curl`.
pub(crate) fn unavailable() -> Option<String> {
    if let Some(why) = tun::unavailable() {
        return Some(why);
    }
    match Command::new("curl").arg("--version").output() {
        Ok(o) if o.status.success() => None,
        _ => Some("needs curl (scripts/setup.sh installs it)".into()),
    }
}

/// What answers curl's request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Body {
    /// `synack::apps::http_serve` reading the file from the served directory.
    File,
    /// A minimal responder writing the same bytes from memory.
    Memory,
}

/// A directory holding the served file, removed when dropped.
pub(crate) struct Served {
    dir: PathBuf,
    bytes: u64,
}

impl Served {
    /// Write `bytes` of the pattern to a fresh directory, in shared memory when the
    /// machine has it (the file is then read from the page cache, as a file served
    /// twice is).
    pub(crate) fn new(bytes: u64) -> Result<Served, String> {
        let shm = Path::new("/dev/shm");
        let base = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("synbench-http-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(io_err("served directory"))?;
        let served = Served { dir, bytes };
        let f = std::fs::File::create(served.dir.join(FILE)).map_err(io_err("served file"))?;
        let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
        let pattern = Pattern::new(SEED);
        let mut off = 0u64;
        while off < bytes {
            let chunk = pattern.window(off, (bytes - off).min(CHUNK as u64) as usize);
            std::io::Write::write_all(&mut w, chunk).map_err(io_err("served file"))?;
            off += chunk.len() as u64;
        }
        std::io::Write::flush(&mut w).map_err(io_err("served file"))?;
        Ok(served)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// synack on a TUN device in the calling thread's namespace, with or without vnet_hdr
/// offloads (plain: one packet per read and write, MTU 1500).
fn open_stack(offload: bool) -> Result<NetStack, String> {
    let own = IpCidr::new(OWN.into(), PREFIX).map_err(io_err("address"))?;
    let mut cfg = TunConfig::new(tun::TUN_NAME, &[own]);
    cfg.offload = offload;
    let dev = TunDevice::open(&cfg).map_err(io_err("TUN device"))?;
    NetStack::builder()
        .address(own.addr)
        .build(dev)
        .map_err(io_err("synack stack"))
}

/// Answer one GET with `total` pattern bytes from memory, as `http_serve` answers it
/// from the file (the same header, then the body in [`CHUNK`] writes).
async fn respond_from_memory(stream: TcpStream, total: u64) -> std::io::Result<()> {
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await? == 0 || line.trim_end().is_empty() {
            break;
        }
    }
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {total}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\nServer: synack\r\n\r\n"
    );
    w.write_all(head.as_bytes()).await?;
    let pattern = Pattern::new(SEED);
    let mut sent = 0u64;
    while sent < total {
        let chunk = pattern.window(sent, (total - sent).min(CHUNK as u64) as usize);
        w.write_all(chunk).await?;
        sent += chunk.len() as u64;
    }
    w.shutdown().await
}

/// Read curl's output to its end, checking every byte against the pattern; returns
/// the byte count and when the last byte was read.
fn check_output(mut out: impl Read) -> Result<(u64, Instant), String> {
    let pattern = Pattern::new(SEED);
    let mut buf = vec![0u8; CHUNK];
    let mut got = 0u64;
    loop {
        let n = match out.read(&mut buf) {
            Ok(0) => return Ok((got, Instant::now())),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("reading curl's output: {e}")),
        };
        if !pattern.matches(got, &buf[..n]) {
            return Err(format!("curl received corrupted data near byte {got}"));
        }
        got += n as u64;
    }
}

/// How a download's bytes are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    /// curl writes to a pipe and a thread compares every byte with the pattern.
    EveryByte,
    /// curl writes to /dev/null, as a user timing a download would, and reports how
    /// many bytes it received; the content is checked by the `EveryByte` runs of the
    /// tests. The pipe and the comparison cost a third process on a small machine.
    Count,
}

/// Read curl's `--write-out` report (the body went to /dev/null): the byte count,
/// and when curl finished.
fn read_count(mut out: impl Read) -> Result<(u64, Instant), String> {
    let mut text = String::new();
    out.read_to_string(&mut text)
        .map_err(|e| format!("reading curl's report: {e}"))?;
    let end = Instant::now();
    let n = text
        .trim()
        .parse::<u64>()
        .map_err(|_| format!("curl's report is not a byte count: {text:?}"))?;
    Ok((n, end))
}

/// One download of the served file by the kernel's `curl` over a fresh TUN device
/// (offloads or not), answered by `body`, its bytes checked as `check` says.
pub(crate) fn download(
    served: &Served,
    offload: bool,
    body: Body,
    check: Check,
) -> Result<Measured, String> {
    let total = served.bytes;
    let dir = served.dir.clone();
    let ns = Netns::new(if offload { "http-o" } else { "http-p" })?;
    ns.run(move || {
        tun::runtime()?.block_on(async move {
            let stack = open_stack(offload)?;
            let l = TcpListener::bind(&stack, SocketAddrV4::new(OWN, PORT))
                .await
                .map_err(io_err("synack bind"))?;
            let url = format!("http://{OWN}:{PORT}/{FILE}");
            // Started from this thread, curl runs in the namespace.
            let mut cmd = Command::new("curl");
            cmd.args(["--silent", "--show-error", "--fail", "--max-time", "300"]);
            match check {
                Check::EveryByte => cmd.args(["--output", "-", &url]),
                Check::Count => cmd.args([
                    "--output",
                    "/dev/null",
                    "--write-out",
                    "%{size_download}",
                    &url,
                ]),
            };
            let mut curl = cmd
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(io_err("curl"))?;
            let out = curl.stdout.take().ok_or("curl's output")?;
            let checker = match check {
                Check::EveryByte => {
                    // A larger pipe: fewer switches between curl and the checker.
                    // SAFETY: a valid pipe fd owned by `out`; F_SETPIPE_SZ only
                    // resizes it.
                    unsafe { libc::fcntl(out.as_raw_fd(), libc::F_SETPIPE_SZ, 1 << 20) };
                    named("curl-check", move || check_output(out))?
                }
                Check::Count => named("curl-report", move || read_count(out))?,
            };
            let served = async {
                let (s, _) = tokio::time::timeout(STALL, l.accept())
                    .await
                    .map_err(|_| "synack accept timed out".to_string())?
                    .map_err(io_err("synack accept"))?;
                let start = Instant::now();
                match body {
                    Body::File => synack::apps::http_serve(s, &dir).await.map(drop),
                    Body::Memory => respond_from_memory(s, total).await,
                }
                .map_err(io_err("synack HTTP server"))?;
                Ok::<_, String>(start)
            }
            .await;
            let checked = tokio::task::spawn_blocking(move || {
                let checked = checker.join();
                (checked, curl.wait_with_output())
            })
            .await
            .map_err(|_| "join".to_string())?;
            let (checked, status) = checked;
            let (got, end) = checked.map_err(|_| "curl checker panicked".to_string())??;
            let status = status.map_err(io_err("curl"))?;
            if !status.status.success() {
                return Err(format!(
                    "curl failed ({}): {}",
                    status.status,
                    String::from_utf8_lossy(&status.stderr).trim()
                ));
            }
            let start = served?;
            check_count(
                "curl",
                Measured {
                    elapsed: end.saturating_duration_since(start),
                    bytes: got,
                },
                total,
            )
        })
    })
}

/// The two HTTP rows, each with the in-memory responder on the same kind of device as
/// its baseline. Each repetition runs the four downloads in turn (file and memory,
/// plain, then offload), so a slow phase of a noisy machine spreads over all of them.
pub(crate) fn rows(bytes: u64, reps: usize, progress: bool) -> Vec<Row> {
    // What a user timing `curl -o /dev/null` sees; the tests check the content.
    let check = Check::Count;
    if let Some(why) = unavailable() {
        return not_run(&why);
    }
    let served = match Served::new(bytes) {
        Ok(s) => s,
        Err(e) => return not_run(&format!("failed: {e}")),
    };
    // [plain file, plain memory, offload file, offload memory]
    let mut samples: [Vec<f64>; 4] = Default::default();
    let mut errors: [Option<String>; 4] = Default::default();
    let paths = [
        (false, Body::File),
        (false, Body::Memory),
        (true, Body::File),
        (true, Body::Memory),
    ];
    for rep in 0..reps {
        for (i, &(offload, body)) in paths.iter().enumerate() {
            let r = download(&served, offload, body, check);
            if progress {
                let what = format!(
                    "curl ← synack {}, {}",
                    if body == Body::File { "file" } else { "memory" },
                    if offload { "offload" } else { "plain TUN" }
                );
                match &r {
                    Ok(m) => eprintln!("  HTTP rep {}: {what}: {:.2} Gbit/s", rep + 1, m.gbps()),
                    Err(e) => eprintln!("  HTTP rep {}: {what}: failed: {e}", rep + 1),
                }
            }
            match r {
                Ok(m) => samples[i].push(m.gbps()),
                Err(e) => {
                    errors[i].get_or_insert(e);
                }
            }
        }
    }
    let fig = |i: usize| match (&errors[i], samples[i].is_empty()) {
        (Some(e), _) => Figure::NotRun(format!("failed: {e}")),
        (None, false) => Figure::Value(median(samples[i].clone())),
        (None, true) => Figure::NotRun("no repetition".into()),
    };
    let row = |name: &str, file: Figure, memory: Figure, device: &str| {
        let base = Baseline::new(
            format!("synack answering from memory ({device})"),
            memory,
            &file,
        );
        let note = match (&base.value, base.percent) {
            (Figure::Value(v), Some(p)) => format!(
                "synack::apps::http_serve ({device}), file of {} MiB; {p:.0}% of the same request answered from memory ({v:.2} Gbit/s)",
                bytes >> 20
            ),
            (Figure::NotRun(why), _) => format!("from memory not run: {why}"),
            (Figure::Value(v), None) => format!("from memory {v:.2} Gbit/s"),
        };
        Row::new(
            name,
            "Gbit/s",
            true,
            file,
            Figure::NotRun("no HTTP server".into()),
            note,
        )
        .with_baseline(base)
    };
    vec![
        row(PLAIN, fig(0), fig(1), "plain TUN, MTU 1500"),
        row(OFFLOAD, fig(2), fig(3), "vnet_hdr offloads"),
    ]
}

/// The HTTP rows when they cannot run, each saying why.
fn not_run(why: &str) -> Vec<Row> {
    [PLAIN, OFFLOAD]
        .into_iter()
        .map(|name| Row::not_run(name, "Gbit/s", true, why))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_served_file_is_the_pattern_and_is_removed() {
        let served = Served::new(3 * CHUNK as u64 + 17).expect("served file");
        let path = served.dir.join(FILE);
        let bytes = std::fs::read(&path).expect("read back");
        assert_eq!(bytes.len() as u64, served.bytes);
        let (got, _) = check_output(&bytes[..]).expect("the checker accepts the file");
        assert_eq!(got, served.bytes);
        drop(served);
        assert!(!path.exists());
    }

    #[test]
    fn the_checker_refuses_a_changed_byte() {
        let mut bytes = Pattern::new(SEED).window(0, 5000).to_vec();
        bytes[4000] ^= 0x40;
        let err = check_output(&bytes[..]).expect_err("corruption is found");
        assert!(err.contains("corrupted"), "{err}");
    }

    #[test]
    fn a_small_download_over_tun_checks_out_both_ways() {
        if let Some(why) = unavailable() {
            eprintln!("skipped: {why}");
            return;
        }
        let served = Served::new(4 << 20).expect("served file");
        for offload in [false, true] {
            for body in [Body::File, Body::Memory] {
                for check in [Check::EveryByte, Check::Count] {
                    let m = download(&served, offload, body, check)
                        .unwrap_or_else(|e| panic!("{body:?}, offload {offload}, {check:?}: {e}"));
                    assert_eq!(m.bytes, 4 << 20);
                }
            }
        }
    }
}
