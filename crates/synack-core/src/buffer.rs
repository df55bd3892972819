//! Send and receive byte buffers. Both are rings that allocate on demand (the first
//! write) and free their memory when drained, so an idle connection holds none.
//! The receive buffer also reassembles out-of-order data and reports SACK blocks.

/// Send buffer: bytes written by the application and not yet acknowledged.
/// Offset 0 is the oldest unacknowledged byte (SND.UNA).
#[derive(Debug, Default)]
pub struct SendBuffer {
    _todo: (),
}

impl SendBuffer {
    /// A buffer that may hold up to `capacity` bytes; allocates nothing yet.
    pub fn new(capacity: usize) -> SendBuffer {
        let _ = capacity;
        todo!("SendBuffer::new")
    }
    /// Maximum bytes held.
    pub fn capacity(&self) -> usize {
        todo!()
    }
    /// Change the capacity (never below the bytes held).
    pub fn set_capacity(&mut self, capacity: usize) {
        let _ = capacity;
        todo!()
    }
    /// Bytes held.
    pub fn len(&self) -> usize {
        todo!()
    }
    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Room left.
    pub fn free(&self) -> usize {
        self.capacity() - self.len()
    }
    /// Append as much of `data` as fits; returns the count appended.
    pub fn write(&mut self, data: &[u8]) -> usize {
        let _ = data;
        todo!()
    }
    /// Copy bytes starting `offset` bytes after the front into `out`; returns the count.
    pub fn read_at(&self, offset: usize, out: &mut [u8]) -> usize {
        let _ = (offset, out);
        todo!()
    }
    /// Drop `n` bytes from the front (they were acknowledged). Frees memory when empty.
    pub fn consume(&mut self, n: usize) {
        let _ = n;
        todo!()
    }
    /// Heap bytes currently allocated.
    pub fn allocated(&self) -> usize {
        todo!()
    }
}

/// Receive buffer with reassembly. Offset 0 is RCV.NXT: the next in-order byte.
#[derive(Debug, Default)]
pub struct RecvBuffer {
    _todo: (),
}

impl RecvBuffer {
    /// A buffer that may hold up to `capacity` bytes; allocates nothing yet.
    pub fn new(capacity: usize) -> RecvBuffer {
        let _ = capacity;
        todo!("RecvBuffer::new")
    }
    /// Maximum bytes held (readable + out-of-order).
    pub fn capacity(&self) -> usize {
        todo!()
    }
    /// Change the capacity (never below what is held).
    pub fn set_capacity(&mut self, capacity: usize) {
        let _ = capacity;
        todo!()
    }
    /// In-order bytes ready for the application.
    pub fn len(&self) -> usize {
        todo!()
    }
    /// True when no in-order bytes are ready.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The receive window: capacity minus readable bytes (out-of-order data lies inside it).
    pub fn window(&self) -> usize {
        todo!()
    }
    /// Store `data` whose first byte is `offset` bytes past RCV.NXT. Bytes beyond the
    /// window are cut off; bytes already held are ignored. Returns how many bytes became
    /// newly readable in order (how far RCV.NXT advances). At most 32 separate
    /// out-of-order ranges are kept; a write that would need more is dropped (returns 0).
    pub fn write_at(&mut self, offset: usize, data: &[u8]) -> usize {
        let _ = (offset, data);
        todo!()
    }
    /// Copy readable bytes into `out`, removing them; returns the count. Frees memory when
    /// nothing (readable or out-of-order) is held.
    pub fn read(&mut self, out: &mut [u8]) -> usize {
        let _ = out;
        todo!()
    }
    /// Out-of-order ranges held, as `(start, end)` offsets past RCV.NXT, the range that
    /// contains the most recent write first (RFC 2018 §4), then the others, most recent
    /// first. At most `max` ranges.
    pub fn sack_ranges(&self, max: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
        let _ = max;
        core::iter::empty()
    }
    /// True when out-of-order data is held.
    pub fn has_out_of_order(&self) -> bool {
        todo!()
    }
    /// Heap bytes currently allocated.
    pub fn allocated(&self) -> usize {
        todo!()
    }
}
