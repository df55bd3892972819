//! # synack-fuzz
//!
//! The bodies of synack's coverage-guided fuzz targets, kept in a normal library that
//! builds on the stable toolchain. Two drivers call them:
//! - `fuzz/` (cargo-fuzz, libFuzzer, nightly) runs each body millions of times on
//!   mutated inputs;
//! - this crate's tests replay every committed input of `fuzz/corpus/<target>/` and
//!   `fuzz/regressions/<target>/` through the same bodies, on stable, in seconds.
//!
//! Each target takes the fuzzer's bytes and panics when it finds a bug: a panic in the
//! code under test, or a broken invariant the target checks (named in the panic
//! message). See FUZZING.md for the commands and the figures of the long runs.

pub mod corpus;
pub mod engine;
pub mod packetdrill;
pub mod pcap;
pub mod wire;

/// A target body: takes the fuzzer's bytes, panics on a bug.
pub type Target = fn(&[u8]);

/// The targets by name, as `fuzz/fuzz_targets/<name>.rs` and the corpus directories
/// name them.
pub const TARGETS: &[(&str, Target)] = &[
    ("wire", wire::run),
    ("engine", engine::run),
    ("packetdrill", packetdrill::run),
    ("pcap", pcap::run),
];
