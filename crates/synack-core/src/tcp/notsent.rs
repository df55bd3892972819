//! The unsent-data limit on writability (Linux `TCP_NOTSENT_LOWAT` and the
//! `tcp_notsent_lowat` sysctl): a connection reports itself writable only while
//! fewer than the limit's bytes sit in the send buffer beyond SND.NXT, so an
//! application that waits for writability keeps little queued data that the network
//! has not taken yet (RFC 9293 leaves the send buffer's use to the implementation).
//! The limit lives in the boxed rare state: few connections set it.

use super::Connection;
use crate::config::Config;
use alloc::boxed::Box;

impl Connection {
    /// Bytes queued and not yet sent (Linux `write_seq - snd_nxt`).
    pub(crate) fn unsent_bytes(&self) -> usize {
        // Before the SYN is acknowledged SND.NXT may sit below the first data byte.
        let sent = self.snd_nxt.diff(self.buf_seq).max(0) as usize;
        self.send.len().saturating_sub(sent)
    }

    /// The connection's own `TCP_NOTSENT_LOWAT`, 0 when unset.
    pub(crate) fn notsent_lowat(&self) -> u32 {
        self.rare.as_ref().map_or(0, |r| r.notsent_lowat)
    }

    /// Set (`Some`, a value of 0 meaning unset, as in Linux) or clear the
    /// connection's limit.
    pub(crate) fn set_notsent_lowat(&mut self, v: u32) {
        if v == 0 && self.rare.is_none() {
            return;
        }
        self.rare.get_or_insert_with(Box::default).notsent_lowat = v;
    }

    /// Writable: room in the send buffer and fewer unsent bytes than the limit in
    /// force (the connection's, else `cfg.notsent_lowat`; Linux `tcp_stream_memory_free`).
    pub(crate) fn writable(&self, cfg: &Config) -> bool {
        if self.send.free() == 0 {
            return false;
        }
        let lowat = match self.notsent_lowat() {
            0 => cfg.notsent_lowat,
            v => v,
        };
        (self.unsent_bytes() as u64) < u64::from(lowat)
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use crate::seq::Seq;
    use crate::tcp::{Connection, SocketOptions};
    use crate::time::Instant;

    #[test]
    fn the_connection_limit_overrides_the_stack_wide_one() {
        let cfg = Config {
            notsent_lowat: 100,
            ..Config::default()
        };
        let a = "10.0.0.1:1000".parse().expect("addr");
        let b = "10.0.0.2:2000".parse().expect("addr");
        let mut c = Connection::new(
            &cfg,
            SocketOptions::from_config(&cfg),
            a,
            b,
            Seq(1),
            Instant::ZERO,
        );
        c.send.set_capacity(10_000);
        assert_eq!(c.write(&[7u8; 150]), 150);
        assert_eq!(c.unsent_bytes(), 150);
        assert!(
            !c.writable(&cfg),
            "150 unsent is not below the sysctl's 100"
        );
        c.set_notsent_lowat(200);
        assert_eq!(c.notsent_lowat(), 200);
        assert!(c.writable(&cfg));
        c.set_notsent_lowat(0);
        assert!(!c.writable(&cfg), "0 unsets it: the sysctl applies again");
        let unlimited = Config::default();
        assert!(c.writable(&unlimited));
    }
}
