//! How engine errors become `std::io::Error`s with the kinds tokio::net users expect:
//! each engine error maps to the `io::ErrorKind` a kernel socket would give for the
//! same cause.

use std::io;
use synack_core::{ConnError, ConnectError, ListenError, RecvError, SendError};

/// The error for a connection that died for `e`.
pub(crate) fn conn_error(e: ConnError) -> io::Error {
    let kind = match e {
        ConnError::Reset => io::ErrorKind::ConnectionReset,
        ConnError::Refused => io::ErrorKind::ConnectionRefused,
        ConnError::TimedOut => io::ErrorKind::TimedOut,
        ConnError::Aborted => io::ErrorKind::ConnectionAborted,
        ConnError::Unreachable => return unreachable_error(),
    };
    io::Error::new(kind, e)
}

/// EHOSTUNREACH, whose `ErrorKind` (HostUnreachable) is newer than the workspace MSRV.
fn unreachable_error() -> io::Error {
    #[cfg(unix)]
    {
        io::Error::from_raw_os_error(libc::EHOSTUNREACH)
    }
    #[cfg(not(unix))]
    {
        io::Error::other(ConnError::Unreachable)
    }
}

/// The error for a failed `send`.
pub(crate) fn send_error(e: SendError) -> io::Error {
    match e {
        SendError::WouldBlock => io::ErrorKind::WouldBlock.into(),
        SendError::Shutdown => io::Error::new(io::ErrorKind::BrokenPipe, e),
        SendError::Closed(c) => conn_error(c),
        SendError::InvalidHandle => not_connected(),
    }
}

/// The error for a failed `recv`.
pub(crate) fn recv_error(e: RecvError) -> io::Error {
    match e {
        RecvError::WouldBlock => io::ErrorKind::WouldBlock.into(),
        RecvError::Closed(c) => conn_error(c),
        RecvError::NotConnected | RecvError::InvalidHandle => not_connected(),
    }
}

/// The error for a failed `connect` call.
pub(crate) fn connect_error(e: ConnectError) -> io::Error {
    let kind = match e {
        ConnectError::BadAddress | ConnectError::NoPorts => io::ErrorKind::AddrNotAvailable,
        ConnectError::AddrInUse => io::ErrorKind::AddrInUse,
        ConnectError::TooManyConnections => io::ErrorKind::Other,
    };
    io::Error::new(kind, e)
}

/// The error for a failed `listen` call.
pub(crate) fn listen_error(e: ListenError) -> io::Error {
    let kind = match e {
        ListenError::AddrInUse => io::ErrorKind::AddrInUse,
        ListenError::BadAddress => io::ErrorKind::AddrNotAvailable,
    };
    io::Error::new(kind, e)
}

/// ENOTCONN: the connection is gone (freed) or not yet there.
pub(crate) fn not_connected() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "socket is not connected")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_match_the_documented_table() {
        assert_eq!(
            conn_error(ConnError::Refused).kind(),
            io::ErrorKind::ConnectionRefused
        );
        assert_eq!(
            conn_error(ConnError::Reset).kind(),
            io::ErrorKind::ConnectionReset
        );
        assert_eq!(
            conn_error(ConnError::TimedOut).kind(),
            io::ErrorKind::TimedOut
        );
        assert_eq!(
            send_error(SendError::Shutdown).kind(),
            io::ErrorKind::BrokenPipe
        );
        assert_eq!(
            listen_error(ListenError::AddrInUse).kind(),
            io::ErrorKind::AddrInUse
        );
        assert_eq!(
            recv_error(RecvError::InvalidHandle).kind(),
            io::ErrorKind::NotConnected
        );
        #[cfg(unix)]
        assert_eq!(
            conn_error(ConnError::Unreachable).raw_os_error(),
            Some(libc::EHOSTUNREACH)
        );
    }
}
