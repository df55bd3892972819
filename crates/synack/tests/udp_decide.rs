//! UDP flow decisions through the runtime (issue 15 item 3), two stacks back to back
//! in memory: an accepted flow's held datagrams and later ones reach the intercept
//! and the reply comes back; a refused flow's client sees ECONNREFUSED; a dropped
//! request sends nothing and the flow's next datagram asks again.

use std::io::ErrorKind;
use std::time::Duration;
use synack::{MemoryDevice, NetStack, UdpIntercept, UdpSocket};

async fn pair() -> (NetStack, NetStack, UdpIntercept) {
    let (a, b) = MemoryDevice::pair();
    let client = NetStack::new(a, &["10.0.0.1".parse().unwrap()]).unwrap();
    let tunnel = NetStack::new(b, &["10.0.0.2".parse().unwrap()]).unwrap();
    let intercept = UdpIntercept::new(&tunnel).await.unwrap();
    intercept.decide_flows(Duration::from_secs(5)).unwrap();
    (client, tunnel, intercept)
}

#[tokio::test]
async fn an_accepted_flow_delivers_its_held_datagrams_and_replies_reach_the_client() {
    let (client, _tunnel, intercept) = pair().await;
    let sock = UdpSocket::bind(&client, "0.0.0.0:0").await.unwrap();
    sock.connect("192.0.2.53:53").await.unwrap();
    sock.send(b"first").await.unwrap();
    sock.send(b"second").await.unwrap();
    let flow = intercept.next_flow().await.unwrap();
    assert_eq!(flow.target(), "192.0.2.53:53".parse().unwrap());
    assert_eq!(flow.client(), sock.local_addr().unwrap());
    flow.accept().unwrap();
    for want in [&b"first"[..], b"second"] {
        let (p, src, dst) = intercept.recv().await.unwrap();
        assert_eq!(
            (&p[..], src, dst.port()),
            (want, sock.local_addr().unwrap(), 53)
        );
    }
    sock.send(b"third").await.unwrap();
    let (p, src, dst) = intercept.recv().await.unwrap();
    assert_eq!(&p, b"third");
    intercept.send_as(dst, src, b"answer").await.unwrap();
    let mut buf = [0u8; 16];
    let n = sock.recv(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"answer");
}

#[tokio::test]
async fn a_refused_flow_is_refused_at_the_client() {
    let (client, _tunnel, intercept) = pair().await;
    let sock = UdpSocket::bind(&client, "0.0.0.0:0").await.unwrap();
    sock.connect("192.0.2.9:5000").await.unwrap();
    sock.send(b"hello").await.unwrap();
    intercept.next_flow().await.unwrap().refuse();
    let err = sock.recv(&mut [0u8; 16]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    // Refused again for its next datagram, without asking the application.
    sock.send(b"again").await.unwrap();
    let err = sock.recv(&mut [0u8; 16]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
}

#[tokio::test]
async fn a_dropped_request_asks_again_on_the_next_datagram() {
    let (client, _tunnel, intercept) = pair().await;
    let sock = UdpSocket::bind(&client, "0.0.0.0:0").await.unwrap();
    sock.connect("192.0.2.9:5001").await.unwrap();
    sock.send(b"lost").await.unwrap();
    drop(intercept.next_flow().await.unwrap()); // undecided: dropped
    sock.send(b"kept").await.unwrap();
    intercept.next_flow().await.unwrap().accept().unwrap();
    let (p, _, _) = intercept.recv().await.unwrap();
    assert_eq!(&p, b"kept", "the dropped datagram is gone");
}
