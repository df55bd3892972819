//! IPv4 header view (RFC 791).
