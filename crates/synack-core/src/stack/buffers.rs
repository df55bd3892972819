//! The stack's side of buffer autotuning: the stack-wide buffer memory budget
//! (crate::memory) charged per connection after every call, its figures for the
//! application, and the wake-up of writers that found no memory.

use super::{ConnHandle, Event, Stack};

impl Stack {
    /// Bytes the send and receive buffers of all connections hold allocated now
    /// (bounded by [`Config::memory_limit`](crate::Config::memory_limit)).
    pub fn buffer_memory(&self) -> usize {
        self.mem.used
    }

    /// The highest [`buffer_memory`](Stack::buffer_memory) seen since the stack
    /// started.
    pub fn peak_buffer_memory(&self) -> usize {
        self.mem.peak
    }

    /// True while the buffer memory is above [`Config::memory_pressure`](crate::Config::memory_pressure): buffers do
    /// not grow and shrink as they drain.
    pub fn under_memory_pressure(&self) -> bool {
        self.mem.under_pressure()
    }

    /// Bring a connection's charge in the buffer memory budget up to date (after
    /// anything that may have allocated or freed buffer memory). Under pressure its
    /// send buffer also shrinks towards the floor.
    #[inline]
    pub(super) fn recharge(&mut self, idx: u32) {
        let Some(c) = self.slots[idx as usize].conn.as_mut() else {
            return;
        };
        if self.mem.under_pressure() {
            c.shrink_send_buffer();
        }
        let now = (c.send.allocated() + c.recv.allocated()).min(u32::MAX as usize) as u32;
        if now != c.mem_charged {
            let freed = now < c.mem_charged;
            self.mem.recharge(c.mem_charged as usize, now as usize);
            c.mem_charged = now;
            if freed && !self.mem_waiters.is_empty() && self.mem.room() >= self.mem.wake_room() {
                self.wake_memory_waiters();
            }
        }
    }

    /// Memory was freed: tell the applications whose writes found no buffer memory
    /// that they may try again.
    #[cold]
    fn wake_memory_waiters(&mut self) {
        for h in core::mem::take(&mut self.mem_waiters) {
            let Some(slot) = self.slots.get_mut(h.idx as usize) else {
                continue;
            };
            if slot.gen != h.gen {
                continue;
            }
            slot.mem_wait = false;
            if slot.app_owned && slot.conn.is_some() {
                self.events.push_back(Event::Writable(h));
            }
        }
    }

    /// Queue `data` on the live connection in slot `idx` (handle `h`) as far as its
    /// send buffer and the memory budget allow; returns the bytes taken.
    pub(super) fn write_within_budget(&mut self, idx: u32, h: ConnHandle, data: &[u8]) -> usize {
        let mem = self.mem.view();
        let limit = self.cfg.send_buffer_limit();
        let Some(c) = self.slots[idx as usize].conn.as_mut() else {
            return 0;
        };
        if c.send.free() < data.len() {
            // The application is limited by the send buffer: autotuning may grow it.
            c.autotune_send(limit, mem);
        }
        let mut take = data.len().min(c.send.free());
        let mut short_of_memory = false;
        if c.send.growth_for(c.send.len() + take) > mem.room {
            // The hard memory limit: take only what fits the memory already held. The
            // application hears `Writable` when acknowledged data frees memory (its
            // own, or other connections': `wake_memory_waiters`).
            take = take.min(c.send.allocated().saturating_sub(c.send.len()));
            short_of_memory = take == 0;
        }
        // TCP_NOTSENT_LOWAT bounds a write chunk by chunk, as Linux does
        // (tcp/notsent.rs).
        let mut n = 0;
        while n < take {
            let room = c.notsent_write_room(&self.cfg).unwrap_or(usize::MAX);
            let k = c.write(&data[n..take.min(n.saturating_add(room))]);
            n += k;
            if k == 0 {
                break;
            }
        }
        if n < data.len() {
            c.want_writable = true;
        }
        self.recharge(idx);
        if short_of_memory {
            let slot = &mut self.slots[idx as usize];
            if !slot.mem_wait {
                slot.mem_wait = true;
                self.mem_waiters.push(h);
            }
        }
        n
    }
}
