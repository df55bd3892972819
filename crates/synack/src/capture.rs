//! Packet capture: every IP packet that crosses the device, in and out, written as a
//! pcap file with the raw-IP link type (LINKTYPE_RAW, 101) that Wireshark and tshark
//! read. Timestamps are wall-clock time.

use crate::device::PacketBatch;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::{DataLink, Endianness, TsResolution};
use std::io::{self, BufWriter, Write};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Largest packet recorded whole (a 64 KiB super-segment plus headers).
const SNAPLEN: u32 = 262_144;

/// A buffered sink that the driver writes through `PcapWriter` and that
/// [`Capture::flush`] can still reach (the pcap writer offers no `get_mut`).
#[derive(Clone)]
struct SharedSink(Arc<Mutex<BufWriter<Box<dyn Write + Send>>>>);

impl Write for SharedSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .flush()
    }
}

/// A pcap capture in progress.
pub(crate) struct Capture {
    writer: PcapWriter<SharedSink>,
    sink: SharedSink,
    failed: bool,
}

impl Capture {
    /// Start a capture into `out` (the pcap file header is written at once).
    pub(crate) fn new(out: Box<dyn Write + Send>) -> io::Result<Capture> {
        let sink = SharedSink(Arc::new(Mutex::new(BufWriter::with_capacity(1 << 16, out))));
        let header = PcapHeader {
            snaplen: SNAPLEN,
            datalink: DataLink::RAW,
            ts_resolution: TsResolution::MicroSecond,
            endianness: Endianness::native(),
            ..PcapHeader::default()
        };
        let writer = PcapWriter::with_header(sink.clone(), header).map_err(io::Error::other)?;
        Ok(Capture {
            writer,
            sink,
            failed: false,
        })
    }

    /// Record every packet of `batch`. A write error stops the capture (logged once);
    /// it never stops the stack.
    pub(crate) fn record(&mut self, batch: &PacketBatch) {
        if self.failed || batch.is_empty() {
            return;
        }
        let ts = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        for p in batch.iter() {
            let keep = p.len().min(SNAPLEN as usize);
            let pkt = PcapPacket::new(ts, p.len() as u32, &p[..keep]);
            if let Err(e) = self.writer.write_packet(&pkt) {
                tracing::warn!("pcap capture stopped: {e}");
                self.failed = true;
                return;
            }
        }
    }

    /// Push buffered records to the underlying writer.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        self.sink.flush()
    }
}
