//! Runs upstream packetdrill's TCP Fast Open scripts (`gtests/net/tcp/fastopen`,
//! written against Linux) against the engine and requires the ones listed below to
//! pass: each passes on Linux through `scripts/linux-oracle.sh` and on synack (see
//! CONFORMANCE.md for the rest and why they fail).
//!
//! The scripts are not part of this repository. The test looks for upstream's
//! `gtests/net/tcp` in `$SYNACK_UPSTREAM_TCP`, else in `shared/packetdrill` beside the
//! repository checkout, and skips with a printed reason when neither exists.

use std::path::{Path, PathBuf};
use synack_packetdrill::{run_script_file, RunOptions, Verdict};

/// Fast Open scripts (relative to `gtests/net/tcp`) that pass on Linux and on synack.
const PASSING: &[&str] = &[
    "fastopen/client/blocking-connect-bypass-errno.pkt",
    "fastopen/client/blocking-connect-bypass.pkt",
    "fastopen/client/blocking-sendmsg-multi-iov.pkt",
    "fastopen/client/blocking-sendto-errnos.pkt",
    "fastopen/client/blocking-sendto.pkt",
    "fastopen/client/cookie-req-timeout.pkt",
    "fastopen/client/fallback-exp-opt.pkt",
    "fastopen/client/fastopen-connect-keepalive.pkt",
    "fastopen/client/nonblocking-connect-bypass-errno.pkt",
    "fastopen/client/nonblocking-connect-bypass.pkt",
    "fastopen/client/nonblocking-sendmsg-multi-iov.pkt",
    "fastopen/client/nonblocking-sendto-empty-buf.pkt",
    "fastopen/client/nonblocking-sendto-errnos.pkt",
    "fastopen/client/nonblocking-sendto-over-mss.pkt",
    "fastopen/client/poll.pkt",
    "fastopen/client/sendto-af-unspec.pkt",
    "fastopen/client/syn-data-mss.pkt",
    "fastopen/client/syn-data-rtt-from-syn-data.pkt",
    "fastopen/client/syn-data-timeout.pkt",
    "fastopen/client/valid-cookie-format.pkt",
    "fastopen/server/basic-cookie-not-reqd.pkt",
    "fastopen/server/basic-non-tfo-listener.pkt",
    "fastopen/server/opt34/basic-cookie-not-reqd.pkt",
    "fastopen/server/opt34/basic-non-tfo-listener.pkt",
    "fastopen/server/opt34/basic-rw.pkt",
    "fastopen/server/opt34/basic-zero-payload.pkt",
    "fastopen/server/opt34/fin-close-socket.pkt",
    "fastopen/server/opt34/icmp-before-accept.pkt",
    "fastopen/server/opt34/listener-closed-trigger-rst.pkt",
    "fastopen/server/opt34/reset-after-accept.pkt",
    "fastopen/server/opt34/reset-before-accept.pkt",
    "fastopen/server/opt34/reset-close-with-unread-data.pkt",
    "fastopen/server/opt34/reset-non-tfo-socket.pkt",
    "fastopen/server/opt34/simple1.pkt",
    "fastopen/server/opt34/simple2.pkt",
    "fastopen/server/opt34/unread-data-closed-trigger-rst.pkt",
    "fastopen/server/simple1.pkt",
    "fastopen/server/simple2.pkt",
    "fastopen/server/simple3.pkt",
    "fastopen/server/sockopt-fastopen-key.pkt",
    "syscall_bad_arg/fastopen-invalid-buf-ptr.pkt",
];

fn upstream_dir() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("SYNACK_UPSTREAM_TCP").map(PathBuf::from),
        Some(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../../shared/packetdrill/gtests/net/tcp"),
        ),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|d| d.join("fastopen").is_dir())
}

#[test]
fn upstream_fastopen_scripts() {
    let Some(dir) = upstream_dir() else {
        println!(
            "skipped: upstream packetdrill's gtests/net/tcp not found (set SYNACK_UPSTREAM_TCP, \
             or put packetdrill's source in shared/packetdrill beside the checkout)"
        );
        return;
    };
    let mut failures = Vec::new();
    for rel in PASSING {
        let path = dir.join(rel);
        let r = run_script_file(&path, &RunOptions::default());
        if r.verdict != Verdict::Pass {
            failures.push(format!("{rel}: {:?}", r.verdict));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} upstream Fast Open scripts failed:\n{}",
        failures.len(),
        PASSING.len(),
        failures.join("\n")
    );
}
