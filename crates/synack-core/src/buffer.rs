//! Send and receive byte buffers. Both are rings that allocate on demand (the first
//! write) and free their memory when drained, so an idle connection holds none.
//! The receive buffer also reassembles out-of-order data and reports SACK blocks.
//!
//! Storage starts at `min(capacity, 1 KiB)` and doubles (keeping ring order) up to the
//! capacity as more bytes are held. The capacity itself moves: autotuning raises it
//! (`grow_capacity`, see `tcp/autotune.rs`) and memory pressure lowers it
//! (`shrink_capacity`), which gives memory back once that halves the ring. Every copy in or out is at most two
//! copies (the ring may wrap once), each made in 1 KiB pieces (see [`copy_bytes`]).

use alloc::vec::Vec;
use core::fmt;
use synack_wire::checksum;

/// Largest piece [`copy_bytes`] hands to one `memcpy`.
const COPY_PIECE: usize = 1024;

/// Copy `src` into `dst` (same length) in pieces of at most 1 KiB.
///
/// Why not one `copy_from_slice`: for copies of a few KiB up to a few hundred KiB
/// (a 64 KiB application write, a 64 KiB GRO super-segment) glibc's `memcpy` switches
/// to `rep movsb`, which on AMD CPUs collapses when source and destination sit at the
/// same offset within a 4 KiB page (two page-aligned buffers, say): measured 2.5 GB/s
/// on this project's EPYC test machines, against 35-45 GB/s at other offsets and for
/// the vector loop `memcpy` uses on short copies. Each 1 KiB piece stays on that vector
/// loop, which is as fast as `rep movsb` at the good offsets. `black_box` on each
/// destination piece keeps the compiler from merging the pieces back into one large
/// `memcpy`.
///
/// # Panics
/// When the lengths differ (like `copy_from_slice`).
#[inline]
pub fn copy_bytes(dst: &mut [u8], src: &[u8]) {
    assert_eq!(dst.len(), src.len(), "copy_bytes: length mismatch");
    if src.len() <= COPY_PIECE {
        dst.copy_from_slice(src);
        return;
    }
    for (d, s) in dst.chunks_mut(COPY_PIECE).zip(src.chunks(COPY_PIECE)) {
        core::hint::black_box(&mut *d).copy_from_slice(s);
    }
}

/// Append `src` to `v` (growing it as `Vec` does), copying like [`copy_bytes`].
fn extend(v: &mut Vec<u8>, src: &[u8]) {
    if src.len() <= COPY_PIECE {
        v.extend_from_slice(src);
        return;
    }
    for s in src.chunks(COPY_PIECE) {
        core::hint::black_box(&mut *v).extend_from_slice(s);
    }
}

/// First allocation size (or the capacity, if smaller). Small enough for the
/// allocator's fast per-thread cache, so a short request/response costs little; a
/// bulk transfer grows past it once and then reuses the size it reached (`hint`).
const INITIAL_ALLOC: usize = 1024;

/// Fewest out-of-order ranges a [`RecvBuffer`] keeps, however little it holds.
pub const MIN_OOO_RANGES: usize = 32;

/// Bytes of out-of-order span per range a [`RecvBuffer`] may keep beyond
/// [`MIN_OOO_RANGES`].
pub const BYTES_PER_OOO_RANGE: usize = 1024;

/// Most separate out-of-order ranges a [`RecvBuffer`] keeps when its out-of-order data
/// reaches `span` bytes past RCV.NXT: one per [`BYTES_PER_OOO_RANGE`] bytes of span,
/// at least [`MIN_OOO_RANGES`].
///
/// An honest sender can need that many. A slow start that overflows a drop-tail queue
/// loses about every other segment of a window, one range per 2 MSS of span (one per
/// 1072 bytes at the smallest IPv4 MSS, 536); with a fixed 32, a receiver with a
/// megabyte window threw away everything past the 32nd hole, and the sender had to
/// send it all again (Linux bounds its out-of-order queue by memory alone). Tying the
/// bound to the span keeps the ranges' own memory (24 bytes each) within about 2 % of
/// the ring bytes the span makes the buffer allocate, which the stack's memory budget
/// counts, and caps the work a hostile sender can cause with tiny segments and gaps:
/// the ranges are a sorted `Vec`, and one write moves at most this many entries.
pub const fn max_ooo_ranges(span: usize) -> usize {
    let n = span / BYTES_PER_OOO_RANGE;
    if n > MIN_OOO_RANGES {
        n
    } else {
        MIN_OOO_RANGES
    }
}

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
    /// Length of a payload copied past the readable end by [`RecvBuffer::stage`] and
    /// not yet committed (0: none). Kept here, in the ring's padding, so it costs an
    /// idle connection nothing.
    staged: u32,
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
        let new_size = self.grown_size(needed, limit);
        self.resize_to(new_size, used);
    }

    /// The size [`reserve`](Ring::reserve)`(needed, _, limit)` grows the ring to
    /// (`needed > size`).
    fn grown_size(&self, needed: usize, limit: usize) -> usize {
        let start = if self.size() == 0 {
            INITIAL_ALLOC.max(self.hint as usize)
        } else {
            self.size()
        };
        let mut new_size = start.min(limit.max(1)).max(INITIAL_ALLOC.min(limit)).max(1);
        while new_size < needed {
            new_size = new_size.saturating_mul(2);
        }
        new_size.min(limit).max(needed)
    }

    /// Bytes the ring would allocate beyond its present size to hold logical positions
    /// `0..needed` under `limit` (0 when it already can).
    fn growth_for(&self, needed: usize, limit: usize) -> usize {
        if needed <= self.size() {
            return 0;
        }
        self.grown_size(needed, limit) - self.size()
    }

    /// Give back memory after the capacity was lowered to `limit`: reallocate to
    /// `limit` only when that at least halves the ring (so a shrinking buffer copies
    /// its bytes O(log n) times, not at every step), keeping positions `0..used`.
    fn shrink(&mut self, limit: usize, used: usize) {
        let size = self.size();
        if size > INITIAL_ALLOC && size >= 2 * limit.max(used) {
            if used == 0 {
                self.free();
                self.hint = limit.min(u32::MAX as usize) as u32;
            } else {
                self.resize_to(limit.max(used), used);
            }
        }
        if self.hint as usize > limit {
            self.hint = limit.min(u32::MAX as usize) as u32;
        }
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
            extend(out, &self.storage[a..b.min(init)]);
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
            copy_bytes(&mut self.storage[at..end], data);
        } else if at <= init {
            let (old, new) = data.split_at(init - at);
            copy_bytes(&mut self.storage[at..init], old);
            extend(&mut self.storage, new);
        } else {
            self.storage.resize(at, 0);
            extend(&mut self.storage, data);
        }
    }

    /// [`write_physical`](Ring::write_physical) that also returns the checksum sum of
    /// `data` ([`checksum::sum`]), summing as it copies where the storage is already
    /// written and right after copying (while the bytes are in the L1 cache) where it
    /// extends the written prefix.
    fn write_physical_summed(&mut self, at: usize, data: &[u8]) -> u32 {
        let end = at + data.len();
        let init = self.storage.len();
        if end <= init {
            return checksum::copy_and_sum(&mut self.storage[at..end], data);
        }
        if at > init {
            self.storage.resize(at, 0);
        }
        let init = self.storage.len();
        let (old, new) = data.split_at(init - at);
        let a = checksum::copy_and_sum(&mut self.storage[at..init], old);
        let b =
            checksum::copy_and_sum_uninit(&mut self.storage.spare_capacity_mut()[..new.len()], new);
        // SAFETY: `copy_and_sum_uninit` initialised the `new.len()` bytes after the
        // current length, and they are within the capacity (`end <= size`).
        unsafe { self.storage.set_len(end) };
        // RFC 1071 §2(B): a piece starting at an odd offset sums byte-swapped.
        checksum::combine(
            a,
            if old.len() % 2 == 1 {
                checksum::swap(b)
            } else {
                b
            },
        )
    }

    /// [`copy_in`](Ring::copy_in) that returns [`checksum::sum`]`(data)`, computed while
    /// copying.
    fn copy_in_summed(&mut self, pos: usize, data: &[u8]) -> u32 {
        if data.is_empty() {
            return 0;
        }
        debug_assert!(pos + data.len() <= self.size());
        let start = self.index(pos);
        let first = data.len().min(self.size() - start);
        let a = self.write_physical_summed(start, &data[..first]);
        if first == data.len() {
            return a;
        }
        let b = self.write_physical_summed(0, &data[first..]);
        // RFC 1071 §2(B): a piece starting at an odd offset sums byte-swapped.
        checksum::combine(a, if first % 2 == 1 { checksum::swap(b) } else { b })
    }

    /// [`copy_out`](Ring::copy_out) that returns [`checksum::sum`] of the bytes copied,
    /// computed while copying.
    fn copy_out_summed(&self, pos: usize, out: &mut [u8]) -> u32 {
        if out.is_empty() {
            return 0;
        }
        debug_assert!(pos + out.len() <= self.size());
        let start = self.index(pos);
        let first = out.len().min(self.size() - start);
        let n = out.len();
        let a = checksum::copy_and_sum(&mut out[..first], &self.storage[start..start + first]);
        if first == n {
            return a;
        }
        let b = checksum::copy_and_sum(&mut out[first..], &self.storage[..n - first]);
        checksum::combine(a, if first % 2 == 1 { checksum::swap(b) } else { b })
    }

    /// The bytes at logical positions `pos..pos + len` as one or two contiguous slices
    /// (the second is empty unless the range wraps); they must have been written.
    fn slices(&self, pos: usize, len: usize) -> (&[u8], &[u8]) {
        if len == 0 {
            return (&[], &[]);
        }
        let start = self.index(pos);
        let first = len.min(self.size() - start);
        (
            &self.storage[start..start + first],
            &self.storage[..len - first],
        )
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
        copy_bytes(&mut out[..first], &self.storage[start..start + first]);
        copy_bytes(&mut out[first..], &self.storage[..n - first]);
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

    /// Raise the capacity to `capacity` (autotuning); never lowers it and allocates
    /// nothing.
    pub fn grow_capacity(&mut self, capacity: usize) {
        self.capacity = self.capacity.max(capacity);
    }

    /// Lower the capacity towards `capacity` (memory pressure), never below the bytes
    /// held, and give memory back once that halves the ring.
    pub fn shrink_capacity(&mut self, capacity: usize) {
        let capacity = capacity.max(self.len);
        if capacity < self.capacity {
            self.capacity = capacity;
            self.ring.shrink(capacity, self.len);
        }
    }

    /// Bytes the ring would have to allocate beyond what it has to hold `len` bytes
    /// (0 when it already can).
    pub fn growth_for(&self, len: usize) -> usize {
        self.ring.growth_for(len, self.capacity.max(len))
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

    /// [`read_at`](SendBuffer::read_at) that also returns the checksum sum
    /// ([`checksum::sum`]) of the bytes copied, computed while copying, so a segment's
    /// payload is never read twice on its way out.
    pub fn read_at_summed(&self, offset: usize, out: &mut [u8]) -> (usize, u32) {
        if offset >= self.len {
            return (0, 0);
        }
        let n = out.len().min(self.len - offset);
        let s = self.ring.copy_out_summed(offset, &mut out[..n]);
        (n, s)
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
    /// is readable). At most [`max_ooo_ranges`] of the span when each was added.
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

    /// Forget a [`stage`](RecvBuffer::stage)d payload (its checksum was wrong, or it
    /// was not used): the next write copies again.
    pub fn unstage(&mut self) {
        self.ring.staged = 0;
    }

    /// Change the capacity (never below what is held).
    pub fn set_capacity(&mut self, capacity: usize) {
        self.ring.staged = 0;
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

    /// Raise the capacity to `capacity` (autotuning); never lowers it and allocates
    /// nothing. A payload staged by [`stage`](RecvBuffer::stage) stays staged.
    pub fn grow_capacity(&mut self, capacity: usize) {
        self.capacity = self.capacity.max(capacity);
    }

    /// Lower the capacity towards `capacity` (memory pressure), never below what is
    /// held (readable and out-of-order), and give memory back once that halves the
    /// ring. The caller keeps the capacity at or above what it advertised (RFC 9293
    /// §3.8.6: the window's right edge is not moved left).
    pub fn shrink_capacity(&mut self, capacity: usize) {
        let held = self.held();
        let capacity = capacity.max(held);
        if capacity < self.capacity {
            self.ring.staged = 0;
            self.capacity = capacity;
            self.ring.shrink(capacity, held);
        }
    }

    /// Bytes from RCV.NXT's readable start to the end of the out-of-order data:
    /// readable plus the span of out-of-order ranges (the ring positions in use).
    pub fn held(&self) -> usize {
        self.len + self.ooo_end()
    }

    /// Bytes the ring would have to allocate beyond what it has to store data up to
    /// `end` bytes past RCV.NXT (0 when it already can, or when nothing of it fits the
    /// window).
    pub fn growth_for(&self, end: usize) -> usize {
        let end = end.min(self.window());
        self.ring.growth_for(self.len + end, self.capacity)
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

        let staged = core::mem::take(&mut self.ring.staged) as usize;
        if offset == 0 && self.ranges.is_empty() {
            // In order with nothing out of order held (the common case): append.
            if staged != 0 && staged == data.len() {
                // Already in place (`stage`): commit.
                self.next_stamp += 1;
                self.len += end;
                return end;
            }
            self.ring.reserve(self.len + end, self.len, self.capacity);
            self.ring.copy_in(self.len, data);
            self.next_stamp += 1;
            self.len += end;
            return end;
        }

        // Ranges overlapping or adjacent to [offset, end): indices first..last.
        let first = self.ranges.partition_point(|r| r.end < offset);
        let last = first + self.ranges[first..].partition_point(|r| r.start <= end);
        if first == last
            && offset > 0
            && self.ranges.len() >= max_ooo_ranges(self.ooo_end().max(end))
        {
            // One separate range too many: drop it, store nothing.
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

    /// Copy an in-order `data` (starting at RCV.NXT) to where it will be readable,
    /// without making it readable, and return [`checksum::sum`]`(data)` computed while
    /// copying. The next [`write_at`](RecvBuffer::write_at)`(0, d)` with `d` as long as
    /// `data` then commits the staged bytes without a second copy, so the caller must
    /// pass that same payload or call [`unstage`](RecvBuffer::unstage) first (the stack
    /// unstages after every segment it staged for). If the checksum is wrong, the
    /// caller unstages and drops the segment: the staged bytes are never seen.
    ///
    /// Only for the common case: returns `None` (nothing copied) when out-of-order data
    /// is held or `data` is empty, does not fit the window or is 4 GiB or longer.
    pub fn stage(&mut self, data: &[u8]) -> Option<u32> {
        if !self.ranges.is_empty()
            || data.is_empty()
            || data.len() > self.window()
            || u32::try_from(data.len()).is_err()
        {
            return None;
        }
        self.ring
            .reserve(self.len + data.len(), self.len, self.capacity);
        let s = self.ring.copy_in_summed(self.len, data);
        self.ring.staged = data.len() as u32;
        Some(s)
    }

    /// The readable bytes, in place, as one or two slices (the second is non-empty only
    /// when they wrap around the ring): the first `len()` bytes of the stream, for a
    /// reader that wants to look at them without copying. Remove them with
    /// [`consume`](RecvBuffer::consume).
    pub fn readable(&self) -> (&[u8], &[u8]) {
        self.ring.slices(0, self.len)
    }

    /// Remove `n` readable bytes (at most `len()`) without copying them; returns the
    /// count. Frees memory when nothing is held.
    pub fn consume(&mut self, n: usize) -> usize {
        let n = n.min(self.len);
        if n == 0 {
            return 0;
        }
        self.ring.staged = 0;
        self.len -= n;
        if self.len == 0 && self.ranges.is_empty() {
            self.ring.free();
        } else {
            self.ring.advance(n);
        }
        n
    }

    /// Copy readable bytes into `out`, removing them; returns the count. Frees memory when
    /// nothing (readable or out-of-order) is held.
    pub fn read(&mut self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.len);
        if n == 0 {
            return 0;
        }
        self.ring.copy_out(0, &mut out[..n]);
        self.consume(n)
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
