//! The decision on an intercepted UDP flow (issue 15 item 3), the UDP counterpart of
//! [`TcpListener::decide_at_syn`](crate::TcpListener::decide_at_syn): with
//! [`UdpIntercept::decide_flows`] on, the first datagram of each new flow (client,
//! original destination) waits in the engine as a [`UdpFlowRequest`] until the
//! application accepts it (the held datagrams, and the flow's later ones, come out of
//! [`UdpIntercept::recv`]), refuses it (ICMP port unreachable: a connected client
//! socket sees ECONNREFUSED, and the flow's later datagrams are refused too until it
//! has been idle for `udp_flow_timeout`), or drops it; no answer within the timeout
//! counts as a drop. A proxy thereby opens its upstream association first and
//! refuses the flow when it cannot.

use crate::runtime::StackRef;
use crate::udp::UdpIntercept;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::task::Poll;
use std::time::Duration;
use synack_core::{DecideError, UdpFlowDecision};

impl UdpIntercept {
    /// Hold the first datagram of each new flow until a [`UdpFlowRequest`] from
    /// [`next_flow`](UdpIntercept::next_flow) is answered, for at most `timeout` (then
    /// its datagrams are dropped and the flow's next datagram asks again). At most
    /// [`synack_core::UDP_HELD_FLOWS`] flows wait at once, their datagrams within one
    /// receive buffer; the rest are dropped and counted.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// use synack::{MemoryDevice, NetStack, UdpIntercept, UdpSocket};
    /// use std::time::Duration;
    /// let (a, b) = MemoryDevice::pair();
    /// let client_stack = NetStack::new(a, &["10.0.0.1".parse().unwrap()])?;
    /// let tunnel = NetStack::new(b, &["10.0.0.2".parse().unwrap()])?;
    /// let intercept = UdpIntercept::new(&tunnel).await?;
    /// intercept.decide_flows(Duration::from_secs(5))?;
    /// let client = UdpSocket::bind(&client_stack, "0.0.0.0:0").await?;
    /// client.connect("192.0.2.53:53").await?;
    /// client.send(b"query").await?;
    /// let flow = intercept.next_flow().await?;
    /// assert_eq!(flow.target(), "192.0.2.53:53".parse().unwrap());
    /// flow.refuse(); // as if the upstream could not be reached
    /// let err = client.recv(&mut [0u8; 16]).await.unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    /// # Ok(())
    /// # }
    /// ```
    pub fn decide_flows(&self, timeout: Duration) -> io::Result<()> {
        let mut inner = self.stack.lock();
        inner.check_running()?;
        inner.engine.set_udp_flow_decisions(Some(timeout));
        Ok(())
    }

    /// Wait for the next flow to decide (see [`decide_flows`](UdpIntercept::decide_flows)).
    pub async fn next_flow(&self) -> io::Result<UdpFlowRequest> {
        let stack = &self.stack;
        poll_fn(|cx| {
            let mut inner = stack.lock();
            if let Some(req) = inner.engine.poll_udp_flow_request() {
                return Poll::Ready(Ok(UdpFlowRequest {
                    stack: stack.clone(),
                    req,
                    decided: false,
                }));
            }
            if let Err(e) = inner.check_running() {
                return Poll::Ready(Err(e));
            }
            if !inner
                .udp_flow_waiters
                .iter()
                .any(|w| w.will_wake(cx.waker()))
            {
                inner.udp_flow_waiters.push(cx.waker().clone());
            }
            Poll::Pending
        })
        .await
    }
}

/// A new UDP flow whose first datagram waits until the application decides. Dropping
/// it undecided drops the datagram.
pub struct UdpFlowRequest {
    stack: StackRef,
    req: synack_core::UdpFlowRequest,
    decided: bool,
}

impl fmt::Debug for UdpFlowRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpFlowRequest")
            .field("client", &self.req.client)
            .field("target", &self.req.target)
            .finish()
    }
}

impl UdpFlowRequest {
    /// The client (the datagram's source).
    pub fn client(&self) -> SocketAddr {
        self.req.client
    }

    /// The original destination.
    pub fn target(&self) -> SocketAddr {
        self.req.target
    }

    /// Deliver the held datagrams to the intercept's [`recv`](UdpIntercept::recv),
    /// and the flow's later ones. `TimedOut` when the request was no longer held (its
    /// time ran out); an error too when the stack's flow table is full.
    pub fn accept(mut self) -> io::Result<()> {
        self.decided = true;
        let r = self.answer(UdpFlowDecision::Accept);
        r.map_err(|e| match e {
            DecideError::Unknown => io::Error::new(
                io::ErrorKind::TimedOut,
                "the flow is no longer held (decision too late)",
            ),
            DecideError::Full => io::Error::other("UDP flow table full"),
        })
    }

    /// Answer with ICMP port unreachable from the target, now and for the flow's
    /// later datagrams until it is idle.
    pub fn refuse(mut self) {
        self.decided = true;
        let _ = self.answer(UdpFlowDecision::Refuse);
    }

    /// Answer nothing (the same as dropping the request).
    pub fn ignore(mut self) {
        self.decided = true;
        let _ = self.answer(UdpFlowDecision::Drop);
    }

    fn answer(&self, d: UdpFlowDecision) -> Result<(), DecideError> {
        let r = {
            let mut inner = self.stack.lock();
            let now = self.stack.now();
            inner.engine.decide_udp_flow(now, &self.req, d)
        };
        self.stack.kick();
        r
    }
}

impl Drop for UdpFlowRequest {
    fn drop(&mut self) {
        if !self.decided {
            let _ = self.answer(UdpFlowDecision::Drop);
        }
    }
}
