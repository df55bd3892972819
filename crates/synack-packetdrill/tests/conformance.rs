//! Runs every script of the repository's `conformance/` suite against the engine,
//! in packetdrill's default semantics and in strict mode. A script that does not
//! pass both fails this test unless `conformance/divergences` lists it with side
//! `synack` (synack deliberately differs from the Linux behaviour the script
//! describes). A listed script that passes both is reported too, so the list
//! stays honest.
//!
//! Set `PKT_FILTER=substring` to run only matching scripts.

use std::path::PathBuf;
use synack_packetdrill::{run_script_text, Divergences, RunOptions, Side, Verdict};

fn suite_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../conformance")
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
    let list = Divergences::load_dir(&suite_dir()).expect("conformance/divergences parses");
    let mut problems = Vec::new();
    let (mut passed, mut diverging) = (0, 0);
    for path in &scripts {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(path).expect("readable script");
        let mut verdicts = Vec::new();
        for strict in [false, true] {
            let opts = RunOptions {
                strict,
                ..RunOptions::default()
            };
            let r = run_script_text(&format!("conformance/{name}"), &text, &opts);
            println!("{}{r}", if strict { "strict: " } else { "" });
            verdicts.push(r);
        }
        let all_pass = verdicts.iter().all(|r| r.verdict == Verdict::Pass);
        let listed = list.get(&name).is_some_and(|d| d.side == Side::Synack);
        match (all_pass, listed) {
            (true, false) => passed += 1,
            (true, true) => problems.push(format!("{name}: listed in divergences but passes")),
            (false, true) => diverging += 1,
            (false, false) => problems.extend(
                verdicts
                    .iter()
                    .filter(|r| r.verdict != Verdict::Pass)
                    .map(ToString::to_string),
            ),
        }
    }
    for d in list.names() {
        if !scripts
            .iter()
            .any(|p| p.file_name().unwrap().to_string_lossy() == d)
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
