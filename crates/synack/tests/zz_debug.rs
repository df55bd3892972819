use std::sync::{Arc, Mutex};
use synack::trace::{Direction, TraceKind};
use synack::{MemoryDevice, NetStack, TcpListener, TcpStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dbg() {
    let (da, db) = MemoryDevice::pair();
    let log = Arc::new(Mutex::new(Vec::new()));
    let l2 = log.clone();
    let a = NetStack::builder().address("10.0.0.1".parse().unwrap()).on_trace(move |e| l2.lock().unwrap().push(e)).build(da).unwrap();
    let b = NetStack::new(db, &["10.0.0.2".parse().unwrap()]).unwrap();
    let l = TcpListener::bind(&b, "10.0.0.2:1").await.unwrap();
    let srv = tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let data = vec![7u8; 4 << 20];
        s.write_all(&data).await.unwrap();
        s.shutdown().await.unwrap();
        eprintln!("SERVER {:?}", s.info());
        let mut x = Vec::new();
        s.read_to_end(&mut x).await.unwrap();
        eprintln!("SERVER {:?}", s.info());
    });
    let mut c = TcpStream::connect(&a, "10.0.0.2:1").await.unwrap();
    let mut v = Vec::new();
    c.read_to_end(&mut v).await.unwrap();
    drop(c);
    srv.await.unwrap();
    let log = log.lock().unwrap();
    let mut n = 0;
    for e in log.iter() {
        match &e.kind {
            TraceKind::Segment(s) if s.dir == Direction::Sent => {
                if n < 8 || s.window == 65535 { eprintln!("{:?} win={} bytes={} ack={} flags={:?}", e.time, s.window, s.window_bytes, s.ack, s.flags); n += 1; }
            }
            TraceKind::Dropped { reason } => eprintln!("DROP {reason}"),
            _ => {}
        }
        if n > 40 { break; }
    }
}
