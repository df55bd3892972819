//! A tun2socks-style forwarder in about 60 lines of the public API: every TCP
//! connection reaching the stack, whatever its destination, is decided at SYN time
//! (connect upstream first; refuse the client if the upstream refuses) and then
//! copied both ways; every UDP flow gets its own host socket.
//! (`synack::forward` is the complete one, with SOCKS5, that `synack tun2socks` runs.)
//!
//! Without flags it runs in memory: a client stack connects to 192.0.2.7:80 and
//! 192.0.2.8:80 through the forwarder, whose "upstream" is redirected to a TCP echo
//! server on 127.0.0.1 (and to a closed port for .8, which the client sees refused).
//! With `--tun NAME --addr CIDR` (root, Linux) it forwards a TUN device's traffic to
//! the real destinations through the host's sockets:
//!
//! ```text
//! sudo cargo run --release -p synack --example tun2socks -- --tun t2s0 --addr 10.0.0.2/24
//! # route something into it, e.g.: ip route add 198.51.100.0/24 dev t2s0
//! ```

use std::net::SocketAddr;
use std::time::Duration;
use synack::{MemoryDevice, NetStack, SynRequest, TcpListener, TcpStream, UdpIntercept};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Forward everything reaching `stack`; `redirect` maps a destination to where the
/// connection really goes (the identity for a real tunnel).
async fn forward(stack: &NetStack, redirect: fn(SocketAddr) -> SocketAddr) -> std::io::Result<()> {
    let tcp = TcpListener::intercept(stack).await?;
    tcp.decide_at_syn(Duration::from_secs(10))?;
    let udp = std::sync::Arc::new(UdpIntercept::new(stack).await?);
    tokio::spawn(udp_flows(udp));
    loop {
        let syn: SynRequest = tcp.next_syn().await?;
        tokio::spawn(async move {
            match tokio::net::TcpStream::connect(redirect(syn.target())).await {
                Ok(mut up) => {
                    if let Ok(mut client) = syn.accept().await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut up).await;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => syn.refuse(),
                Err(_) => syn.unreachable(),
            }
        });
    }
}

/// One host UDP socket per (client, destination) flow; answers go back as the
/// destination. (A real forwarder also closes idle flows: `UdpIntercept::expired`.)
async fn udp_flows(udp: std::sync::Arc<UdpIntercept>) -> std::io::Result<()> {
    let mut flows = std::collections::HashMap::new();
    loop {
        let (payload, client, target) = udp.recv().await?;
        let sock = match flows.get(&(client, target)) {
            Some(s) => std::sync::Arc::clone(s),
            None => {
                let s = std::sync::Arc::new(tokio::net::UdpSocket::bind("0.0.0.0:0").await?);
                s.connect(target).await?;
                flows.insert((client, target), s.clone());
                let (udp, s2) = (udp.clone(), s.clone());
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 65536];
                    while let Ok(n) = s2.recv(&mut buf).await {
                        let _ = udp.send_as(target, client, &buf[..n]).await;
                    }
                });
                s
            }
        };
        let _ = sock.send(&payload).await;
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [t, name, a, cidr] = &args[..] {
        if t == "--tun" && a == "--addr" {
            return on_tun(name, cidr).await;
        }
    }
    // In memory: an echo server on loopback stands for the Internet.
    let echo = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let echo_addr = echo.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut s, _)) = echo.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = s.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    ECHO.set(echo_addr).unwrap();
    let (a, b) = MemoryDevice::pair();
    let client = NetStack::new(a, &["10.0.0.1".parse().unwrap()])?;
    let tunnel = NetStack::new(b, &["10.0.0.2".parse().unwrap()])?;
    tokio::spawn(async move { forward(&tunnel, to_local_echo).await });

    let mut s = TcpStream::connect(&client, "192.0.2.7:80").await?;
    s.write_all(b"through the tunnel").await?;
    let mut back = [0u8; 18];
    s.read_exact(&mut back).await?;
    println!("192.0.2.7:80 echoed {:?}", String::from_utf8_lossy(&back));
    let refused = TcpStream::connect(&client, "192.0.2.8:80").await;
    println!(
        "192.0.2.8:80: {:?}",
        refused.map(|_| ()).unwrap_err().kind()
    );
    Ok(())
}

static ECHO: std::sync::OnceLock<SocketAddr> = std::sync::OnceLock::new();

/// .7 goes to the local echo server; anything else to a closed port on loopback.
fn to_local_echo(target: SocketAddr) -> SocketAddr {
    let echo = *ECHO.get().expect("set in main");
    if target.ip() == std::net::Ipv4Addr::new(192, 0, 2, 7) {
        echo
    } else {
        SocketAddr::from(([127, 0, 0, 1], 1))
    }
}

async fn on_tun(name: &str, cidr: &str) -> std::io::Result<()> {
    let own: synack::IpCidr = cidr
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{e}")))?;
    let dev = synack::TunDevice::open(&synack::TunConfig::new(name, &[own]))?;
    let stack = NetStack::new(dev, &[own.addr])?;
    eprintln!("forwarding {name} through the host's sockets (Ctrl-C to stop)");
    forward(&stack, |t| t).await
}
