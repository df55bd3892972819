//! A fast keyed hasher for the demux tables, and the connection demux table itself
//! ([`Demux`]). The key comes from the injected secret so a remote peer cannot aim many
//! 4-tuples at one bucket without knowing it.

use core::hash::{BuildHasher, Hasher};
use core::net::{IpAddr, SocketAddr};

/// The engine's hash map: hashbrown's (the table std's own `HashMap` is built on,
/// usable without std), with a keyed [`TupleHashBuilder`] unless told otherwise.
pub(crate) type HashMap<K, V, S = TupleHashBuilder> = hashbrown::HashMap<K, V, S>;

/// Builds [`TupleHasher`]s sharing one key.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TupleHashBuilder {
    key: u64,
}

impl TupleHashBuilder {
    pub(crate) fn new(key: u64) -> TupleHashBuilder {
        TupleHashBuilder { key }
    }
}

impl BuildHasher for TupleHashBuilder {
    type Hasher = TupleHasher;
    fn build_hasher(&self) -> TupleHasher {
        TupleHasher { h: self.key }
    }
}

/// Multiply-rotate mixing of 64-bit words, finished with a strong avalanche.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TupleHasher {
    h: u64,
}

const K: u64 = 0x9E37_79B9_7F4A_7C15;

impl TupleHasher {
    #[inline]
    fn mix(&mut self, w: u64) {
        self.h = (self.h.rotate_left(5) ^ w).wrapping_mul(K);
    }
}

impl Hasher for TupleHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.mix(u64::from_le_bytes(c.try_into().unwrap_or([0; 8])));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(b));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.mix(u64::from(i));
    }
    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.mix(u64::from(i));
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.mix(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.mix(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.mix(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        let mut x = self.h;
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        x
    }
}

/// An IPv4 4-tuple packed in 12 bytes: local address, remote address, then the two
/// ports. A demux entry with its value takes 16 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct V4Key([u32; 3]);

impl core::hash::Hash for V4Key {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(u64::from(self.0[0]) << 32 | u64::from(self.0[1]));
        state.write_u32(self.0[2]);
    }
}

/// The demultiplexing table: a connection's (local, remote) ends to a value, in
/// O(1). IPv4 tuples are packed into a small key (the common case, and what 100,000
/// TIME-WAIT entries are made of); anything else is keyed by the ends themselves.
/// The same keyed hasher serves both, so a peer cannot aim at one bucket.
#[derive(Debug)]
pub(crate) struct Demux<V> {
    v4: HashMap<V4Key, V, TupleHashBuilder>,
    other: HashMap<(SocketAddr, SocketAddr), V, TupleHashBuilder>,
}

fn v4_key(t: &(SocketAddr, SocketAddr)) -> Option<V4Key> {
    match t {
        (SocketAddr::V4(l), SocketAddr::V4(r)) => Some(V4Key([
            u32::from(*l.ip()),
            u32::from(*r.ip()),
            u32::from(l.port()) << 16 | u32::from(r.port()),
        ])),
        _ => None,
    }
}

impl<V> Demux<V> {
    /// An empty table hashing with `key`.
    pub(crate) fn new(key: u64) -> Demux<V> {
        Demux {
            v4: HashMap::with_hasher(TupleHashBuilder::new(key)),
            other: HashMap::with_hasher(TupleHashBuilder::new(key.rotate_left(29))),
        }
    }

    /// The value stored for tuple `t`.
    #[inline]
    pub(crate) fn get(&self, t: &(SocketAddr, SocketAddr)) -> Option<&V> {
        match v4_key(t) {
            Some(k) => self.v4.get(&k),
            None => self.other.get(t),
        }
    }

    /// The value stored for the tuple of a segment from `remote_ip:remote_port` to
    /// `local_ip:local_port` (without building `SocketAddr`s first: the per-packet path).
    #[inline]
    pub(crate) fn lookup(
        &self,
        local_ip: IpAddr,
        local_port: u16,
        remote_ip: IpAddr,
        remote_port: u16,
    ) -> Option<V>
    where
        V: Copy,
    {
        match (local_ip, remote_ip) {
            (IpAddr::V4(l), IpAddr::V4(r)) => self
                .v4
                .get(&V4Key([
                    u32::from(l),
                    u32::from(r),
                    u32::from(local_port) << 16 | u32::from(remote_port),
                ]))
                .copied(),
            _ => self
                .other
                .get(&(
                    SocketAddr::new(local_ip, local_port),
                    SocketAddr::new(remote_ip, remote_port),
                ))
                .copied(),
        }
    }

    /// True when `t` has a value.
    #[inline]
    pub(crate) fn contains_key(&self, t: &(SocketAddr, SocketAddr)) -> bool {
        self.get(t).is_some()
    }

    /// Store `v` for `t`, returning the value it replaces.
    pub(crate) fn insert(&mut self, t: (SocketAddr, SocketAddr), v: V) -> Option<V> {
        match v4_key(&t) {
            Some(k) => self.v4.insert(k, v),
            None => self.other.insert(t, v),
        }
    }

    /// Remove `t`, returning its value.
    pub(crate) fn remove(&mut self, t: &(SocketAddr, SocketAddr)) -> Option<V> {
        match v4_key(t) {
            Some(k) => self.v4.remove(&k),
            None => self.other.remove(t),
        }
    }

    /// Number of entries.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.v4.len() + self.other.len()
    }

    /// True when no entry is held.
    pub(crate) fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.other.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ends(a: &str, b: &str) -> (SocketAddr, SocketAddr) {
        (a.parse().unwrap(), b.parse().unwrap())
    }

    #[test]
    fn demux_keeps_tuples_apart() {
        let mut d = Demux::new(42);
        let t1 = ends("10.0.0.1:1000", "10.0.0.2:80");
        let t2 = ends("10.0.0.2:80", "10.0.0.1:1000");
        let t3 = ends("10.0.0.1:1000", "10.0.0.2:81");
        let t4 = ends("[fd00::1]:1000", "[fd00::2]:80");
        let t5 = ends("[::ffff:10.0.0.1]:1000", "[::ffff:10.0.0.2]:80");
        assert_eq!(d.insert(t1, 1), None);
        assert_eq!(d.insert(t2, 2), None);
        assert_eq!(d.insert(t4, 4), None);
        assert_eq!(d.insert(t5, 5), None);
        assert_eq!(d.get(&t1), Some(&1));
        assert_eq!(d.get(&t2), Some(&2));
        assert_eq!(d.get(&t3), None);
        assert_eq!(d.get(&t4), Some(&4));
        assert_eq!(d.get(&t5), Some(&5));
        for (t, v) in [
            (t1, Some(1)),
            (t2, Some(2)),
            (t3, None),
            (t4, Some(4)),
            (t5, Some(5)),
        ] {
            assert_eq!(d.lookup(t.0.ip(), t.0.port(), t.1.ip(), t.1.port()), v);
        }
        assert_eq!(d.len(), 4);
        assert_eq!(d.insert(t1, 10), Some(1));
        assert_eq!(d.remove(&t1), Some(10));
        assert!(!d.contains_key(&t1));
        assert!(d.contains_key(&t2));
        assert_eq!(d.remove(&t4), Some(4));
        assert_eq!(d.len(), 2);
    }

    #[test]
    fn hasher_depends_on_key_and_input() {
        let b1 = TupleHashBuilder::new(1);
        let b2 = TupleHashBuilder::new(2);
        let k = V4Key([1, 2, 3]);
        assert_ne!(b1.hash_one(k), b2.hash_one(k));
        assert_ne!(b1.hash_one(k), b1.hash_one(V4Key([2, 1, 3])));
        assert_ne!(b1.hash_one(k), b1.hash_one(V4Key([1, 2, 4])));
    }
}
