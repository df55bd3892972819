//! Error types: one small enum per operation, plus [`ConnError`], the one reason a
//! connection died.

use core::fmt;

/// Why a connection ended abnormally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnError {
    /// The peer sent an acceptable RST (RFC 9293 §3.10.7.4, RFC 5961 §3.2).
    Reset,
    /// The peer answered our SYN with RST (RFC 9293 §3.10.7.3): nobody listens there.
    Refused,
    /// Retransmissions, keep-alive probes or the user timeout ran out.
    TimedOut,
    /// The local application aborted the connection.
    Aborted,
    /// The destination host is unreachable (EHOSTUNREACH): an ICMP destination
    /// unreachable (host codes, administratively prohibited) or time exceeded arrived
    /// while connecting, or was the last soft error when the connection timed out
    /// (RFC 1122 §4.2.3.9; what Linux `tcp_v4_err` reports).
    Unreachable,
    /// The destination network is unreachable (ENETUNREACH): ICMP net unreachable
    /// (ICMPv6: no route), reported like [`ConnError::Unreachable`].
    NetUnreachable,
    /// The protocol is unreachable at the destination (ENOPROTOOPT, as Linux maps
    /// ICMP protocol unreachable).
    ProtocolUnreachable,
    /// Communication is administratively prohibited (EACCES, as Linux maps ICMPv6
    /// destination unreachable codes 1, 5 and 6).
    Prohibited,
}

impl fmt::Display for ConnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConnError::Reset => "connection reset by peer",
            ConnError::Refused => "connection refused",
            ConnError::TimedOut => "connection timed out",
            ConnError::Aborted => "connection aborted",
            ConnError::Unreachable => "no route to host",
            ConnError::NetUnreachable => "network is unreachable",
            ConnError::ProtocolUnreachable => "protocol not available",
            ConnError::Prohibited => "communication administratively prohibited",
        })
    }
}

impl core::error::Error for ConnError {}

/// Why `connect` failed at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectError {
    /// No local address of the remote's family, or the remote cannot be a peer:
    /// unspecified, broadcast, multicast or port 0 (RFC 1122 §4.2.3.10).
    BadAddress,
    /// The chosen local address/port is taken (or its 4-tuple is in TIME-WAIT).
    AddrInUse,
    /// Every ephemeral port is taken for this destination.
    NoPorts,
    /// The stack holds its maximum number of connections.
    TooManyConnections,
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConnectError::BadAddress => "no usable local address for that destination",
            ConnectError::AddrInUse => "address in use",
            ConnectError::NoPorts => "no free ephemeral port",
            ConnectError::TooManyConnections => "too many connections",
        })
    }
}

impl core::error::Error for ConnectError {}

/// Why `listen` failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenError {
    /// Something already listens on that address and port.
    AddrInUse,
    /// The address is not one of the stack's.
    BadAddress,
}

impl fmt::Display for ListenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ListenError::AddrInUse => "address in use",
            ListenError::BadAddress => "address not assigned to this stack",
        })
    }
}

impl core::error::Error for ListenError {}

/// Why `send` accepted nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// The send buffer is full (or the connection is not yet established and the
    /// buffer is full); try again after a `Writable` event.
    WouldBlock,
    /// The sending side was shut down (FIN queued or sent): EPIPE.
    Shutdown,
    /// The connection died.
    Closed(ConnError),
    /// The handle does not name a live connection.
    InvalidHandle,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::WouldBlock => f.write_str("send buffer full"),
            SendError::Shutdown => f.write_str("sending side shut down"),
            SendError::Closed(e) => write!(f, "{e}"),
            SendError::InvalidHandle => f.write_str("invalid connection handle"),
        }
    }
}

impl core::error::Error for SendError {}

/// Why `recv` returned no data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecvError {
    /// Nothing to read yet; try again after a `Readable` event.
    WouldBlock,
    /// The connection died.
    Closed(ConnError),
    /// The connection has not been established yet (still connecting).
    NotConnected,
    /// The handle does not name a live connection.
    InvalidHandle,
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::WouldBlock => f.write_str("no data available"),
            RecvError::Closed(e) => write!(f, "{e}"),
            RecvError::NotConnected => f.write_str("not connected"),
            RecvError::InvalidHandle => f.write_str("invalid connection handle"),
        }
    }
}

impl core::error::Error for RecvError {}
