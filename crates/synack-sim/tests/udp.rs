//! UDP between two synack stacks in the simulator (issue 15): a client sends numbered
//! datagrams, paced one per millisecond, to an echo server; over a clean link every
//! one comes back in order, over an impaired link (loss, duplication, reordering,
//! corruption) every datagram that comes back is one that was sent, intact, and each
//! loss or corruption is accounted for by the link's and the stacks' counters.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use synack_core::time::{Duration, Instant};
use synack_core::{Config, Stack, UdpHandle};
use synack_sim::{App, HostId, LinkConfig, Network, StackHost};

const CLIENT: &str = "10.0.0.1";
const SERVER: &str = "10.0.0.2";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The payload of datagram `i`: its number, then bytes that depend on it.
fn payload(i: u32) -> Vec<u8> {
    let mut p = i.to_be_bytes().to_vec();
    p.extend((0..(i % 900)).map(|k| (k as u8).wrapping_mul(31).wrapping_add(i as u8)));
    p
}

/// Sends `n` datagrams, one per `every`, and records what comes back.
struct Client {
    sock: Option<UdpHandle>,
    n: u32,
    sent: u32,
    every: Duration,
    next: Instant,
    /// Echoes received, by number, and how many times.
    back: BTreeMap<u32, u32>,
    order: Vec<u32>,
    corrupt: u32,
}

impl App for Client {
    fn poll(&mut self, stack: &mut Stack, now: Instant) {
        let h = *self.sock.get_or_insert_with(|| {
            let h = stack.udp_bind(SocketAddr::new(ip(CLIENT), 0)).unwrap();
            stack
                .udp_connect(h, SocketAddr::new(ip(SERVER), 7))
                .unwrap();
            h
        });
        while self.sent < self.n && now >= self.next {
            stack.udp_send(h, &payload(self.sent)).unwrap();
            self.sent += 1;
            self.next += self.every;
        }
        while let Ok(d) = stack.udp_recv_datagram(h) {
            let i = u32::from_be_bytes(d.payload[..4].try_into().unwrap());
            if d.payload != payload(i) {
                self.corrupt += 1;
            }
            *self.back.entry(i).or_default() += 1;
            self.order.push(i);
        }
        while stack.poll_udp_event().is_some() {}
    }

    fn poll_timeout(&self) -> Option<Instant> {
        (self.sent < self.n).then_some(self.next)
    }

    fn is_done(&self) -> bool {
        self.sent == self.n
    }
}

/// Echoes every datagram to its sender.
#[derive(Default)]
struct Server {
    sock: Option<UdpHandle>,
}

impl App for Server {
    fn poll(&mut self, stack: &mut Stack, _now: Instant) {
        let h = *self
            .sock
            .get_or_insert_with(|| stack.udp_bind(SocketAddr::new(ip(SERVER), 7)).unwrap());
        while let Ok(d) = stack.udp_recv_datagram(h) {
            stack.udp_send_to(h, &d.payload, d.src).unwrap();
        }
        while stack.poll_udp_event().is_some() {}
    }
}

fn run(seed: u64, n: u32, link: LinkConfig) -> (Network, HostId, HostId) {
    let mut net = Network::new(seed);
    let mut a = Stack::new(Config::default(), [1; 16]);
    a.add_address(ip(CLIENT));
    let mut b = Stack::new(Config::default(), [2; 16]);
    b.add_address(ip(SERVER));
    let client = Client {
        sock: None,
        n,
        sent: 0,
        every: Duration::from_millis(1),
        next: Instant::ZERO,
        back: BTreeMap::new(),
        order: Vec::new(),
        corrupt: 0,
    };
    let c = net.add_host(StackHost::new(a, client), [ip(CLIENT)]);
    let s = net.add_host(StackHost::new(b, Server::default()), [ip(SERVER)]);
    net.add_link(c, s, link);
    assert!(net.run_until_idle(Instant::from_secs(600)).is_idle());
    (net, c, s)
}

#[test]
fn clean_link_echoes_every_datagram_in_order() {
    let n = 2000;
    let (mut net, c, _) = run(1, n, LinkConfig::with_latency(Duration::from_millis(5)));
    let host = net.host_mut::<StackHost<Client>>(c).unwrap();
    assert_eq!(host.app.order, (0..n).collect::<Vec<_>>());
    assert_eq!(host.app.corrupt, 0);
}

#[test]
fn impaired_link_returns_only_intact_datagrams_that_were_sent() {
    let n = 2000;
    for seed in 1..=5u64 {
        let link = LinkConfig::with_latency(Duration::from_millis(5))
            .loss(0.05)
            .duplicate(0.02)
            .reorder(0.05, Duration::from_millis(3))
            .corrupt(0.02);
        let (mut net, c, s) = run(seed, n, link);
        let server_stats = net.host_mut::<StackHost<Server>>(s).unwrap().stack.stats();
        let host = net.host_mut::<StackHost<Client>>(c).unwrap();
        let client_stats = host.stack.stats();
        let app = &host.app;
        assert_eq!(
            app.corrupt, 0,
            "seed {seed}: corruption is caught by checksums"
        );
        assert!(app.back.keys().all(|&i| i < n), "seed {seed}");
        // Each direction loses about 5 % and corrupts about 2 %: most come back.
        let distinct = app.back.len() as f64;
        assert!(
            distinct > 0.8 * f64::from(n),
            "seed {seed}: {distinct} of {n} came back"
        );
        assert!(
            distinct < f64::from(n),
            "seed {seed}: some must be lost at 5 %"
        );
        // Duplicates come back as duplicates; reordering shows in the order.
        assert!(
            app.back.values().any(|&k| k > 1),
            "seed {seed}: duplicates seen"
        );
        assert!(
            app.order.windows(2).any(|w| w[1] < w[0]),
            "seed {seed}: reordering seen"
        );
        // Damaged packets were dropped and counted by the stacks, not delivered.
        let dropped = server_stats.bad_checksum
            + server_stats.malformed
            + client_stats.bad_checksum
            + client_stats.malformed;
        assert!(dropped > 0, "seed {seed}: corrupted packets were counted");
        assert_eq!(server_stats.udp.datagrams_out, server_stats.udp.delivered);
    }
}
