//! How engine errors become `std::io::Error`s with the kinds tokio::net users expect:
//! each engine error maps to the `io::ErrorKind` a kernel socket would give for the
//! same cause.

use std::io;
use synack_core::{ConnError, ConnectError, ListenError, RecvError, SendError};

/// The error for a connection that died for `e`. ICMP-reported errors carry the errno
/// Linux gives (EHOSTUNREACH, ENETUNREACH, ENOPROTOOPT, EACCES), so `raw_os_error`
/// matches a kernel socket and `kind()` is `HostUnreachable`, `NetworkUnreachable`,
/// ... as std derives it from the errno.
pub(crate) fn conn_error(e: ConnError) -> io::Error {
    let kind = match e {
        ConnError::Reset => io::ErrorKind::ConnectionReset,
        ConnError::Refused => io::ErrorKind::ConnectionRefused,
        ConnError::TimedOut => io::ErrorKind::TimedOut,
        ConnError::Aborted => io::ErrorKind::ConnectionAborted,
        ConnError::Unreachable => return os_error(e, io::ErrorKind::HostUnreachable),
        ConnError::NetUnreachable => return os_error(e, io::ErrorKind::NetworkUnreachable),
        ConnError::ProtocolUnreachable => return os_error(e, io::ErrorKind::Other),
        ConnError::Prohibited => return os_error(e, io::ErrorKind::PermissionDenied),
    };
    io::Error::new(kind, e)
}

/// The errno Linux reports for an ICMP-signalled `e`, as an `io::Error` (`kind` where
/// there is no errno).
fn os_error(e: ConnError, kind: io::ErrorKind) -> io::Error {
    #[cfg(unix)]
    {
        let errno = match e {
            ConnError::NetUnreachable => libc::ENETUNREACH,
            ConnError::ProtocolUnreachable => libc::ENOPROTOOPT,
            ConnError::Prohibited => libc::EACCES,
            _ => libc::EHOSTUNREACH,
        };
        let _ = kind;
        io::Error::from_raw_os_error(errno)
    }
    #[cfg(not(unix))]
    {
        io::Error::new(kind, e)
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
        #[cfg(unix)]
        assert_eq!(
            conn_error(ConnError::NetUnreachable).raw_os_error(),
            Some(libc::ENETUNREACH)
        );
        assert_eq!(
            conn_error(ConnError::Unreachable).kind(),
            io::ErrorKind::HostUnreachable
        );
        assert_eq!(
            conn_error(ConnError::NetUnreachable).kind(),
            io::ErrorKind::NetworkUnreachable
        );
        assert_eq!(
            conn_error(ConnError::Prohibited).kind(),
            io::ErrorKind::PermissionDenied
        );
    }
}
