//! What the root tests over TUN devices and network namespaces share: the check of
//! whether they can run here (root, `/dev/net/tun`, the tools they call), so that
//! each skips with the same kind of printed reason.

use std::process::Command;

/// Why a root test over TUN cannot run here: not root, no `/dev/net/tun`, or one of
/// `tools` missing (each given with an argument that makes it print its version and
/// exit, such as `("ip", "-V")`). `None` when it can run.
pub(crate) fn root_skip_reason(tools: &[(&str, &str)]) -> Option<String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        return Some(format!(
            "not root (euid {euid}): needs root (or CAP_NET_ADMIN) for TUN and netns"
        ));
    }
    if !std::path::Path::new("/dev/net/tun").exists() {
        return Some("/dev/net/tun is missing".into());
    }
    for (tool, arg) in tools {
        if Command::new(tool).arg(arg).output().is_err() {
            return Some(format!(
                "`{tool}` is missing (scripts/setup.sh installs it)"
            ));
        }
    }
    None
}
