//! The stack's side of compact TIME-WAIT (see `tcp/timewait.rs` for the record and
//! its segment processing): turning an orphaned connection into a record, answering
//! segments for a record, and retiring it (expiry, RST, RFC 6191 reuse).

use super::output::push_segment_trace;
use super::{ConnHandle, Stack, TwAction, SPARE_BOXES, TW_TAG};
use crate::state::State;
use crate::tcp::timewait::TimeWait;
use crate::tcp::Env;
use crate::time::Instant;
use crate::trace::{Direction, TraceEvent, TraceKind};
use core::net::SocketAddr;
use synack_wire::TcpPacket;

impl Stack {
    /// A segment for a compact TIME-WAIT record (RFC 9293 §3.10.7.4).
    #[cold]
    pub(super) fn handle_time_wait(
        &mut self,
        now: Instant,
        ti: u32,
        local: SocketAddr,
        remote: SocketAddr,
        p: &TcpPacket<'_>,
    ) {
        let Some(rec) = self.tw.get_mut(ti) else {
            return;
        };
        if let Some(trace) = self.trace.as_mut() {
            let isns = Some((rec.iss, Some(rec.irs), rec.snd_wscale));
            push_segment_trace(
                trace,
                now,
                local,
                remote,
                &p.tcp,
                p.payload.len(),
                Direction::Received,
                isns,
            );
        }
        let mem = self.mem.view();
        let mut env = Env {
            cfg: &self.cfg,
            now,
            trace: self.trace.as_mut(),
            challenge_budget: &mut self.challenge_budget,
            mem,
            egress_blocked: self.egress_blocked,
        };
        match rec.handle_segment(&mut env, &p.tcp, p.payload.len()) {
            TwAction::Nothing => {}
            TwAction::Ack => {
                if self.tw_acks.len() < 1024 {
                    let repr = rec.ack(now);
                    let isns = (rec.iss, rec.irs, rec.rcv_wscale, rec.rto_micros);
                    self.tw_acks.push_back((local, remote, repr, isns));
                }
            }
            TwAction::Close => self.retire_time_wait(now, ti),
            TwAction::Reopen => {
                // RFC 6191: retire the TIME-WAIT connection, then treat the SYN as new.
                self.retire_time_wait(now, ti);
                self.handle_unmatched(now, local, remote, p);
            }
        }
    }

    /// Delete a TIME-WAIT record (expired, reset or reopened): it reaches CLOSED.
    #[cold]
    pub(super) fn retire_time_wait(&mut self, now: Instant, ti: u32) {
        let Some((local, remote, idx)) = self.tw.remove(ti) else {
            return;
        };
        self.tw_table.remove(&(local, remote));
        if let Some(slot) = self.slots.get_mut(idx as usize) {
            if slot.tw == Some(ti) {
                slot.tw = None;
                self.free_slot(idx);
            }
        }
        if let Some(trace) = self.trace.as_mut() {
            trace.push_back(TraceEvent {
                time: now,
                local,
                remote,
                kind: TraceKind::StateChange {
                    old: State::TimeWait,
                    new: State::Closed,
                },
            });
        }
    }

    /// Replace an orphaned connection that reached TIME-WAIT with a compact record and
    /// free the connection (RFC 9293 §3.10.7.4 needs no more than the record keeps).
    /// The slot stays reserved, pointing at the record, until the record ends.
    #[inline(never)]
    pub(super) fn compact_time_wait(&mut self, idx: u32) {
        let slot = &mut self.slots[idx as usize];
        let Some(conn) = slot.conn.take() else {
            return;
        };
        self.mem.recharge(conn.mem_charged as usize, 0);
        self.orphans -= usize::from(conn.orphan);
        let mut rec = conn.time_wait_record();
        rec.slot = idx;
        let tuple = (conn.local, conn.remote);
        let in_table = slot.in_table;
        slot.in_table = false;
        slot.queued = false;
        self.live -= 1;
        if self.spare.len() < SPARE_BOXES {
            self.spare.push(conn);
        }
        let ti = self.tw.insert(rec);
        self.slots[idx as usize].tw = Some(ti);
        if in_table {
            self.table.remove(&tuple);
            self.tw_table.insert(tuple, ti | TW_TAG);
        }
        self.timers.cancel(idx as usize);
    }

    /// The TIME-WAIT record a handle's connection was compacted into.
    pub(super) fn time_wait_of(&self, h: ConnHandle) -> Option<&TimeWait> {
        let s = self.slots.get(h.idx as usize)?;
        if s.gen != h.gen {
            return None;
        }
        self.tw.get(s.tw?)
    }
}
