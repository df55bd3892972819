//! Replays every committed fuzz input (fuzz/corpus/<target>/ and
//! fuzz/regressions/<target>/) through the target bodies on the stable toolchain.

use synack_fuzz::{corpus, TARGETS};

#[test]
fn corpora_replay() {
    let mut total = 0;
    for &(name, body) in TARGETS {
        let n = corpus::replay("corpus", name, body);
        println!("{name}: {n} corpus inputs");
        assert!(n > 0, "fuzz/corpus/{name} is empty or missing");
        total += n;
    }
    println!("{total} corpus inputs replayed");
}

#[test]
fn regressions_replay() {
    for &(name, body) in TARGETS {
        let n = corpus::replay("regressions", name, body);
        println!("{name}: {n} regression inputs");
    }
}
