//! Target `packetdrill`: the script parser on arbitrary text. A script either parses
//! or gives an error with a line and column inside the text; a parsed script prints
//! (Display) to text that parses again to the same script (line numbers aside: the
//! printer drops comments and blank lines).

use synack_packetdrill::{parse_script, Script};

fn without_lines(mut s: Script) -> Script {
    for e in &mut s.events {
        e.line = 0;
    }
    s
}

/// Runs the target on one input (bytes read as lossy UTF-8).
pub fn run(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match parse_script(&text) {
        Ok(script) => {
            let printed = script.to_string();
            match parse_script(&printed) {
                Ok(again) => assert_eq!(
                    without_lines(again),
                    without_lines(script),
                    "printing and parsing again changed the script:\n{printed}"
                ),
                Err(e) => panic!("the printed script does not parse ({e}):\n{printed}"),
            }
        }
        Err(e) => {
            let lines = text.split('\n').count();
            assert!(
                e.line >= 1 && e.line <= lines,
                "error line {} of {lines}",
                e.line
            );
            assert!(e.column >= 1, "error column {}", e.column);
            assert!(!e.message.is_empty(), "empty error message");
        }
    }
}
