//! The `divergences` file of a script directory: scripts where synack and Linux
//! deliberately differ, each with the side that differs and the reason.
//!
//! One entry per line, `#` starts a comment:
//!
//! ```text
//! NAME.pkt  synack  RFC 9293 §3.10.7.4 says ...; Linux ...
//! NAME.pkt  linux   RFC 5961 §4 says ...; Linux ...
//! ```
//!
//! - `synack`: the script says what Linux does (the Linux oracle must pass it);
//!   synack deliberately does otherwise, so [`run_files`](super::run_files) reports
//!   its failure as an expected divergence.
//! - `linux`: the script says what synack does (synack must pass it); Linux does
//!   otherwise, so the oracle (`scripts/linux-oracle.sh`) expects it to fail there.
//!
//! The reason should name the RFC section behind synack's choice and what Linux
//! does instead.

use std::collections::HashMap;
use std::path::Path;

/// Which side departs from the script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The script is Linux's behaviour; synack differs.
    Synack,
    /// The script is synack's behaviour; Linux differs.
    Linux,
}

/// One listed script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divergence {
    /// Which side does not do what the script says.
    pub side: Side,
    /// Why (the RFC section and what each side does).
    pub reason: String,
}

/// The entries of one `divergences` file, by script file name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Divergences {
    entries: HashMap<String, Divergence>,
}

impl Divergences {
    /// Parse the text of a `divergences` file. Errors name the line.
    pub fn parse(text: &str) -> Result<Divergences, String> {
        let mut entries = HashMap::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let mut words = line.split_whitespace();
            let name = words.next().unwrap_or("").to_string();
            let side = match words.next().unwrap_or("") {
                "synack" => Side::Synack,
                "linux" => Side::Linux,
                other => {
                    return Err(format!(
                        "divergences:{}: side must be `synack` or `linux`, not `{other}`",
                        i + 1
                    ))
                }
            };
            let reason = words.collect::<Vec<_>>().join(" ");
            if !name.ends_with(".pkt") || reason.is_empty() {
                return Err(format!(
                    "divergences:{}: expected `NAME.pkt SIDE reason`",
                    i + 1
                ));
            }
            if entries
                .insert(name.clone(), Divergence { side, reason })
                .is_some()
            {
                return Err(format!("divergences:{}: {name} listed twice", i + 1));
            }
        }
        Ok(Divergences { entries })
    }

    /// Read `dir/divergences`; a directory without one lists nothing.
    pub fn load_dir(dir: &Path) -> Result<Divergences, String> {
        match std::fs::read_to_string(dir.join("divergences")) {
            Ok(text) => Divergences::parse(&text).map_err(|e| {
                if dir.as_os_str().is_empty() {
                    e
                } else {
                    format!("{}/{e}", dir.display())
                }
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Divergences::default()),
            Err(e) => Err(format!("{}: {e}", dir.join("divergences").display())),
        }
    }

    /// The entry for a script file name (`foo.pkt`), if listed.
    pub fn get(&self, name: &str) -> Option<&Divergence> {
        self.entries.get(name)
    }

    /// Every listed script name, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.entries.keys().map(String::as_str).collect();
        v.sort_unstable();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sides_reasons_and_comments() {
        let d = Divergences::parse(
            "# header\n\na.pkt  synack  RFC 1 says x # trailing\nb.pkt linux RFC 2\n",
        )
        .unwrap();
        assert_eq!(d.names(), vec!["a.pkt", "b.pkt"]);
        assert_eq!(d.get("a.pkt").unwrap().side, Side::Synack);
        assert_eq!(d.get("a.pkt").unwrap().reason, "RFC 1 says x");
        assert_eq!(d.get("b.pkt").unwrap().side, Side::Linux);
        assert!(d.get("c.pkt").is_none());
    }

    #[test]
    fn rejects_bad_lines() {
        for bad in [
            "a.pkt reason without side\n",
            "a.pkt synack\n",
            "a.txt synack why\n",
            "a.pkt synack x\na.pkt linux y\n",
        ] {
            let e = Divergences::parse(bad).unwrap_err();
            assert!(e.starts_with("divergences:"), "{bad:?}: {e}");
        }
    }
}
