//! The unsent-data limit on writability (Linux `TCP_NOTSENT_LOWAT` and the
//! `tcp_notsent_lowat` sysctl): a connection reports itself writable only while
//! fewer than the limit's bytes sit in the send buffer beyond SND.NXT, so an
//! application that waits for writability keeps little queued data that the network
//! has not taken yet (RFC 9293 leaves the send buffer's use to the implementation).
//! The limit lives in the boxed rare state: few connections set it.
//!
//! The limit also bounds what a write takes, with Linux's granularity
//! (`tcp_sendmsg_locked` checks `sk_stream_memory_free`, and so
//! `tcp_stream_memory_free`, only before it starts a new buffer, sized by
//! `tcp_xmit_size_goal`): a write first fills the unsent tail chunk (the data
//! written since the last chunk began, past SND.NXT) up to the size goal, and starts
//! a new chunk only while fewer unsent bytes than the limit are queued. So with a
//! 4000-byte limit, a 16,000-byte size goal and ten segments sent while the first
//! chunk filled, a 59,000-byte non-blocking write takes 26,000 bytes, as on Linux
//! (upstream's `notsent_lowat/` scripts). The chunk is only an account of bytes: the
//! send buffer stays one ring. Without a limit, a write takes what the buffer has
//! room for.

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

    /// The limit in force: the connection's, else `cfg.notsent_lowat`.
    fn notsent_limit(&self, cfg: &Config) -> u32 {
        match self.notsent_lowat() {
            0 => cfg.notsent_lowat,
            v => v,
        }
    }

    /// How many of the bytes a write offers it may take now under the unsent-data
    /// limit (see the module documentation), `None` when no limit is in force. A new
    /// chunk is recorded as begun at the current end of the queue.
    pub(crate) fn notsent_write_room(&mut self, cfg: &Config) -> Option<usize> {
        let lowat = self.notsent_limit(cfg);
        if lowat == u32::MAX {
            return None;
        }
        let mss = usize::from(self.mss)
            .saturating_sub(if self.ts_ok { 12 } else { 0 })
            .max(1);
        let goal = self.xmit_size_goal(cfg, mss);
        let end = self.buf_seq + self.send.len() as u32;
        let tail_start = match self.rare.as_ref().and_then(|r| r.notsent_chunk) {
            Some(c) if c > self.snd_nxt => c,
            Some(_) => self.snd_nxt,
            None => end,
        };
        let tail = end.diff(tail_start).max(0) as usize;
        if tail > 0 && tail < goal {
            return Some(goal - tail);
        }
        if self.unsent_bytes() as u64 >= u64::from(lowat) {
            return Some(0);
        }
        self.rare.get_or_insert_with(Box::default).notsent_chunk = Some(end);
        Some(goal)
    }

    /// Writable: room in the send buffer and fewer unsent bytes than the limit in
    /// force (the connection's, else `cfg.notsent_lowat`; Linux `tcp_stream_memory_free`).
    pub(crate) fn writable(&self, cfg: &Config) -> bool {
        if self.send.free() == 0 {
            return false;
        }
        let lowat = self.notsent_limit(cfg);
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
