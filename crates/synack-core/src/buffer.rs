//! Send and receive byte buffers. Both are rings that allocate on demand (the first
//! write) and free their memory when drained, so an idle connection holds none.
//! The receive buffer also reassembles out-of-order data and reports SACK blocks.
//!
//! Storage starts at `min(capacity, 1 KiB)` and doubles (keeping ring order) up to the
//! capacity as more bytes are held. Every copy in or out is at most two
//! `copy_from_slice` calls (the ring may wrap once).

use core::fmt;

/// First allocation size (or the capacity, if smaller). Small enough for the
/// allocator's fast per-thread cache, so a short request/response costs little; a
/// bulk transfer grows past it once and then reuses the size it reached (`hint`).
const INITIAL_ALLOC: usize = 1024;

/// Most out-of-order ranges a [`RecvBuffer`] keeps.
pub const MAX_OOO_RANGES: usize = 32;

/// A byte ring over heap storage that may be empty (unallocated). Logical position `i`
/// lives at physical index `(head + i) % size`. It does not track a length itself: the
/// owners know which logical positions hold meaningful bytes.
///
/// The storage is a `Vec` whose capacity is the ring's size (`Vec::with_capacity`
/// guarantees exactly the capacity asked for) but whose length only covers the
/// physical prefix written so far: fresh storage is never zero-filled (a 256 KiB
/// receive ring reallocated after each drain would otherwise cost a full `memset` per
/// round trip). Physical indices at or past the length were never written, so nothing
/// meaningful lives there.
#[derive(Default)]
struct Ring {
    storage: Vec<u8>,
    head: usize,
    /// Size of the storage when it was last freed: a ring that fills again after
    /// draining (a bulk transfer, one round trip at a time) reallocates at that size at
    /// once instead of growing from 1 KiB by doubling and copying.
    hint: u32,
}

impl Ring {
    /// Physical size of the ring.
    fn size(&self) -> usize {
        self.storage.capacity()
    }

    /// Physical index of logical position `pos` (`pos < size`).
    fn index(&self, pos: usize) -> usize {
        let i = self.head + pos;
        if i >= self.size() {
            i - self.size()
        } else {
            i
        }
    }

    /// Make room for logical positions `0..needed` (`needed <= limit`), doubling from
    /// `min(limit, INITIAL_ALLOC)`, never beyond `limit`. Positions `0..used` keep their
    /// bytes (the ring is linearised into the new storage).
    fn reserve(&mut self, needed: usize, used: usize, limit: usize) {
        if needed <= self.size() {
            return;
        }
        let start = if self.size() == 0 {
            INITIAL_ALLOC.max(self.hint as usize)
        } else {
            self.size()
        };
        let mut new_size = start.min(limit.max(1)).max(INITIAL_ALLOC.min(limit)).max(1);
        while new_size < needed {
            new_size = new_size.saturating_mul(2);
        }
        let new_size = new_size.min(limit).max(needed);
        self.resize_to(new_size, used);
    }

    /// Reallocate to exactly `new_size` bytes, keeping logical positions
    /// `0..min(used, size, new_size)`, with head = 0.
    fn resize_to(&mut self, new_size: usize, used: usize) {
        let keep = used.min(self.size()).min(new_size);
        let mut new = Vec::with_capacity(new_size);
        if keep > 0 {
            let start = self.head;
            let first = keep.min(self.size() - start);
            self.extend_physical(&mut new, start, start + first);
            self.extend_physical(&mut new, 0, keep - first);
        }
        debug_assert_eq!(new.capacity(), new_size);
        self.storage = new;
        self.head = 0;
    }

    /// Append physical bytes `a..b` to `out`; never-written bytes read as zero.
    fn extend_physical(&self, out: &mut Vec<u8>, a: usize, b: usize) {
        let init = self.storage.len();
        if a < init {
            out.extend_from_slice(&self.storage[a..b.min(init)]);
        }
        if b > init {
            out.resize(out.len() + (b - a.max(init)), 0);
        }
    }

    /// Drop the storage.
    fn free(&mut self) {
        self.hint = self.size().min(u32::MAX as usize) as u32;
        self.storage = Vec::new();
        self.head = 0;
    }

    /// Write `data` at physical index `at` (`at + data.len() <= size`), extending the
    /// written prefix as needed (a gap before `at` is zero-filled).
    fn write_physical(&mut self, at: usize, data: &[u8]) {
        let init = self.storage.len();
        let end = at + data.len();
        if end <= init {
            self.storage[at..end].copy_from_slice(data);
        } else if at <= init {
            let (old, new) = data.split_at(init - at);
            self.storage[at..init].copy_from_slice(old);
            self.storage.extend_from_slice(new);
        } else {
            self.storage.resize(at, 0);
            self.storage.extend_from_slice(data);
        }
    }

    /// Copy `data` to logical positions `pos..pos + data.len()` (must fit in `size`).
    fn copy_in(&mut self, pos: usize, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        debug_assert!(pos + data.len() <= self.size());
        let start = self.index(pos);
        let first = data.len().min(self.size() - start);
        self.write_physical(start, &data[..first]);
        if first < data.len() {
            self.write_physical(0, &data[first..]);
        }
    }

    /// Copy logical positions `pos..pos + out.len()` (must fit in `size` and have been
    /// written) into `out`.
    fn copy_out(&self, pos: usize, out: &mut [u8]) {
        if out.is_empty() {
            return;
        }
        debug_assert!(pos + out.len() <= self.size());
        let start = self.index(pos);
        let first = out.len().min(self.size() - start);
        let n = out.len();
        out[..first].copy_from_slice(&self.storage[start..start + first]);
        out[first..].copy_from_slice(&self.storage[..n - first]);
    }

    /// Move the front forward by `n` positions (`n <= size`).
    fn advance(&mut self, n: usize) {
        if self.size() > 0 {
            self.head = self.index(n % self.size());
        }
    }
}

/// Send buffer: bytes written by the application and not yet acknowledged.
/// Offset 0 is the oldest unacknowledged byte (SND.UNA).
#[derive(Default)]
pub struct SendBuffer {
    ring: Ring,
    len: usize,
    capacity: usize,
}

impl fmt::Debug for SendBuffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendBuffer")
            .field("len", &self.len)
            .field("capacity", &self.capacity)
            .field("allocated", &self.allocated())
            .finish()
    }
}

impl SendBuffer {
    /// A buffer that may hold up to `capacity` bytes; allocates nothing yet.
    pub fn new(capacity: usize) -> SendBuffer {
        SendBuffer {
            ring: Ring::default(),
            len: 0,
            capacity,
        }
    }

    /// Maximum bytes held.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Change the capacity (never below the bytes held).
    pub fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity.max(self.len);
        if self.ring.size() > self.capacity {
            if self.len == 0 {
                self.ring.free();
            } else {
                self.ring.resize_to(self.capacity, self.len);
            }
        }
    }

    /// Bytes held.
    pub fn len(&self) -> usize {
        self.len
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
        let n = data.len().min(self.free());
        if n == 0 {
            return 0;
        }
        self.ring.reserve(self.len + n, self.len, self.capacity);
        self.ring.copy_in(self.len, &data[..n]);
        self.len += n;
        n
    }

    /// Copy bytes starting `offset` bytes after the front into `out`; returns the count.
    pub fn read_at(&self, offset: usize, out: &mut [u8]) -> usize {
        if offset >= self.len {
            return 0;
        }
        let n = out.len().min(self.len - offset);
        self.ring.copy_out(offset, &mut out[..n]);
        n
    }

    /// Drop `n` bytes from the front (they were acknowledged). Frees memory when empty.
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.len);
        self.len -= n;
        if self.len == 0 {
            self.ring.free();
        } else {
            self.ring.advance(n);
        }
    }

    /// Heap bytes currently allocated.
    pub fn allocated(&self) -> usize {
        self.ring.size()
    }
}

/// An out-of-order range held by a [`RecvBuffer`]: offsets past RCV.NXT, and the
/// sequence number of the last write that touched it (for RFC 2018 §4 ordering).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct OooRange {
    start: usize,
    end: usize,
    stamp: u64,
}

/// Receive buffer with reassembly. Offset 0 is RCV.NXT: the next in-order byte.
///
/// Ring layout: readable bytes at logical positions `0..len`; out-of-order byte at
/// offset `o` (past RCV.NXT) at position `len + o`.
#[derive(Default)]
pub struct RecvBuffer {
    ring: Ring,
    len: usize,
    capacity: usize,
    /// Disjoint, non-adjacent, sorted by `start`; never starts at offset 0 (that data
    /// is readable). At most [`MAX_OOO_RANGES`].
    ranges: Vec<OooRange>,
    /// Stamp for the next write; stamps are unique, so recency order is total.
    next_stamp: u64,
}

impl fmt::Debug for RecvBuffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ranges: Vec<(usize, usize)> = self.ranges.iter().map(|r| (r.start, r.end)).collect();
        f.debug_struct("RecvBuffer")
            .field("len", &self.len)
            .field("capacity", &self.capacity)
            .field("out_of_order", &ranges)
            .field("allocated", &self.allocated())
            .finish()
    }
}

impl RecvBuffer {
    /// A buffer that may hold up to `capacity` bytes; allocates nothing yet.
    pub fn new(capacity: usize) -> RecvBuffer {
        RecvBuffer {
            capacity,
            ..RecvBuffer::default()
        }
    }

    /// Maximum bytes held (readable + out-of-order).
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// End of the held out-of-order data, as an offset past RCV.NXT (0 when none).
    fn ooo_end(&self) -> usize {
        self.ranges.last().map_or(0, |r| r.end)
    }

    /// Change the capacity (never below what is held).
    pub fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity.max(self.len + self.ooo_end());
        if self.ring.size() > self.capacity {
            if self.len == 0 && self.ranges.is_empty() {
                self.ring.free();
            } else {
                self.ring
                    .resize_to(self.capacity, self.len + self.ooo_end());
            }
        }
    }

    /// In-order bytes ready for the application.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no in-order bytes are ready.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The receive window: capacity minus readable bytes (out-of-order data lies inside it).
    pub fn window(&self) -> usize {
        self.capacity - self.len
    }

    /// Store `data` whose first byte is `offset` bytes past RCV.NXT. Bytes beyond the
    /// window are cut off; bytes already held are ignored. Returns how many bytes became
    /// newly readable in order (how far RCV.NXT advances). At most 32 separate
    /// out-of-order ranges are kept; a write that would need more is dropped (returns 0).
    pub fn write_at(&mut self, offset: usize, data: &[u8]) -> usize {
        // RFC 9293 §3.10.7.4: only the part of a segment inside the receive window is
        // accepted; the rest is trimmed.
        let window = self.window();
        if offset >= window || data.is_empty() {
            return 0;
        }
        let end = offset + data.len().min(window - offset);
        let data = &data[..end - offset];

        if offset == 0 && self.ranges.is_empty() {
            // In order with nothing out of order held (the common case): append.
            self.ring.reserve(self.len + end, self.len, self.capacity);
            self.ring.copy_in(self.len, data);
            self.next_stamp += 1;
            self.len += end;
            return end;
        }

        // Ranges overlapping or adjacent to [offset, end): indices first..last.
        let first = self.ranges.partition_point(|r| r.end < offset);
        let last = first + self.ranges[first..].partition_point(|r| r.start <= end);
        if first == last && offset > 0 && self.ranges.len() >= MAX_OOO_RANGES {
            // Would be a 33rd separate range: drop it, store nothing.
            return 0;
        }

        // Copy only the gaps between held ranges (held bytes are kept as they are).
        let used = self.len + self.ooo_end();
        self.ring.reserve(self.len + end, used, self.capacity);
        let mut pos = offset;
        for r in &self.ranges[first..last] {
            if r.start > pos {
                self.ring
                    .copy_in(self.len + pos, &data[pos - offset..r.start - offset]);
            }
            pos = pos.max(r.end);
        }
        if pos < end {
            self.ring.copy_in(self.len + pos, &data[pos - offset..]);
        }

        // Merge into one range, stamped as the most recent (RFC 2018 §4).
        let stamp = self.next_stamp;
        self.next_stamp += 1;
        let merged = OooRange {
            start: self
                .ranges
                .get(first)
                .map_or(offset, |r| r.start.min(offset)),
            end: if last > first {
                self.ranges[last - 1].end.max(end)
            } else {
                end
            },
            stamp,
        };
        self.ranges.splice(first..last, [merged]);

        if merged.start > 0 {
            return 0;
        }
        // The hole at RCV.NXT is filled: these bytes become readable.
        let advance = merged.end;
        self.ranges.remove(0);
        self.len += advance;
        for r in &mut self.ranges {
            r.start -= advance;
            r.end -= advance;
        }
        advance
    }

    /// Copy readable bytes into `out`, removing them; returns the count. Frees memory when
    /// nothing (readable or out-of-order) is held.
    pub fn read(&mut self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.len);
        if n == 0 {
            return 0;
        }
        self.ring.copy_out(0, &mut out[..n]);
        self.len -= n;
        if self.len == 0 && self.ranges.is_empty() {
            self.ring.free();
        } else {
            self.ring.advance(n);
        }
        n
    }

    /// Out-of-order ranges held, as `(start, end)` offsets past RCV.NXT, the range that
    /// contains the most recent write first (RFC 2018 §4), then the others, most recent
    /// first. At most `max` ranges.
    pub fn sack_ranges(&self, max: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
        SackIter {
            ranges: &self.ranges,
            below: u64::MAX,
            remaining: max,
        }
    }

    /// True when out-of-order data is held.
    pub fn has_out_of_order(&self) -> bool {
        !self.ranges.is_empty()
    }

    /// Heap bytes currently allocated.
    pub fn allocated(&self) -> usize {
        self.ring.size()
    }
}

/// Yields ranges by decreasing stamp without allocating: each step picks the largest
/// stamp below the previous one (at most 32 ranges, so a scan is cheap).
struct SackIter<'a> {
    ranges: &'a [OooRange],
    below: u64,
    remaining: usize,
}

impl Iterator for SackIter<'_> {
    type Item = (usize, usize);

    fn next(&mut self) -> Option<(usize, usize)> {
        if self.remaining == 0 {
            return None;
        }
        let best = self
            .ranges
            .iter()
            .filter(|r| r.stamp < self.below)
            .max_by_key(|r| r.stamp)?;
        self.below = best.stamp;
        self.remaining -= 1;
        Some((best.start, best.end))
    }
}

#[cfg(test)]
#[path = "buffer_tests.rs"]
mod tests;
