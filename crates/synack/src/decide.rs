//! The decision at SYN time on an intercepting listener (issue 15 item 3): with
//! [`TcpListener::decide_at_syn`] on, each SYN to an intercepted destination waits,
//! unanswered, as a [`SynRequest`] until the application accepts it (SYN-ACK), refuses
//! it (RST: "connection refused" at the client), drops it, or answers it with ICMP
//! host unreachable; no answer within the timeout counts as a drop. A proxy thereby
//! connects upstream first and shows the client the upstream's answer.

use crate::listener::TcpListener;
use crate::runtime::StackRef;
use crate::stream::TcpStream;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::task::Poll;
use std::time::Duration;
use synack_core::{DecideError, SynDecision};

impl TcpListener {
    /// Hold each SYN this intercepting listener would take until a [`SynRequest`]
    /// from [`next_syn`](TcpListener::next_syn) is answered, for at most `timeout`
    /// (then the SYN is dropped and the client retransmits). Connections accepted
    /// this way come back from [`SynRequest::accept`], not from
    /// [`accept`](TcpListener::accept). `InvalidInput` on a listener that does not
    /// intercept.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// use synack::{MemoryDevice, NetStack, TcpListener, TcpStream};
    /// use std::time::Duration;
    /// let (a, b) = MemoryDevice::pair();
    /// let client = NetStack::new(a, &["10.0.0.1".parse().unwrap()])?;
    /// let tunnel = NetStack::new(b, &["10.0.0.2".parse().unwrap()])?;
    /// let listener = TcpListener::intercept(&tunnel).await?;
    /// listener.decide_at_syn(Duration::from_secs(5))?;
    /// let connect = tokio::spawn(async move { TcpStream::connect(&client, "192.0.2.7:443").await });
    /// let syn = listener.next_syn().await?;
    /// assert_eq!(syn.target(), "192.0.2.7:443".parse().unwrap());
    /// syn.refuse(); // as if the upstream had refused
    /// let err = connect.await.unwrap().unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    /// # Ok(())
    /// # }
    /// ```
    pub fn decide_at_syn(&self, timeout: Duration) -> io::Result<()> {
        if !self.is_intercept() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "SYN-time decisions need an intercepting listener",
            ));
        }
        let (stack, _) = self.parts();
        let mut inner = stack.lock();
        inner.check_running()?;
        inner.engine.set_syn_decisions(Some(timeout));
        Ok(())
    }

    /// Wait for the next SYN to decide (see [`decide_at_syn`](TcpListener::decide_at_syn)).
    pub async fn next_syn(&self) -> io::Result<SynRequest> {
        let (stack, _) = self.parts();
        poll_fn(|cx| {
            let mut inner = stack.lock();
            if let Some(req) = inner.engine.poll_syn_request() {
                return Poll::Ready(Ok(SynRequest {
                    stack: stack.clone(),
                    req,
                    decided: false,
                }));
            }
            if let Err(e) = inner.check_running() {
                return Poll::Ready(Err(e));
            }
            if !inner.syn_waiters.iter().any(|w| w.will_wake(cx.waker())) {
                inner.syn_waiters.push(cx.waker().clone());
            }
            Poll::Pending
        })
        .await
    }
}

/// A SYN held until the application decides what the client sees. Dropping it
/// undecided drops the SYN.
pub struct SynRequest {
    stack: StackRef,
    req: synack_core::SynRequest,
    decided: bool,
}

impl fmt::Debug for SynRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SynRequest")
            .field("client", &self.req.client)
            .field("target", &self.req.target)
            .finish()
    }
}

impl SynRequest {
    /// The client (the SYN's source).
    pub fn client(&self) -> SocketAddr {
        self.req.client
    }

    /// The original destination the client asked for.
    pub fn target(&self) -> SocketAddr {
        self.req.target
    }

    /// Answer with a SYN-ACK and wait for the handshake to complete. `TimedOut` when
    /// the request was no longer held (its time ran out, or the client gave up).
    pub async fn accept(mut self) -> io::Result<TcpStream> {
        self.decided = true;
        let h = {
            let mut inner = self.stack.lock();
            inner.check_running()?;
            let now = self.stack.now();
            let h = inner
                .engine
                .decide_syn(now, &self.req, SynDecision::Accept)
                .map_err(decide_error)?
                .ok_or_else(|| io::Error::other("no connection"))?;
            inner.conns.insert(h, Default::default());
            h
        };
        TcpStream::adopt_connected(self.stack.clone(), h).await
    }

    /// Answer with an RST: the client's connect fails with "connection refused".
    pub fn refuse(mut self) {
        self.decide(SynDecision::Refuse);
    }

    /// Answer with ICMP host unreachable from the target: the client's connect fails
    /// with "no route to host".
    pub fn unreachable(mut self) {
        self.decide(SynDecision::Unreachable);
    }

    /// Answer nothing (the same as dropping the request).
    pub fn ignore(mut self) {
        self.decide(SynDecision::Drop);
    }

    fn decide(&mut self, d: SynDecision) {
        self.decided = true;
        {
            let mut inner = self.stack.lock();
            let now = self.stack.now();
            // Already gone (timed out, withdrawn): nothing to answer.
            let _ = inner.engine.decide_syn(now, &self.req, d);
        }
        self.stack.kick();
    }
}

impl Drop for SynRequest {
    fn drop(&mut self) {
        if !self.decided {
            self.decide(SynDecision::Drop);
        }
    }
}

fn decide_error(e: DecideError) -> io::Error {
    match e {
        DecideError::Unknown => io::Error::new(
            io::ErrorKind::TimedOut,
            "the SYN is no longer held (decision too late, or the client gave up)",
        ),
        DecideError::Full => io::Error::other("connection limit reached"),
    }
}
