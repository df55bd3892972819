//! What the network tells its observers: one [`LinkEvent`] per packet sent, dropped,
//! duplicated or delivered, and an optional per-packet log of [`PacketRecord`]s
//! (send time, delivery time or drop reason, endpoints, bytes) that tools such as the
//! CLI's ladder diagram use to show which packets the network lost.

use synack_core::time::Instant;

use crate::link::DropReason;
use crate::network::{HostId, LinkId};

/// Identifies one packet copy handed to the network, in sending order (a duplicate gets
/// its own id when it is created). Ids start at 0 and are dense.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PacketId(pub u64);

/// What happened to a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkEventKind {
    /// A host sent the packet (`bytes` as sent).
    Sent,
    /// The network dropped it.
    Dropped(DropReason),
    /// The link created a duplicate; the event's packet is the new copy.
    Duplicated {
        /// The packet it copies.
        original: PacketId,
    },
    /// It reached its destination host (`bytes` as delivered, possibly corrupted).
    Delivered {
        /// When it was sent.
        sent_at: Instant,
    },
}

/// One event on the network, passed to every [`Observer`].
#[derive(Clone, Copy, Debug)]
pub struct LinkEvent<'a> {
    /// When it happened.
    pub time: Instant,
    /// Which packet.
    pub packet: PacketId,
    /// The sending host.
    pub from: HostId,
    /// The receiving host (`None` when unroutable).
    pub to: Option<HostId>,
    /// The link used (`None` when unroutable).
    pub link: Option<LinkId>,
    /// What happened.
    pub kind: LinkEventKind,
    /// The packet bytes.
    pub bytes: &'a [u8],
}

/// Receives every [`LinkEvent`]. Implemented for closures `FnMut(&LinkEvent)`.
pub trait Observer {
    /// Called once per event, in event order.
    fn on_event(&mut self, event: &LinkEvent<'_>);
}

impl<F: FnMut(&LinkEvent<'_>)> Observer for F {
    fn on_event(&mut self, event: &LinkEvent<'_>) {
        self(event)
    }
}

/// The outcome of a packet, as far as it is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// On its way; it will arrive at the given time.
    InFlight {
        /// Scheduled arrival time.
        arrives_at: Instant,
    },
    /// Delivered at the given time.
    Delivered {
        /// Arrival time.
        at: Instant,
    },
    /// Dropped by the network.
    Dropped(DropReason),
}

/// Everything known about one packet copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PacketRecord {
    /// The packet's id (its index in the log, counted from the log's first record).
    pub id: PacketId,
    /// The sending host.
    pub from: HostId,
    /// The receiving host (`None` when unroutable).
    pub to: Option<HostId>,
    /// The link used (`None` when unroutable).
    pub link: Option<LinkId>,
    /// When it was sent.
    pub sent_at: Instant,
    /// What became of it.
    pub fate: Fate,
    /// For a duplicate, the packet it copies.
    pub copy_of: Option<PacketId>,
    /// Whether the link delayed it to reorder it.
    pub reordered: bool,
    /// Whether the link flipped a bit in it.
    pub corrupted: bool,
    /// The bytes as sent (before any corruption).
    pub bytes: Vec<u8>,
}

impl PacketRecord {
    /// Arrival time if delivered.
    pub fn delivered_at(&self) -> Option<Instant> {
        match self.fate {
            Fate::Delivered { at } => Some(at),
            _ => None,
        }
    }

    /// Drop reason if dropped.
    pub fn drop_reason(&self) -> Option<DropReason> {
        match self.fate {
            Fate::Dropped(r) => Some(r),
            _ => None,
        }
    }
}

/// The per-packet log kept by a network once enabled.
#[derive(Clone, Debug, Default)]
pub struct PacketLog {
    first: u64,
    records: Vec<PacketRecord>,
}

impl PacketLog {
    /// An empty log whose first record will have id `first`.
    pub(crate) fn starting_at(first: PacketId) -> Self {
        PacketLog {
            first: first.0,
            records: Vec::new(),
        }
    }

    /// All records, in id order.
    pub fn records(&self) -> &[PacketRecord] {
        &self.records
    }

    /// The record of packet `id`, if logged.
    pub fn get(&self, id: PacketId) -> Option<&PacketRecord> {
        let idx = usize::try_from(id.0.checked_sub(self.first)?).ok()?;
        self.records.get(idx)
    }

    pub(crate) fn get_mut(&mut self, id: PacketId) -> Option<&mut PacketRecord> {
        let idx = usize::try_from(id.0.checked_sub(self.first)?).ok()?;
        self.records.get_mut(idx)
    }

    pub(crate) fn push(&mut self, record: PacketRecord) {
        self.records.push(record);
    }

    /// Records of packets the network dropped.
    pub fn dropped(&self) -> impl Iterator<Item = &PacketRecord> {
        self.records.iter().filter(|r| r.drop_reason().is_some())
    }

    /// Records of packets delivered.
    pub fn delivered(&self) -> impl Iterator<Item = &PacketRecord> {
        self.records.iter().filter(|r| r.delivered_at().is_some())
    }
}
