//! A UDP echo server on synack.
//!
//! Without flags it runs in memory: two stacks joined by a `MemoryDevice` pair, a
//! client sending a few datagrams to the echo server and printing what comes back.
//!
//! With `--tun NAME --addr CIDR` (root, Linux) it serves on a TUN device: synack takes
//! the address given (for example `10.0.0.2/24`), the kernel gets the first host of the
//! prefix, and every datagram to port 7 (`--port`) is sent back; the stack also answers
//! pings. Try it from another shell:
//!
//! ```text
//! sudo cargo run --release -p synack --example udp_echo -- --tun synudp0 --addr 10.0.0.2/24
//! echo hello | nc -u -w1 10.0.0.2 7
//! ping -c 3 10.0.0.2
//! ```

use std::net::SocketAddr;
use synack::{MemoryDevice, NetStack, UdpSocket};

/// Send every datagram back to its sender, forever.
async fn serve(sock: UdpSocket) -> std::io::Result<()> {
    let mut buf = vec![0u8; 65536];
    loop {
        let (n, from) = sock.recv_from(&mut buf).await?;
        sock.send_to(&buf[..n], from).await?;
    }
}

async fn in_memory() -> std::io::Result<()> {
    let (a, b) = MemoryDevice::pair();
    let client_stack = NetStack::new(a, &["10.0.0.1".parse().unwrap()])?;
    let server_stack = NetStack::new(b, &["10.0.0.2".parse().unwrap()])?;
    let server = UdpSocket::bind(&server_stack, "10.0.0.2:7").await?;
    tokio::spawn(serve(server));
    let client = UdpSocket::bind(&client_stack, "0.0.0.0:0").await?;
    client.connect("10.0.0.2:7").await?;
    let mut buf = [0u8; 1500];
    for msg in ["hello", "over", "udp"] {
        client.send(msg.as_bytes()).await?;
        let n = client.recv(&mut buf).await?;
        println!(
            "{} -> 10.0.0.2:7 -> {:?}",
            client.local_addr()?,
            String::from_utf8_lossy(&buf[..n])
        );
    }
    let st = server_stack.stats().udp;
    println!(
        "server: {} datagrams in, {} out",
        st.datagrams_in, st.datagrams_out
    );
    Ok(())
}

#[cfg(target_os = "linux")]
async fn on_tun(name: String, addr: synack::IpCidr, port: u16) -> std::io::Result<()> {
    use synack::{TunConfig, TunDevice};
    let dev = TunDevice::open(&TunConfig::new(name.clone(), &[addr]))?;
    let stack = NetStack::new(dev, &[addr.addr])?;
    let sock = UdpSocket::bind(&stack, SocketAddr::new(addr.addr, port)).await?;
    println!(
        "UDP echo on {} (device {name}); pings answered; Ctrl-C to stop",
        sock.local_addr()?
    );
    tokio::select! {
        r = serve(sock) => r?,
        _ = tokio::signal::ctrl_c() => {}
    }
    let st = stack.stats().udp;
    println!(
        "{} datagrams echoed, {} pings answered, {} port-unreachable sent",
        st.datagrams_out, st.echo_replies, st.port_unreachable_sent
    );
    Ok(())
}

fn fail(msg: &str) -> ! {
    eprintln!("udp_echo: {msg}");
    std::process::exit(2);
}

#[tokio::main]
async fn main() {
    let mut tun = None;
    let mut addr = None;
    let mut port = 7u16;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| fail(&format!("{a} needs a value")))
        };
        match a.as_str() {
            "--tun" => tun = Some(value()),
            "--addr" => addr = Some(value()),
            "--port" => {
                let v = value();
                port = v
                    .parse()
                    .unwrap_or_else(|_| fail(&format!("--port: {v:?} is not a port")));
            }
            other => fail(&format!(
                "unknown flag {other:?} (flags: --tun NAME --addr CIDR [--port N])"
            )),
        }
    }
    let result = match (tun, addr) {
        (None, None) => in_memory().await,
        #[cfg(target_os = "linux")]
        (Some(name), Some(addr)) => {
            let cidr = addr
                .parse()
                .unwrap_or_else(|e| fail(&format!("--addr {addr:?}: {e}")));
            on_tun(name, cidr, port).await
        }
        _ => fail("--tun and --addr go together"),
    };
    if let Err(e) = result {
        fail(&e.to_string());
    }
}
