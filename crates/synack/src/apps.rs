//! Ready-made services over [`TcpStream`]s, used by the `synack serve`, `connect` and
//! `intercept` commands: echo, discard, a small HTTP/1.1 file server (GET and HEAD,
//! enough for curl and wget) and an HTTP/1.1 GET client.

use crate::TcpStream;
use std::io;
use std::path::{Component, Path, PathBuf};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

/// Echo everything back until the peer closes, then close. Returns the bytes echoed.
pub async fn echo(stream: TcpStream) -> io::Result<u64> {
    let (mut r, mut w) = stream.into_split();
    let n = tokio::io::copy(&mut r, &mut w).await?;
    w.shutdown().await?;
    Ok(n)
}

/// Read and drop everything until the peer closes. Returns the bytes read.
pub async fn discard(mut stream: TcpStream) -> io::Result<u64> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        total += n as u64;
    }
    stream.shutdown().await?;
    Ok(total)
}

/// Map a request path onto a file under `root`, refusing anything that leaves it.
fn resolve(root: &Path, target: &str) -> Option<PathBuf> {
    let path = target.split(['?', '#']).next().unwrap_or("/");
    let decoded = percent_decode(path)?;
    let mut out = root.to_path_buf();
    for comp in Path::new(&decoded).components() {
        match comp {
            Component::Normal(c) => out.push(c),
            Component::RootDir | Component::CurDir => {}
            _ => return None,
        }
    }
    if out.is_dir() {
        out.push("index.html");
    }
    Some(out)
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Serve files under `root` over HTTP/1.1 on one connection: GET and HEAD, persistent
/// connections (until the client asks to close or closes), 404 / 405 / 400 answers.
/// Returns the number of requests answered.
pub async fn http_serve(stream: TcpStream, root: &Path) -> io::Result<u64> {
    let (r, w) = stream.into_split();
    let mut r = BufReader::new(r);
    // Headers and small bodies leave in one segment instead of waiting on Nagle.
    let mut w = tokio::io::BufWriter::with_capacity(64 * 1024, w);
    let mut served = 0u64;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await? == 0 {
            break;
        }
        let request = line.trim_end().to_string();
        if request.is_empty() {
            continue;
        }
        let mut close = false;
        let mut header_bytes = 0usize;
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).await? == 0 {
                close = true;
                break;
            }
            header_bytes += h.len();
            if header_bytes > 64 * 1024 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "request headers too long",
                ));
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                if k.eq_ignore_ascii_case("connection") && v.trim().eq_ignore_ascii_case("close") {
                    close = true;
                }
            }
        }
        let mut parts = request.split_whitespace();
        let (method, target, version) = (parts.next(), parts.next(), parts.next());
        if version == Some("HTTP/1.0") {
            close = true;
        }
        let conn_hdr = if close { "close" } else { "keep-alive" };
        match (method, target) {
            (Some(m @ ("GET" | "HEAD")), Some(t)) => match resolve(root, t) {
                Some(p) if p.is_file() => {
                    let f = std::fs::File::open(&p)?;
                    let len = f.metadata()?.len();
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nContent-Type: application/octet-stream\r\nConnection: {conn_hdr}\r\nServer: synack\r\n\r\n"
                    );
                    w.write_all(head.as_bytes()).await?;
                    if m == "GET" {
                        let sent = send_file(f, &mut w).await?;
                        if sent != len {
                            // The file changed size under us: the length promised
                            // cannot be kept, so the connection must end.
                            close = true;
                        }
                    }
                }
                _ => respond(&mut w, "404 Not Found", "not found\n", conn_hdr).await?,
            },
            (Some(_), Some(_)) => {
                respond(
                    &mut w,
                    "405 Method Not Allowed",
                    "only GET and HEAD\n",
                    conn_hdr,
                )
                .await?
            }
            _ => {
                respond(&mut w, "400 Bad Request", "bad request\n", "close").await?;
                close = true;
            }
        }
        served += 1;
        w.flush().await?;
        if close {
            break;
        }
    }
    w.shutdown().await?;
    Ok(served)
}

/// Bytes a file is read in by [`send_file`]: small enough that a chunk can still be in
/// the CPU's cache when the stack copies it into the send buffer (with 1 MiB chunks,
/// four ahead, a chunk had likely left the cache by then; A/B on the HTTP rows of `synack
/// bench`, offloading TUN: the file at 33–102 % of the same bytes from memory,
/// against 38–111 % with 1 MiB, medians 0.8 and 0.5, on a loaded machine).
const FILE_CHUNK: usize = 256 << 10;

/// Copy `file` to `w` with read-ahead: a task on tokio's blocking pool reads the file
/// in [`FILE_CHUNK`] pieces, up to [`READ_AHEAD`] ahead of the connection, while this
/// task writes. One blocking-pool hand-off per chunk instead of one per small read
/// (`tokio::fs::File` with `io::copy` reads 8 KiB at a time through the pool, and
/// the thread switches cost more than the stack). Returns the bytes written.
async fn send_file<W: AsyncWrite + Unpin>(file: std::fs::File, w: &mut W) -> io::Result<u64> {
    use std::io::Read;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<io::Result<Vec<u8>>>(READ_AHEAD);
    let (back_tx, back_rx) = std::sync::mpsc::channel::<Vec<u8>>();
    let reader = tokio::task::spawn_blocking(move || {
        let mut file = file;
        loop {
            let mut buf = back_rx.try_recv().unwrap_or_default();
            buf.resize(FILE_CHUNK, 0);
            let mut filled = 0;
            let r = loop {
                match file.read(&mut buf[filled..]) {
                    Ok(0) => break Ok(()),
                    Ok(n) => {
                        filled += n;
                        if filled == buf.len() {
                            break Ok(());
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => break Err(e),
                }
            };
            let done = filled < buf.len();
            buf.truncate(filled);
            let msg = match r {
                Ok(()) => Ok(buf),
                Err(e) => Err(e),
            };
            let failed = msg.is_err();
            // The receiver is gone when the connection failed: stop reading.
            if (filled > 0 || failed) && tx.blocking_send(msg).is_err() {
                return;
            }
            if done || failed {
                return;
            }
        }
    });
    let mut total = 0u64;
    while let Some(chunk) = rx.recv().await {
        let chunk = chunk?;
        w.write_all(&chunk).await?;
        total += chunk.len() as u64;
        let _ = back_tx.send(chunk);
    }
    drop(rx);
    let _ = reader.await;
    Ok(total)
}

/// Chunks [`send_file`] reads ahead of the connection.
const READ_AHEAD: usize = 2;

async fn respond<W: AsyncWrite + Unpin>(
    w: &mut W,
    status: &str,
    body: &str,
    conn: &str,
) -> io::Result<()> {
    let msg = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: text/plain\r\nConnection: {conn}\r\nServer: synack\r\n\r\n{body}",
        body.len()
    );
    w.write_all(msg.as_bytes()).await
}

/// Fetch `path` with HTTP/1.1 GET on `stream` (Host: `host`) and write the body to
/// `out`. Fails unless the status is 2xx. Returns the body length.
pub async fn http_get<W: AsyncWrite + Unpin>(
    stream: TcpStream,
    host: &str,
    path: &str,
    out: &mut W,
) -> io::Result<u64> {
    let (r, mut w) = stream.into_split();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: synack\r\nConnection: close\r\n\r\n"
    );
    w.write_all(req.as_bytes()).await?;
    let mut r = BufReader::new(r);
    let mut status = String::new();
    r.read_line(&mut status).await?;
    let code: u16 = status
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad HTTP status line: {:?}", status.trim_end()),
            )
        })?;
    let mut length: Option<u64> = None;
    let mut chunked = false;
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed in headers",
            ));
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().ok();
            } else if k.eq_ignore_ascii_case("transfer-encoding")
                && v.to_ascii_lowercase().contains("chunked")
            {
                chunked = true;
            }
        }
    }
    if !(200..300).contains(&code) {
        return Err(io::Error::other(format!(
            "HTTP status {}",
            status.trim_end()
        )));
    }
    if chunked {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "chunked transfer encoding is not supported",
        ));
    }
    let n = match length {
        Some(len) => {
            let n = tokio::io::copy(&mut (&mut r).take(len), out).await?;
            if n < len {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("body ended after {n} of {len} bytes"),
                ));
            }
            n
        }
        None => tokio::io::copy(&mut r, out).await?,
    };
    out.flush().await?;
    w.shutdown().await?;
    Ok(n)
}

/// Copy `input` to the connection and the connection to `output` (like nc): when
/// `input` ends, the sending side is shut down (FIN); returns when the peer closes.
/// Returns (bytes sent, bytes received).
pub async fn copy_bidirectional<R, W>(
    stream: TcpStream,
    mut input: R,
    mut output: W,
) -> io::Result<(u64, u64)>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let (mut r, mut w) = stream.into_split();
    let up = async {
        let n = tokio::io::copy(&mut input, &mut w).await?;
        w.shutdown().await?;
        io::Result::Ok(n)
    };
    let down = async {
        let n = tokio::io::copy(&mut r, &mut output).await?;
        output.flush().await?;
        io::Result::Ok(n)
    };
    tokio::try_join!(up, down)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_under_root() {
        let root = Path::new("/srv");
        assert_eq!(
            resolve(root, "/a/b.txt"),
            Some(PathBuf::from("/srv/a/b.txt"))
        );
        assert_eq!(resolve(root, "/a%20b?x=1"), Some(PathBuf::from("/srv/a b")));
        assert_eq!(resolve(root, "/../etc/passwd"), None);
        assert_eq!(resolve(root, "/a/%2e%2e/%2e%2e/x"), None);
        assert_eq!(resolve(root, "/%zz"), None);
    }
}
