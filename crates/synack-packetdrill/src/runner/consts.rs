//! Linux constants the runner understands in scripts: errno names and numbers,
//! socket-API symbols (`SOL_SOCKET`, `TCP_NODELAY`, `POLLIN`, `O_NONBLOCK`, ...),
//! and evaluation of integer argument expressions built from them.
//!
//! Values are those of Linux on x86-64 (asm-generic), since packetdrill scripts are
//! written against Linux.

use crate::ast::Expr;

/// Linux errno values by name (asm-generic/errno-base.h, errno.h).
const ERRNOS: &[(&str, i64)] = &[
    ("EPERM", 1),
    ("ENOENT", 2),
    ("EINTR", 4),
    ("EIO", 5),
    ("EBADF", 9),
    ("EAGAIN", 11),
    ("EWOULDBLOCK", 11),
    ("ENOMEM", 12),
    ("EACCES", 13),
    ("EFAULT", 14),
    ("EBUSY", 16),
    ("EEXIST", 17),
    ("EINVAL", 22),
    ("EPIPE", 32),
    ("ENOTSOCK", 88),
    ("EDESTADDRREQ", 89),
    ("EMSGSIZE", 90),
    ("ENOPROTOOPT", 92),
    ("EOPNOTSUPP", 95),
    ("EAFNOSUPPORT", 97),
    ("EADDRINUSE", 98),
    ("EADDRNOTAVAIL", 99),
    ("ENETUNREACH", 101),
    ("ECONNABORTED", 103),
    ("ECONNRESET", 104),
    ("ENOBUFS", 105),
    ("EISCONN", 106),
    ("ENOTCONN", 107),
    ("ETIMEDOUT", 110),
    ("ECONNREFUSED", 111),
    ("EHOSTUNREACH", 113),
    ("EALREADY", 114),
    ("EINPROGRESS", 115),
];

/// Socket-API symbols by name.
const SYMBOLS: &[(&str, i64)] = &[
    ("AF_INET", 2),
    ("AF_INET6", 10),
    ("PF_INET", 2),
    ("PF_INET6", 10),
    ("SOCK_STREAM", 1),
    ("SOCK_DGRAM", 2),
    ("IPPROTO_IP", 0),
    ("IPPROTO_TCP", 6),
    ("IPPROTO_UDP", 17),
    ("SOL_SOCKET", 1),
    ("SOL_TCP", 6),
    ("SO_DEBUG", 1),
    ("SO_REUSEADDR", 2),
    ("SO_TYPE", 3),
    ("SO_ERROR", 4),
    ("SO_SNDBUF", 7),
    ("SO_RCVBUF", 8),
    ("SO_KEEPALIVE", 9),
    ("SO_LINGER", 13),
    ("SO_REUSEPORT", 15),
    ("SO_RCVLOWAT", 18),
    ("TCP_NODELAY", 1),
    ("TCP_MAXSEG", 2),
    ("TCP_CORK", 3),
    ("TCP_KEEPIDLE", 4),
    ("TCP_KEEPINTVL", 5),
    ("TCP_KEEPCNT", 6),
    ("TCP_SYNCNT", 7),
    ("TCP_LINGER2", 8),
    ("TCP_DEFER_ACCEPT", 9),
    ("TCP_WINDOW_CLAMP", 10),
    ("TCP_INFO", 11),
    ("TCP_QUICKACK", 12),
    ("TCP_CONGESTION", 13),
    ("TCP_USER_TIMEOUT", 18),
    ("TCP_FASTOPEN", 23),
    ("TCP_NOTSENT_LOWAT", 25),
    ("TCP_INQ", 36),
    ("TCP_CM_INQ", 36),
    ("SO_ZEROCOPY", 60),
    ("MSG_ZEROCOPY", 0x400_0000),
    ("EPOLLIN", 0x1),
    ("EPOLLPRI", 0x2),
    ("EPOLLOUT", 0x4),
    ("EPOLLERR", 0x8),
    ("EPOLLHUP", 0x10),
    ("EPOLLRDNORM", 0x40),
    ("EPOLLWRNORM", 0x100),
    ("EPOLLRDHUP", 0x2000),
    ("EPOLLET", 0x8000_0000),
    ("EPOLL_CTL_ADD", 1),
    ("EPOLL_CTL_DEL", 2),
    ("EPOLL_CTL_MOD", 3),
    ("TCP_FASTOPEN_CONNECT", 30),
    ("TCP_FASTOPEN_KEY", 33),
    ("TCP_FASTOPEN_NO_COOKIE", 34),
    ("SOL_IP", 0),
    ("SHUT_RD", 0),
    ("SHUT_WR", 1),
    ("SHUT_RDWR", 2),
    ("F_GETFL", 3),
    ("F_SETFL", 4),
    ("O_RDONLY", 0),
    ("O_WRONLY", 1),
    ("O_RDWR", 2),
    ("O_NONBLOCK", 0x800),
    ("MSG_PEEK", 2),
    ("MSG_DONTWAIT", 0x40),
    ("MSG_NOSIGNAL", 0x4000),
    ("MSG_FASTOPEN", 0x2000_0000),
    ("MSG_EOR", 0x80),
    ("MSG_MORE", 0x8000),
    ("POLLIN", 0x1),
    ("POLLPRI", 0x2),
    ("POLLOUT", 0x4),
    ("POLLERR", 0x8),
    ("POLLHUP", 0x10),
    ("POLLNVAL", 0x20),
    ("POLLRDNORM", 0x40),
    ("POLLRDBAND", 0x80),
    ("POLLWRNORM", 0x100),
    ("POLLWRBAND", 0x200),
    ("POLLRDHUP", 0x2000),
    ("FIONREAD", 0x541B),
    ("SIOCINQ", 0x541B),
    ("SIOCOUTQ", 0x5411),
    ("TIOCOUTQ", 0x5411),
];

/// `POLLIN`.
pub(crate) const POLLIN: u32 = 0x1;
/// `POLLOUT`.
pub(crate) const POLLOUT: u32 = 0x4;
/// `POLLERR`.
pub(crate) const POLLERR: u32 = 0x8;
/// `POLLHUP`.
pub(crate) const POLLHUP: u32 = 0x10;
/// `POLLRDNORM`.
pub(crate) const POLLRDNORM: u32 = 0x40;
/// `POLLWRNORM`.
pub(crate) const POLLWRNORM: u32 = 0x100;
/// `POLLRDHUP`.
pub(crate) const POLLRDHUP: u32 = 0x2000;
/// `O_NONBLOCK`.
pub(crate) const O_NONBLOCK: i64 = 0x800;
/// `O_RDWR`.
pub(crate) const O_RDWR: i64 = 2;
/// `MSG_DONTWAIT`.
pub(crate) const MSG_DONTWAIT: i64 = 0x40;
/// `MSG_MORE`.
pub(crate) const MSG_MORE: i64 = 0x8000;
/// `MSG_FASTOPEN`.
pub(crate) const MSG_FASTOPEN: i64 = 0x2000_0000;

/// The number of errno `name`.
pub(crate) fn errno_value(name: &str) -> Option<i64> {
    ERRNOS.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

/// The name of errno `value` (the first name for aliases).
pub(crate) fn errno_name(value: i64) -> String {
    ERRNOS
        .iter()
        .find(|(_, v)| *v == value)
        .map_or_else(|| format!("errno {value}"), |(n, _)| (*n).to_string())
}

/// The value of a symbol (socket API constant or errno name).
pub(crate) fn symbol_value(name: &str) -> Option<i64> {
    SYMBOLS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| *v)
        .or_else(|| errno_value(name))
}

/// Evaluate an integer expression: a literal, a known symbol, `a|b|c`, `htons(x)`
/// / `htonl(x)` (identity: the runner works in host values), or `[x]` (a one-element
/// array, as `setsockopt` values are written).
pub(crate) fn eval_int(e: &Expr) -> Result<i64, String> {
    match e {
        Expr::Int { value, .. } => Ok(*value),
        Expr::Symbol(s) => symbol_value(s).ok_or_else(|| format!("unknown symbol `{s}`")),
        Expr::BitOr(parts) => {
            let mut v = 0;
            for p in parts {
                v |= eval_int(p)?;
            }
            Ok(v)
        }
        Expr::Call { name, args } if (name == "htons" || name == "htonl") && args.len() == 1 => {
            eval_int(&args[0])
        }
        Expr::Array(items) if items.len() == 1 => eval_int(&items[0]),
        other => Err(format!("expected an integer, found `{other}`")),
    }
}

/// `POLLIN|POLLOUT`-style rendering of poll flags.
pub(crate) fn poll_flags_to_string(v: u32) -> String {
    let names = [
        (0x1, "POLLIN"),
        (0x2, "POLLPRI"),
        (0x4, "POLLOUT"),
        (0x8, "POLLERR"),
        (0x10, "POLLHUP"),
        (0x20, "POLLNVAL"),
        (0x40, "POLLRDNORM"),
        (0x80, "POLLRDBAND"),
        (0x100, "POLLWRNORM"),
        (0x200, "POLLWRBAND"),
        (0x2000, "POLLRDHUP"),
    ];
    let parts: Vec<&str> = names
        .iter()
        .filter(|(bit, _)| v & bit != 0)
        .map(|(_, n)| *n)
        .collect();
    if parts.is_empty() {
        "0".to_string()
    } else {
        parts.join("|")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_and_errnos() {
        assert_eq!(symbol_value("POLLRDHUP"), Some(0x2000));
        assert_eq!(errno_value("EINPROGRESS"), Some(115));
        assert_eq!(errno_name(104), "ECONNRESET");
        let e = Expr::BitOr(vec![
            Expr::Symbol("O_RDWR".into()),
            Expr::Symbol("O_NONBLOCK".into()),
        ]);
        assert_eq!(eval_int(&e), Ok(0x802));
        assert!(eval_int(&Expr::Symbol("NOPE".into())).is_err());
        assert_eq!(poll_flags_to_string(0x5), "POLLIN|POLLOUT");
    }
}
