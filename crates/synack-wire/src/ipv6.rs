//! IPv6 header view (RFC 8200).
