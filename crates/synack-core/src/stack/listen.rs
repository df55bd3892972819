//! Listeners: `listen`, `accept`, per-listener options and closing a listener with
//! the connections still waiting in its queue (RFC 9293 §3.10.1, §3.10.4).

use super::*;
use alloc::vec::Vec;

impl Stack {
    /// Listen on `local` (an unspecified IP listens on every address of that family).
    /// `backlog` bounds the connections waiting for `accept` together with those still
    /// in SYN-RECEIVED (0 picks the configured default); half-open ones are further
    /// bounded by `Config::syn_backlog`. SYNs beyond that get a SYN cookie
    /// (`Config::syncookies`, stack/syncookie.rs) or, with cookies off or the accept
    /// queue full, are dropped and counted.
    pub fn listen(
        &mut self,
        local: SocketAddr,
        backlog: usize,
    ) -> Result<ListenerHandle, ListenError> {
        let ip = (!local.ip().is_unspecified()).then_some(local.ip());
        if let Some(ip) = ip {
            if !self.addrs.contains(&ip) {
                return Err(ListenError::BadAddress);
            }
        }
        if self.listen_map.contains_key(&(ip, local.port())) {
            return Err(ListenError::AddrInUse);
        }
        let idx = self.new_listener(local, backlog);
        self.listen_map.insert((ip, local.port()), idx);
        Ok(ListenerHandle(idx))
    }

    /// Accept connections to *any* address and port that reach the stack (for VPN /
    /// tun2socks use). [`Stack::local_addr`] of an accepted connection is the original
    /// destination. Specific listeners take precedence.
    pub fn listen_any(&mut self, backlog: usize) -> Result<ListenerHandle, ListenError> {
        if self.any_listener.is_some() {
            return Err(ListenError::AddrInUse);
        }
        let idx = self.new_listener("0.0.0.0:0".parse().expect("literal"), backlog);
        self.any_listener = Some(idx);
        Ok(ListenerHandle(idx))
    }

    pub(super) fn new_listener(&mut self, local: SocketAddr, backlog: usize) -> u32 {
        let backlog = if backlog == 0 {
            self.cfg.backlog
        } else {
            backlog
        };
        let l = Listener {
            local,
            backlog,
            syn_received: 0,
            accept_queue: VecDeque::new(),
            tfo: self.listener_fastopen_at_listen(backlog),
            max_segment: None,
            cookie_at: None,
        };
        if let Some(i) = self.listeners.iter().position(Option::is_none) {
            self.listeners[i] = Some(l);
            i as u32
        } else {
            self.listeners.push(Some(l));
            (self.listeners.len() - 1) as u32
        }
    }

    /// Take an established connection from a listener's accept queue.
    pub fn accept(&mut self, listener: ListenerHandle) -> Option<ConnHandle> {
        let l = self.listeners.get_mut(listener.0 as usize)?.as_mut()?;
        let h = l.accept_queue.pop_front()?;
        let slot = &mut self.slots[h.idx as usize];
        slot.app_owned = true;
        if let Some(c) = slot.conn.as_mut() {
            c.listener = None;
            let state = c.state;
            if state == State::Closed {
                let err = c.error;
                self.events.push_back(Event::Closed(h, err));
            } else if !c.recv.is_empty() || c.fin_received {
                self.events.push_back(Event::Readable(h));
            }
        }
        Some(h)
    }

    /// Clamp the MSS of a listener's connections, the one its SYN-ACKs offer
    /// included (Linux: `TCP_MAXSEG` on the listening socket).
    pub fn set_listener_max_segment(&mut self, listener: ListenerHandle, mss: Option<u16>) {
        if let Some(Some(l)) = self.listeners.get_mut(listener.0 as usize) {
            l.max_segment = mss;
        }
    }

    /// The local address a listener listens on.
    pub fn listener_addr(&self, listener: ListenerHandle) -> Option<SocketAddr> {
        Some(self.listeners.get(listener.0 as usize)?.as_ref()?.local)
    }

    /// Stop listening. Connections not yet accepted are reset.
    pub fn close_listener(&mut self, now: Instant, listener: ListenerHandle) {
        let Some(l) = self
            .listeners
            .get_mut(listener.0 as usize)
            .and_then(Option::take)
        else {
            return;
        };
        self.listen_map.retain(|_, v| *v != listener.0);
        if self.any_listener == Some(listener.0) {
            self.any_listener = None;
            // SYNs held for its decisions go unanswered (stack/decide.rs).
            self.set_syn_decisions(None);
        }
        for h in l.accept_queue {
            self.slots[h.idx as usize].app_owned = true;
            self.abort(now, h);
        }
        // Half-open connections still pointing at it.
        let pending: Vec<u32> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| {
                s.conn
                    .as_ref()
                    .is_some_and(|c| c.listener == Some(listener.0))
            })
            .map(|(i, _)| i as u32)
            .collect();
        for idx in pending {
            let h = ConnHandle {
                idx,
                gen: self.slots[idx as usize].gen,
            };
            self.slots[idx as usize].app_owned = true;
            self.abort(now, h);
        }
    }
}
