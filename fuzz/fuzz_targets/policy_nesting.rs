//! Nesting in a policy upload: each input byte picks one construct that
//! deepens a Cedar expression (`(`, `[`, `{`, `if`, `!`, `-`, `.`, `has`,
//! `like`, `&&`), so short inputs reach depths that random text never does.
//! The policy target's byte-level fuzzing did not find the parser's stack
//! overflow at ~160 parentheses; this one finds it in seconds on a build
//! without the nesting bound.
#![no_main]
use civic_vault::authz::{PolicyEngine, PolicySources};
use libfuzzer_sys::fuzz_target;

const OPEN: [(&str, &str); 10] = [
    ("(", ")"),
    ("[", "].contains(true)"),
    ("{a: ", "} == {}"),
    ("if true then ", " else false"),
    ("!", ""),
    ("-", " == 1"),
    ("", ".a"),
    ("", " has a"),
    ("", " like \"a*\""),
    ("true && ", ""),
];

fuzz_target!(|data: &[u8]| {
    // Each byte picks a construct (low bits) and repeats it 1 to 128 times
    // (high bits), so a few hundred bytes reach depths of tens of thousands.
    let mut open = String::new();
    let mut close = Vec::new();
    for &b in data {
        let (o, c) = OPEN[usize::from(b & 0x0f) % OPEN.len()];
        for _ in 0..(1usize << (b >> 5)) {
            open.push_str(o);
            close.push(c);
        }
    }
    close.reverse();
    let text = format!(
        "permit(principal, action, resource) when {{ {open}context{} }};",
        close.concat()
    );
    let sources = PolicySources {
        editable: text,
        ..PolicySources::embedded()
    };
    let _ = PolicyEngine::compile(&sources, 1);
});
