//! Parser for [packetdrill](https://github.com/google/packetdrill) test
//! scripts, the conformance format used to drive synack in virtual time.
//!
//! A script is a list of command-line options followed by timed events:
//!
//! ```text
//! --tolerance_usecs=10000
//! 0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
//! +0  bind(3, ..., ...) = 0
//! +0  listen(3, 1) = 0
//! +0  < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>
//! +0  > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 8>
//! +.1 < . 1:1(0) ack 1 win 257
//! +0  accept(3, ..., ...) = 4
//! ```
//!
//! [`parse_script`] turns such text into a [`Script`]: every event carries
//! its source line, its [`EventTime`] and an [`EventKind`] — a packet to
//! inject or expect ([`PacketEvent`], printable back in packetdrill notation
//! through `Display`), a system call with argument [`Expr`]essions, a
//! backquoted shell command or a `%{ }%` code block (kept as their own nodes
//! so a runner can report them as skipped). Errors are [`ParseError`]s with
//! line and column; no input makes the parser panic.
//!
//! Modules:
//! - [`ast`]: the syntax tree types and their `Display` impls;
//! - [`parser`]: the grammar, semantic checks and [`ParseError`];
//! - [`runner`]: runs a script against `synack-core` in virtual time
//!   ([`run_files`] is what `synack packetdrill` calls), by default with upstream
//!   packetdrill's semantics and with more checks under [`RunOptions::strict`];
//!   [`Divergences`] reads a suite's list of deliberate differences from Linux;
//! - `lexer` (private): tokens with positions.

pub mod ast;
mod lexer;
pub mod parser;
pub mod runner;

pub use ast::*;
pub use parser::{parse_script, ParseError};
pub use runner::divergences::{Divergence, Divergences, Side};
pub use runner::{
    run_files, run_script, run_script_file, run_script_text, Failure, RunOptions, ScriptResult,
    Summary, Verdict,
};
