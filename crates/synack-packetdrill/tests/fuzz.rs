//! The parser never panics: random text, random bytes (as lossy UTF-8) and
//! mutations of a valid script either parse or give a positioned error.

use proptest::prelude::*;
use synack_packetdrill::parse_script;

const SEED_SCRIPT: &str = r#"--tolerance_usecs=10000
`../common/defaults.sh`
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 setsockopt(3, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, 8) = 0
+0 connect(3, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr("192.0.2.1")}, 16) = -1 EINPROGRESS (Operation now in progress)
+0 > S 0:0(0) <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>
+.1 < [ce] S. 0:0(0) ack 1 win 5792 <mss 1460,nop,nop,sackOK,nop,wscale 6,FO abcd1234,nop,nop>
+0...0.2 poll([{fd=3, events=POLLIN|POLLOUT, revents=POLLOUT}], 1, 100) = 1
* > . 1:1(0) ack 1 <...>
0.1~0.2 > P.6 1:1001(1000) ack 1 <nop,nop,sack 1:2 3:4>
+0 < icmp unreachable frag_needed mtu 1200 [1:1001(1000)]
+0 < ipv6 1::1 > 2::2: 192.0.2.1:80 > 192.0.2.2:81 . 1:1(0) win 1
/* comment */ +0 %{ print(tcpi_rto) }% // trailing
+0 write(4, "abc"..., 3) = 3
"#;

/// Characters that make up packetdrill syntax, to build near-valid text.
const ALPHABET: &[char] = &[
    '0', '1', '9', '.', ':', '(', ')', '[', ']', '{', '}', '<', '>', '+', '-', '*', '~', ',', '=',
    '|', '"', '`', '%', '/', ' ', '\n', 'S', 'F', 'P', 'x', 'a', 'é', '\t', '#', '\\',
];

fn check(text: &str) {
    match parse_script(text) {
        Ok(script) => {
            // Whatever parsed can be printed without panicking.
            let _ = script.to_string();
        }
        Err(e) => {
            let lines = text.split('\n').count();
            assert!(e.line >= 1 && e.line <= lines, "bad line {e} for {text:?}");
            assert!(e.column >= 1, "bad column {e}");
            assert!(!e.message.is_empty());
        }
    }
}

#[test]
fn seed_script_parses() {
    let script = parse_script(SEED_SCRIPT).unwrap();
    assert_eq!(script.events.len(), 13);
}

#[derive(Debug, Clone)]
enum Mutation {
    Delete(usize),
    Insert(usize, char),
    Replace(usize, char),
    Duplicate(usize, usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let pos = 0usize..SEED_SCRIPT.len() + 8;
    let ch = prop::sample::select(ALPHABET);
    prop_oneof![
        pos.clone().prop_map(Mutation::Delete),
        (pos.clone(), ch.clone()).prop_map(|(p, c)| Mutation::Insert(p, c)),
        (pos.clone(), ch).prop_map(|(p, c)| Mutation::Replace(p, c)),
        (pos.clone(), 1usize..40).prop_map(|(p, n)| Mutation::Duplicate(p, n)),
        pos.prop_map(Mutation::Truncate),
    ]
}

fn apply(chars: &mut Vec<char>, m: &Mutation) {
    let len = chars.len();
    match *m {
        Mutation::Delete(p) if p < len => {
            chars.remove(p);
        }
        Mutation::Insert(p, c) => chars.insert(p.min(len), c),
        Mutation::Replace(p, c) if p < len => chars[p] = c,
        Mutation::Duplicate(p, n) if p < len => {
            let end = (p + n).min(len);
            let piece: Vec<char> = chars[p..end].to_vec();
            let at = end.min(chars.len());
            chars.splice(at..at, piece);
        }
        Mutation::Truncate(p) => chars.truncate(p),
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn mutated_scripts_never_panic(mutations in prop::collection::vec(mutation(), 1..12)) {
        let mut chars: Vec<char> = SEED_SCRIPT.chars().collect();
        for m in &mutations {
            apply(&mut chars, m);
        }
        let text: String = chars.into_iter().collect();
        check(&text);
    }

    #[test]
    fn random_syntax_soup_never_panics(chars in prop::collection::vec(prop::sample::select(ALPHABET), 0..200)) {
        let text: String = chars.into_iter().collect();
        check(&text);
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        check(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn random_strings_never_panic(text in "\\PC{0,200}") {
        check(&text);
    }
}
