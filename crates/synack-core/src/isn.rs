//! Initial sequence numbers per RFC 6528 §3: ISN = M + F(localip, localport, remoteip,
//! remoteport, secretkey), M a 4-microsecond timer, F a keyed hash (SipHash-2-4). The
//! key is injected; the engine owns no RNG.

use crate::seq::Seq;
use crate::time::Instant;
use core::net::SocketAddr;

/// Generates ISNs from a secret key and the current time.
#[derive(Debug, Clone)]
pub struct IsnGenerator {
    _todo: (),
}

impl IsnGenerator {
    /// A generator keyed with `key`.
    pub fn new(key: [u8; 16]) -> IsnGenerator {
        let _ = key;
        todo!("IsnGenerator::new")
    }
    /// The ISN for a connection between `local` and `remote` at `now`.
    pub fn isn(&self, now: Instant, local: SocketAddr, remote: SocketAddr) -> Seq {
        let _ = (now, local, remote);
        todo!()
    }
}
