//! Packet capture: where captured packets go ([`CapturePoint`] says whether a tap sees
//! packets as sent or as delivered), an in-memory sink, and a pcap writer and reader for
//! raw-IP captures (linktype 101, `DataLink::RAW`) timestamped with virtual time, which
//! Wireshark and tshark open directly.

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::rc::Rc;

use pcap_file::pcap::{PcapHeader, PcapPacket, PcapReader, PcapWriter};
use pcap_file::{DataLink, Endianness, TsResolution};
use synack_core::time::{Duration, Instant};

/// Largest packet a capture stores in full; longer ones are truncated (with their
/// original length kept in the pcap record).
pub const SNAPLEN: u32 = 262_144;

/// A captured packet: virtual timestamp and bytes.
pub type CapturedPacket = (Instant, Vec<u8>);

/// Where on a link a tap looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CapturePoint {
    /// Every packet handed to the link, at its send time, as sent (before loss,
    /// corruption or duplication). This is what a capture at the sender's interface sees.
    Sent,
    /// Every copy that reaches the far end, at its arrival time, as delivered
    /// (duplicates twice, corrupted bytes as corrupted).
    Delivered,
}

fn to_io(e: pcap_file::PcapError) -> io::Error {
    match e {
        pcap_file::PcapError::IoError(e) => e,
        other => io::Error::new(io::ErrorKind::InvalidData, other.to_string()),
    }
}

fn header() -> PcapHeader {
    PcapHeader {
        version_major: 2,
        version_minor: 4,
        ts_correction: 0,
        ts_accuracy: 0,
        snaplen: SNAPLEN,
        datalink: DataLink::RAW,
        ts_resolution: TsResolution::MicroSecond,
        endianness: Endianness::Little,
    }
}

/// The writer under a [`PcapSink`], shared so the sink can flush it while the pcap
/// writer owns it (pcap-file 2 gives no mutable access to its inner writer).
#[derive(Clone)]
struct SharedWriter(Rc<RefCell<Box<dyn Write>>>);

impl Write for SharedWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.borrow_mut().flush()
    }
}

/// Streams packets into a pcap file (microsecond timestamps, little-endian, raw IP).
pub struct PcapSink {
    writer: PcapWriter<SharedWriter>,
    inner: SharedWriter,
    error: Option<io::Error>,
    written: u64,
}

impl std::fmt::Debug for PcapSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcapSink")
            .field("written", &self.written)
            .field("error", &self.error)
            .finish()
    }
}

impl PcapSink {
    /// Writes the pcap global header to `writer`.
    pub fn new(writer: impl Write + 'static) -> io::Result<Self> {
        let inner = SharedWriter(Rc::new(RefCell::new(Box::new(writer))));
        let writer = PcapWriter::with_header(inner.clone(), header()).map_err(to_io)?;
        Ok(PcapSink {
            writer,
            inner,
            error: None,
            written: 0,
        })
    }

    /// Appends one packet. After a write error the sink stops writing and keeps the
    /// first error for [`flush`](Self::flush).
    pub fn write(&mut self, time: Instant, packet: &[u8]) {
        if self.error.is_some() {
            return;
        }
        if let Err(e) = self.writer.write_packet(&record(time, packet)) {
            self.error = Some(to_io(e));
        } else {
            self.written += 1;
        }
    }

    /// Packets written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Flushes the underlying writer; returns the first error met while writing, if
    /// any (the sink then stays stopped).
    pub fn flush(&mut self) -> io::Result<()> {
        if let Some(e) = &self.error {
            return Err(io::Error::new(e.kind(), e.to_string()));
        }
        self.inner.flush()
    }
}

fn record(time: Instant, packet: &[u8]) -> PcapPacket<'_> {
    let keep = packet.len().min(SNAPLEN as usize);
    let orig_len = u32::try_from(packet.len()).unwrap_or(u32::MAX);
    PcapPacket::new(
        Duration::from_micros(time.total_micros()),
        orig_len,
        &packet[..keep],
    )
}

/// Writes `packets` as a complete pcap file into `writer` and returns the writer.
pub fn write_pcap<W: Write>(writer: W, packets: &[CapturedPacket]) -> io::Result<W> {
    let mut w = PcapWriter::with_header(writer, header()).map_err(to_io)?;
    for (time, bytes) in packets {
        w.write_packet(&record(*time, bytes)).map_err(to_io)?;
    }
    let mut inner = w.into_writer();
    inner.flush()?;
    Ok(inner)
}

/// Reads a pcap file back into `(timestamp, bytes)` pairs (timestamps truncated to
/// microseconds). Any pcap linktype is accepted; the bytes are returned as stored.
pub fn read_pcap<R: Read>(reader: R) -> io::Result<Vec<CapturedPacket>> {
    let mut r = PcapReader::new(reader).map_err(to_io)?;
    let mut out = Vec::new();
    while let Some(pkt) = r.next_packet() {
        let pkt = pkt.map_err(to_io)?;
        let micros = u64::try_from(pkt.timestamp.as_micros()).unwrap_or(u64::MAX);
        out.push((Instant::from_micros(micros), pkt.data.into_owned()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_in_memory() {
        let pkts = vec![
            (Instant::from_micros(1), vec![0x45, 1, 2, 3]),
            (Instant::from_micros(2_500_123), vec![0x60; 48]),
        ];
        let bytes = write_pcap(Vec::new(), &pkts).unwrap();
        // Global header: magic (LE microsecond), linktype 101 at offset 20.
        assert_eq!(&bytes[..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
        assert_eq!(u32::from_le_bytes(bytes[20..24].try_into().unwrap()), 101);
        assert_eq!(read_pcap(&bytes[..]).unwrap(), pkts);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(read_pcap(&b"not a pcap file at all"[..]).is_err());
        assert!(read_pcap(&[][..]).is_err());
    }
}
