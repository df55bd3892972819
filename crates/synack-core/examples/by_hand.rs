//! The sans-IO engine driven by hand: two `Stack`s, a client and a server, joined by
//! nothing but this loop, which moves each packet one `poll_transmit` produces into
//! the other stack's `handle_packet`, keeps the clock (1 ms per turn: the engine never
//! reads one) and reacts to the events. The client says "hello", the server answers
//! in capitals, the client closes, and both ends' states are printed as they change.
//!
//! ```text
//! cargo run -p synack-core --example by_hand
//! ```

use synack_core::{Config, Duration, Event, Instant, Stack};

fn main() {
    let mut client = Stack::new(Config::default(), [1; 16]);
    let mut server = Stack::new(Config::default(), [2; 16]);
    client.add_address("10.0.0.1".parse().unwrap());
    server.add_address("10.0.0.2".parse().unwrap());
    let listener = server.listen("10.0.0.2:7".parse().unwrap(), 0).unwrap();

    let mut now = Instant::from_millis(0);
    let c = client
        .connect(now, "10.0.0.2:7".parse().unwrap(), None)
        .unwrap();
    let mut s = None;
    let mut buf = vec![0u8; client.max_packet_size().max(server.max_packet_size())];
    let mut shown = (None, None);
    let mut answer = Vec::new();
    for _turn in 0..10_000 {
        // 1. Each stack's output becomes the other's input (a perfect wire).
        let mut moved = 0;
        while let Some(t) = client.poll_transmit(now, &mut buf) {
            server.handle_packet(now, &buf[..t.len]);
            moved += 1;
        }
        while let Some(t) = server.poll_transmit(now, &mut buf) {
            client.handle_packet(now, &buf[..t.len]);
            moved += 1;
        }
        // 2. Events: what the application hears.
        while let Some(ev) = server.poll_event() {
            match ev {
                Event::Incoming(_) => s = server.accept(listener),
                Event::Readable(h) => {
                    let mut b = [0u8; 64];
                    if let Ok(n) = server.recv(h, &mut b) {
                        if n > 0 {
                            server.send(h, &b[..n].to_ascii_uppercase()).unwrap();
                        } else {
                            server.close(now, h); // the client's FIN: close too
                        }
                    }
                }
                _ => {}
            }
        }
        while let Some(ev) = client.poll_event() {
            match ev {
                Event::Connected(h) => {
                    client.send(h, b"hello").unwrap();
                }
                Event::Readable(h) => {
                    let mut b = [0u8; 64];
                    if let Ok(n) = client.recv(h, &mut b) {
                        answer.extend_from_slice(&b[..n]);
                        if answer.len() == 5 {
                            client.close(now, h);
                        }
                    }
                }
                _ => {}
            }
        }
        // 3. States, printed when they change.
        let states = (client.state(c), s.and_then(|h| server.state(h)));
        if states != shown {
            println!(
                "{:>6} ms  client {:<12} server {}",
                now.total_micros() / 1000,
                states.0.map_or("-".into(), |x| format!("{x:?}")),
                states.1.map_or("-".into(), |x| format!("{x:?}"))
            );
            shown = states;
        }
        if answer.len() == 5 && s.is_some() && states.1.is_none() && moved == 0 {
            // The server's side is gone (LAST-ACK -> CLOSED); the client waits out
            // TIME-WAIT (2*MSL), which this example does not sit through.
            break;
        }
        // 4. The clock: 1 ms per turn; timers fire through handle_timeout.
        now += Duration::from_millis(1);
        for st in [&mut client, &mut server] {
            if st.poll_timeout().is_some_and(|t| t <= now) {
                st.handle_timeout(now);
            }
        }
    }
    println!("client read {:?}", String::from_utf8_lossy(&answer));
    assert_eq!(answer, b"HELLO");
}
