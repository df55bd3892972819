//! Toy hosts for the simulator's tests: a sender of numbered packets, an echo host and a
//! sink, exchanging minimal IPv4/IPv6 packets (protocol 253, "for experimentation",
//! RFC 3692) whose payload carries a sequence number and a checksum.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::IpAddr;

use synack_core::time::{Duration, Instant};
use synack_sim::Host;

/// Experimental IP protocol number (RFC 3692).
const PROTO: u8 = 253;

/// Offset of the payload in a packet from `src`.
fn ip_header_len(packet: &[u8]) -> usize {
    if packet[0] >> 4 == 4 {
        20
    } else {
        40
    }
}

/// Ones'-complement sum of `data` (RFC 1071), folded to 16 bits.
pub(crate) fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for chunk in data.chunks(2) {
        let word = u16::from_be_bytes([chunk[0], *chunk.get(1).unwrap_or(&0)]);
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// A packet of `size` bytes in total (at least header + 6) carrying `seq`.
pub(crate) fn build_packet(src: IpAddr, dst: IpAddr, seq: u32, size: usize) -> Vec<u8> {
    let hlen = if src.is_ipv4() { 20 } else { 40 };
    let size = size.max(hlen + 6);
    let mut p = vec![0u8; size];
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            p[0] = 0x45;
            p[2..4].copy_from_slice(&(size as u16).to_be_bytes());
            p[8] = 64;
            p[9] = PROTO;
            p[12..16].copy_from_slice(&s.octets());
            p[16..20].copy_from_slice(&d.octets());
            let c = checksum(&p[..20]);
            p[10..12].copy_from_slice(&c.to_be_bytes());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            p[0] = 0x60;
            p[4..6].copy_from_slice(&((size - 40) as u16).to_be_bytes());
            p[6] = PROTO;
            p[7] = 64;
            p[8..24].copy_from_slice(&s.octets());
            p[24..40].copy_from_slice(&d.octets());
        }
        _ => panic!("mixed address families"),
    }
    let payload = &mut p[hlen..];
    payload[..4].copy_from_slice(&seq.to_be_bytes());
    for (i, b) in payload[6..].iter_mut().enumerate() {
        *b = (i as u32).wrapping_add(seq) as u8;
    }
    let c = checksum(payload);
    payload[4..6].copy_from_slice(&c.to_be_bytes());
    p
}

/// The sequence number of `packet` if its payload checksum verifies.
pub(crate) fn verify(packet: &[u8]) -> Option<u32> {
    let payload = packet.get(ip_header_len(packet)..)?;
    if payload.len() < 6 || checksum(payload) != 0 {
        return None;
    }
    Some(u32::from_be_bytes(payload[..4].try_into().ok()?))
}

/// The sequence number field, checksum or not.
pub(crate) fn seq_of(packet: &[u8]) -> u32 {
    let h = ip_header_len(packet);
    u32::from_be_bytes(packet[h..h + 4].try_into().unwrap())
}

/// Sends `total` numbered packets to `dst`, one every `interval` from `start`, and
/// records the replies it gets.
pub(crate) struct Sender {
    pub(crate) src: IpAddr,
    pub(crate) dst: IpAddr,
    pub(crate) total: u32,
    pub(crate) size: usize,
    pub(crate) interval: Duration,
    next: u32,
    next_at: Instant,
    pub(crate) sent_at: Vec<Instant>,
    /// (arrival time, seq if valid).
    pub(crate) replies: Vec<(Instant, Option<u32>)>,
}

impl Sender {
    pub(crate) fn new(src: &str, dst: &str, total: u32) -> Self {
        Sender {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            total,
            size: 100,
            interval: Duration::ZERO,
            next: 0,
            next_at: Instant::ZERO,
            sent_at: Vec::new(),
            replies: Vec::new(),
        }
    }

    pub(crate) fn size(mut self, size: usize) -> Self {
        self.size = size;
        self
    }

    pub(crate) fn every(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    pub(crate) fn starting_at(mut self, start: Instant) -> Self {
        self.next_at = start;
        self
    }

    /// Queue `n` more packets from now on.
    pub(crate) fn send_more(&mut self, n: u32, now: Instant) {
        if self.next == self.total {
            self.next_at = now;
        }
        self.total += n;
    }
}

impl Host for Sender {
    fn handle_packet(&mut self, now: Instant, packet: &[u8]) {
        self.replies.push((now, verify(packet)));
    }
    fn handle_timeout(&mut self, _now: Instant) {}
    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        if self.next >= self.total || now < self.next_at {
            return None;
        }
        let p = build_packet(self.src, self.dst, self.next, self.size);
        buf[..p.len()].copy_from_slice(&p);
        self.next += 1;
        self.sent_at.push(now);
        self.next_at += self.interval;
        Some(p.len())
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        (self.next < self.total).then_some(self.next_at)
    }
    fn is_idle(&self) -> bool {
        self.next >= self.total
    }
}

/// Sends every packet back with source and destination swapped.
#[derive(Default)]
pub(crate) struct Echo {
    queue: VecDeque<Vec<u8>>,
    /// (arrival time, seq if valid).
    pub(crate) received: Vec<(Instant, Option<u32>)>,
}

impl Host for Echo {
    fn handle_packet(&mut self, now: Instant, packet: &[u8]) {
        self.received.push((now, verify(packet)));
        let mut p = packet.to_vec();
        let (s, d, n) = if p[0] >> 4 == 4 {
            (12, 16, 4)
        } else {
            (8, 24, 16)
        };
        let src: Vec<u8> = p[s..s + n].to_vec();
        p.copy_within(d..d + n, s);
        p[d..d + n].copy_from_slice(&src);
        self.queue.push_back(p);
    }
    fn handle_timeout(&mut self, _now: Instant) {}
    fn poll_transmit(&mut self, _now: Instant, buf: &mut [u8]) -> Option<usize> {
        let p = self.queue.pop_front()?;
        buf[..p.len()].copy_from_slice(&p);
        Some(p.len())
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        None
    }
    fn is_idle(&self) -> bool {
        self.queue.is_empty()
    }
}

/// Records what it receives.
#[derive(Default)]
pub(crate) struct Sink {
    /// (arrival time, seq if valid, bytes).
    pub(crate) received: Vec<(Instant, Option<u32>, Vec<u8>)>,
}

impl Sink {
    pub(crate) fn valid_seqs(&self) -> Vec<u32> {
        self.received.iter().filter_map(|r| r.1).collect()
    }
}

impl Host for Sink {
    fn handle_packet(&mut self, now: Instant, packet: &[u8]) {
        self.received.push((now, verify(packet), packet.to_vec()));
    }
    fn handle_timeout(&mut self, _now: Instant) {}
    fn poll_transmit(&mut self, _now: Instant, _buf: &mut [u8]) -> Option<usize> {
        None
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        None
    }
    fn is_idle(&self) -> bool {
        true
    }
}

pub(crate) fn addr(s: &str) -> IpAddr {
    s.parse().unwrap()
}

pub(crate) const A: &str = "10.0.0.1";
pub(crate) const B: &str = "10.0.0.2";
