//! The `sysctl` shell commands a script may start with that map onto the engine's
//! [`Config`]: upstream scripts set Linux's limits that way (`sysctl -q
//! net.ipv4.tcp_retries2=3`), and honouring them lets a script check a bound with a
//! small count on both Linux and synack. Any other shell command is still skipped.

use synack_core::Config;

/// Apply `cmd` to `cfg` if it is `sysctl [-q] [-w] net.ipv4.NAME=VALUE...`: each
/// setting the engine has is applied; returns whether every one was (so the command
/// needs nothing else to be what the script means).
pub(super) fn apply(cfg: &mut Config, cmd: &str) -> bool {
    let mut words = cmd.split_whitespace();
    if words.next() != Some("sysctl") {
        return false;
    }
    let mut all = true;
    let mut any = false;
    for assignment in words.filter(|w| !w.starts_with('-')) {
        any = true;
        all &= apply_one(cfg, assignment);
    }
    any && all
}

/// One `NAME=VALUE`.
fn apply_one(cfg: &mut Config, assignment: &str) -> bool {
    let Some((name, value)) = assignment.split_once('=') else {
        return false;
    };
    let Ok(v) = value.parse::<u32>() else {
        return false;
    };
    match name {
        "net.ipv4.tcp_retries2" => cfg.retries = v,
        "net.ipv4.tcp_orphan_retries" => cfg.orphan_retries = v,
        "net.ipv4.tcp_max_orphans" => cfg.max_orphans = v as usize,
        "net.ipv4.tcp_syn_retries" => cfg.syn_retries = v,
        "net.ipv4.tcp_synack_retries" => cfg.synack_retries = v,
        _ => return false,
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_settings_are_applied_and_others_left() {
        let mut cfg = Config::linux();
        assert!(apply(&mut cfg, "sysctl -q net.ipv4.tcp_retries2=3"));
        assert_eq!(cfg.retries, 3);
        assert!(apply(&mut cfg, "sysctl -w net.ipv4.tcp_orphan_retries=2"));
        assert_eq!(cfg.orphan_retries, 2);
        assert!(!apply(&mut cfg, "sysctl -q net.ipv4.tcp_early_retrans=0"));
        assert!(!apply(&mut cfg, "sysctl -q net.ipv4.tcp_retries2=x"));
        assert!(!apply(&mut cfg, "echo net.ipv4.tcp_retries2=1"));
        assert_eq!(cfg.retries, 3);
        // Several at once: the known ones are applied.
        assert!(!apply(
            &mut cfg,
            "sysctl -q net.ipv4.tcp_retries2=5 net.ipv4.tcp_early_retrans=0"
        ));
        assert_eq!(cfg.retries, 5);
    }
}
