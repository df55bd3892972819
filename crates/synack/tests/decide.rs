//! SYN-time decisions and the raw-packet hook through the runtime, two stacks back
//! to back in memory: the client sees exactly the answer the application chose.

use std::io::ErrorKind;
use std::time::Duration;
use synack::{MemoryDevice, NetStack, TcpListener, TcpStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn pair() -> (NetStack, NetStack, TcpListener) {
    let (a, b) = MemoryDevice::pair();
    let client = NetStack::new(a, &["10.0.0.1".parse().unwrap()]).unwrap();
    let tunnel = NetStack::new(b, &["10.0.0.2".parse().unwrap()]).unwrap();
    let listener = TcpListener::intercept(&tunnel).await.unwrap();
    listener.decide_at_syn(Duration::from_secs(5)).unwrap();
    (client, tunnel, listener)
}

#[tokio::test]
async fn accepted_at_syn_time_the_stream_carries_data() {
    let (client, _tunnel, listener) = pair().await;
    let c = tokio::spawn(async move {
        let mut s = TcpStream::connect(&client, "192.0.2.7:443").await?;
        s.write_all(b"ping").await?;
        let mut b = [0u8; 4];
        s.read_exact(&mut b).await?;
        std::io::Result::Ok(b)
    });
    let syn = listener.next_syn().await.unwrap();
    assert_eq!(syn.target(), "192.0.2.7:443".parse().unwrap());
    assert_eq!(
        syn.client().ip(),
        "10.0.0.1".parse::<std::net::IpAddr>().unwrap()
    );
    let mut s = syn.accept().await.unwrap();
    assert_eq!(s.local_addr().unwrap(), "192.0.2.7:443".parse().unwrap());
    let mut b = [0u8; 4];
    s.read_exact(&mut b).await.unwrap();
    assert_eq!(&b, b"ping");
    s.write_all(b"pong").await.unwrap();
    assert_eq!(&c.await.unwrap().unwrap(), b"pong");
}

#[tokio::test]
async fn refused_and_unreachable_reach_the_client_as_errors() {
    let (client, _tunnel, listener) = pair().await;
    let c1 = {
        let client = client.clone();
        tokio::spawn(async move { TcpStream::connect(&client, "192.0.2.7:80").await })
    };
    listener.next_syn().await.unwrap().refuse();
    let e = c1.await.unwrap().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e}");

    let c2 = tokio::spawn(async move { TcpStream::connect(&client, "192.0.2.8:80").await });
    let syn = listener.next_syn().await.unwrap();
    assert_eq!(syn.target(), "192.0.2.8:80".parse().unwrap());
    syn.unreachable();
    let e = c2.await.unwrap().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::HostUnreachable, "{e}");
}

#[tokio::test]
async fn raw_packets_the_stack_does_not_handle_reach_the_hook() {
    let (a, b) = MemoryDevice::pair();
    let one = NetStack::new(a, &["10.0.0.1".parse().unwrap()]).unwrap();
    let two = NetStack::new(b, &["10.0.0.2".parse().unwrap()]).unwrap();
    let tx = one.raw_packets(16);
    let rx = two.raw_packets(16);
    // IPv4, protocol 253, 10.0.0.1 -> 10.0.0.2, 4 bytes of payload.
    let mut p = vec![
        0x45, 0, 0, 24, 0, 0, 0x40, 0, 64, 253, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 1, 2, 3, 4,
    ];
    let sum: u32 = p[..20]
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    let sum = !((sum & 0xffff) + (sum >> 16)) as u16;
    p[10..12].copy_from_slice(&sum.to_be_bytes());
    tx.send(&p).unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("the packet arrives")
        .unwrap();
    assert_eq!(got, p);
}
