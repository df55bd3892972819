//! Bugs the coverage-guided fuzzer found (fuzz/, crates/synack-fuzz), each held here
//! as a focused test beside the crashing input kept in fuzz/regressions/.

mod common;
use common::*;
use synack_core::{Config, Instant, Stack};

/// A connection from 10.0.0.2 to 10.0.0.1:443, ESTABLISHED; returns the stack, the
/// handle, and (our next sequence number, the ack the stack expects).
fn established(cfg: Config) -> (Stack, synack_core::ConnHandle, u32, u32) {
    let now = Instant::from_secs(1);
    let mut s = Stack::new(cfg, [7; 16]);
    s.add_address(ip("10.0.0.2"));
    let peer = addr("10.0.0.1:443");
    let h = s.connect(now, peer, None).unwrap();
    let syn = drain(&mut s, now).remove(0);
    let me = syn.src;
    let synack = tcp(SYN | ACK, 5000, syn.seq().wrapping_add(1), 65535);
    s.handle_packet(now, &packet(peer, me, synack, &[]));
    let ack = drain(&mut s, now).remove(0);
    assert_eq!(s.state(h), Some(synack_core::State::Established));
    (s, h, ack.ack(), ack.seq())
}

/// fuzz/regressions/engine/buffer-memory-bad-checksum: an in-order payload is copied
/// into the receive ring while its checksum is summed; when the sum failed, the ring
/// the copy allocated was never charged to the stack-wide budget, so a later write
/// could take the buffer memory past `Config::memory_limit`.
#[test]
fn bad_checksum_payload_is_charged() {
    let cfg = Config {
        memory_limit: 8 << 10,
        memory_pressure: 4 << 10,
        send_buffer: 6 << 10,
        recv_buffer: 6 << 10,
        ..quick_cfg()
    };
    let (mut s, h, seq, ack) = established(cfg);
    let (peer, me) = (s.peer_addr(h).unwrap(), s.local_addr(h).unwrap());
    let mut bad = packet(peer, me, tcp(ACK, seq, ack, 65535), &[0x61; 500]);
    let last = bad.len() - 1;
    bad[last] ^= 0x20;
    let now = Instant::from_secs(1);
    s.handle_packet(now, &bad);
    assert_eq!(s.stats().bad_checksum, 1);
    let held = s.info(h).unwrap().buffer_bytes;
    assert_eq!(s.buffer_memory(), held, "ring bytes not charged");
    let _ = s.send(h, &[0x5a; 8192]);
    assert!(
        s.buffer_memory() <= 8 << 10,
        "buffer memory {} above the 8 KiB limit",
        s.buffer_memory()
    );
    s.check_invariants().unwrap();
}
