//! Ephemeral port selection per RFC 6056 §3.3.3 (Algorithm 3, simple hash-based):
//! port = min + (next_ephemeral + F(local ip, remote ip, remote port, key)) mod num,
//! trying successive ports while the caller says one is in use.

use core::net::{IpAddr, SocketAddr};
use core::ops::RangeInclusive;

/// Chooses ephemeral ports.
#[derive(Debug, Clone)]
pub struct PortAllocator {
    _todo: (),
}

impl PortAllocator {
    /// An allocator over `range` keyed with `key`.
    pub fn new(range: RangeInclusive<u16>, key: [u8; 16]) -> PortAllocator {
        let _ = (range, key);
        todo!("PortAllocator::new")
    }
    /// Pick a port for a connection from `local_ip` to `remote`; `in_use(port)` tells
    /// whether a candidate is taken. `None` when every port in the range is taken.
    pub fn allocate(
        &mut self,
        local_ip: IpAddr,
        remote: SocketAddr,
        in_use: impl FnMut(u16) -> bool,
    ) -> Option<u16> {
        let _ = (local_ip, remote, in_use);
        todo!()
    }
}
