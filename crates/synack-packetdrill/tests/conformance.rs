//! Runs every script of the repository's `conformance/` suite against the engine.
//! A script that does not pass fails this test unless `conformance/divergences`
//! lists it (one `name.pkt reason...` per line; `#` starts a comment). A listed
//! script that passes is reported too, so the list stays honest.
//!
//! Set `PKT_FILTER=substring` to run only matching scripts.

use std::path::PathBuf;
use synack_packetdrill::{run_script_text, RunOptions, Verdict};

fn suite_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../conformance")
}

fn divergences() -> Vec<String> {
    let text = std::fs::read_to_string(suite_dir().join("divergences")).unwrap_or_default();
    text.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

#[test]
fn conformance_suite() {
    let filter = std::env::var("PKT_FILTER").unwrap_or_default();
    let mut scripts: Vec<PathBuf> = std::fs::read_dir(suite_dir())
        .expect("conformance/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pkt"))
        .filter(|p| p.to_string_lossy().contains(&filter))
        .collect();
    scripts.sort();
    let allowed = divergences();
    let mut problems = Vec::new();
    let (mut passed, mut diverging) = (0, 0);
    for path in &scripts {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(path).expect("readable script");
        let r = run_script_text(
            &format!("conformance/{name}"),
            &text,
            &RunOptions::default(),
        );
        println!("{r}");
        let listed = allowed.contains(&name);
        match (&r.verdict, listed) {
            (Verdict::Pass, false) => passed += 1,
            (Verdict::Pass, true) => {
                problems.push(format!("{name}: listed in divergences but passes"))
            }
            (_, true) => diverging += 1,
            (_, false) => problems.push(r.to_string()),
        }
    }
    for d in &allowed {
        if !scripts
            .iter()
            .any(|p| p.file_name().unwrap().to_string_lossy() == *d)
            && filter.is_empty()
        {
            problems.push(format!("{d}: listed in divergences but no such script"));
        }
    }
    println!(
        "{passed} scripts pass, {diverging} listed divergences, {} problems",
        problems.len()
    );
    if filter.is_empty() {
        assert!(
            scripts.len() >= 80,
            "the suite should hold at least 80 scripts, found {}",
            scripts.len()
        );
    }
    assert!(
        problems.is_empty(),
        "conformance failures:\n{}",
        problems.join("\n")
    );
}
