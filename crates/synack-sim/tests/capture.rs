//! Captures: in memory and pcap, as sent and as delivered, per link and network-wide,
//! read back with pcap-file's own reader.

mod common;

use std::cell::RefCell;
use std::io::{self, Write};
use std::rc::Rc;

use common::{addr, Echo, Sender, Sink, A, B};
use pcap_file::pcap::PcapReader;
use pcap_file::DataLink;
use sha2::{Digest, Sha256};
use synack_core::time::{Duration, Instant};
use synack_sim::{read_pcap, CapturePoint, LinkConfig, Network};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A `Write` whose bytes the test can still read after handing it to the network.
#[derive(Clone, Default)]
struct SharedBuf(Rc<RefCell<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// An echo exchange over a lossy, duplicating, corrupting link with four captures:
/// memory/pcap × sent/delivered.
struct Run {
    net: Network,
    sent_mem: synack_sim::CaptureId,
    delivered_mem: synack_sim::CaptureId,
    sent_pcap: SharedBuf,
    delivered_pcap: SharedBuf,
    link: synack_sim::LinkId,
    hosts: (synack_sim::HostId, synack_sim::HostId),
}

fn run(seed: u64) -> Run {
    let mut net = Network::new(seed);
    net.enable_packet_log();
    let s = net.add_host(Sender::new(A, B, 200).every(ms(2)), [addr(A)]);
    let e = net.add_host(Echo::default(), [addr(B)]);
    let cfg = LinkConfig::with_latency(ms(15))
        .loss(0.1)
        .duplicate(0.05)
        .corrupt(0.05)
        .jitter(ms(1));
    let link = net.add_link(s, e, cfg);
    let sent_mem = net.capture(Some(link), CapturePoint::Sent);
    let delivered_mem = net.capture(Some(link), CapturePoint::Delivered);
    let sent_pcap = SharedBuf::default();
    let delivered_pcap = SharedBuf::default();
    net.capture_pcap(Some(link), CapturePoint::Sent, sent_pcap.clone())
        .unwrap();
    net.capture_pcap(Some(link), CapturePoint::Delivered, delivered_pcap.clone())
        .unwrap();
    assert!(net.run_until_idle(Instant::from_secs(10)).is_idle());
    net.flush_captures().unwrap();
    Run {
        net,
        sent_mem,
        delivered_mem,
        sent_pcap,
        delivered_pcap,
        link,
        hosts: (s, e),
    }
}

#[test]
fn memory_capture_matches_the_packet_log() {
    let r = run(10);
    let (s, e) = r.hosts;
    let fwd = r.net.link_stats(r.link, s);
    let back = r.net.link_stats(r.link, e);
    let sent = r.net.captured(r.sent_mem);
    assert_eq!(sent.len() as u64, fwd.sent + back.sent);
    let log = r.net.packet_log().unwrap();
    let originals: Vec<_> = log
        .records()
        .iter()
        .filter(|x| x.copy_of.is_none())
        .map(|x| (x.sent_at, x.bytes.clone()))
        .collect();
    assert_eq!(sent, &originals[..]);

    let delivered = r.net.captured(r.delivered_mem);
    assert_eq!(delivered.len() as u64, fwd.delivered + back.delivered);
    assert!(delivered.windows(2).all(|w| w[0].0 <= w[1].0));
    let corrupted = fwd.corrupted + back.corrupted;
    assert!(corrupted > 0);
    // A corrupted copy differs from every packet sent (the echo re-sends it with the
    // addresses swapped, which is a different packet).
    let sent_set: std::collections::HashSet<&Vec<u8>> = sent.iter().map(|(_, b)| b).collect();
    let bad = delivered
        .iter()
        .filter(|(_, b)| !sent_set.contains(b))
        .count() as u64;
    assert_eq!(
        bad, corrupted,
        "delivered capture holds the corrupted bytes"
    );
}

#[test]
fn pcap_reads_back_with_pcap_file() {
    let r = run(10);
    for (buf, id) in [
        (&r.sent_pcap, r.sent_mem),
        (&r.delivered_pcap, r.delivered_mem),
    ] {
        let bytes = buf.0.borrow().clone();
        let mut reader = PcapReader::new(&bytes[..]).unwrap();
        assert_eq!(reader.header().datalink, DataLink::RAW);
        let mut packets = Vec::new();
        while let Some(p) = reader.next_packet() {
            let p = p.unwrap();
            assert_eq!(p.orig_len as usize, p.data.len());
            packets.push((p.timestamp, p.data.into_owned()));
        }
        let mem = r.net.captured(id);
        assert_eq!(packets.len(), mem.len());
        for ((ts, data), (t, b)) in packets.iter().zip(mem) {
            assert_eq!(ts.as_micros(), u128::from(t.total_micros()));
            assert_eq!(data, b);
        }
        // Our own reader agrees.
        assert_eq!(read_pcap(&bytes[..]).unwrap(), mem);
    }
}

#[test]
fn pcap_file_on_disk() {
    let dir = std::env::temp_dir().join(format!("synack-sim-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("link.pcap");
    let mut net = Network::new(3);
    let s = net.add_host(Sender::new(A, B, 10).every(ms(1)), [addr(A)]);
    let e = net.add_host(Echo::default(), [addr(B)]);
    let link = net.add_link(s, e, LinkConfig::default());
    let file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    net.capture_pcap(Some(link), CapturePoint::Sent, file)
        .unwrap();
    assert!(net.run_until_idle(Instant::from_secs(1)).is_idle());
    net.flush_captures().unwrap();
    let packets = read_pcap(std::fs::File::open(&path).unwrap()).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(packets.len(), 20);
    // Requests at 0..9 ms from A, replies at 10..19 ms from B.
    let times: Vec<u64> = packets.iter().map(|p| p.0.total_millis()).collect();
    assert_eq!(times, (0..20).collect::<Vec<_>>());
    assert!(packets[..10].iter().all(|p| p.1[12..16] == [10, 0, 0, 1]));
    assert!(packets[10..].iter().all(|p| p.1[12..16] == [10, 0, 0, 2]));
}

#[test]
fn network_wide_capture_sees_every_link() {
    let mut net = Network::new(3);
    let k = net.add_host(Sink::default(), [addr(B)]);
    let s1 = net.add_host(Sender::new("10.0.0.3", B, 4), [addr("10.0.0.3")]);
    let s2 = net.add_host(Sender::new("10.0.0.4", B, 6), [addr("10.0.0.4")]);
    let l1 = net.add_link(s1, k, LinkConfig::default());
    net.add_link(s2, k, LinkConfig::default());
    let all = net.capture(None, CapturePoint::Sent);
    let one = net.capture(Some(l1), CapturePoint::Sent);
    assert!(net.run_until_idle(Instant::from_secs(1)).is_idle());
    assert_eq!(net.captured(all).len(), 10);
    assert_eq!(net.captured(one).len(), 4);
    assert_eq!(net.take_captured(all).len(), 10);
    assert!(net.captured(all).is_empty());
}

#[test]
fn same_seed_same_pcap_bytes() {
    let digest = |seed| {
        let r = run(seed);
        let bytes = r.delivered_pcap.0.borrow().clone();
        Sha256::digest(&bytes)
    };
    assert_eq!(digest(77), digest(77));
    assert_ne!(digest(77), digest(78));
}

/// A writer that always fails.
struct Broken;
impl Write for Broken {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::other("disk full"))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn write_errors_surface_on_flush() {
    let mut net = Network::new(1);
    assert!(net.capture_pcap(None, CapturePoint::Sent, Broken).is_err());
    // A writer that accepts the header but fails later.
    struct FailsAfter(usize);
    impl Write for FailsAfter {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            if self.0 < b.len() {
                return Err(io::Error::other("disk full"));
            }
            self.0 -= b.len();
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let s = net.add_host(Sender::new(A, B, 3), [addr(A)]);
    let k = net.add_host(Sink::default(), [addr(B)]);
    net.add_link(s, k, LinkConfig::default());
    net.capture_pcap(None, CapturePoint::Sent, FailsAfter(24))
        .unwrap();
    assert!(net.run_until_idle(Instant::from_secs(1)).is_idle());
    assert_eq!(net.host::<Sink>(k).unwrap().received.len(), 3);
    assert!(net.flush_captures().is_err());
}
