//! Bounds on how deeply a Cedar text may nest, checked before Cedar's parser
//! sees it, and the thread with a known stack that the parser then runs on.
//!
//! Cedar's parser turns its parse tree into expressions recursively, ten or
//! so frames for every `(`: a few hundred nested parentheses (370 bytes)
//! overflowed a worker thread's stack and aborted the whole process. So a
//! text is scanned first — strings and comments skipped — and refused with
//! the position of the first token past a bound:
//!
//! - brackets `(`, `[`, `{` nest at most [`MAX_BRACKETS`] deep;
//! - one policy (up to its `;`) holds at most [`MAX_OPERATORS`] of the tokens
//!   that deepen an expression without a bracket: `if`, `!`, `-`, `.`, `has`,
//!   `like`, `in`, `is`, `&&`, `||`, `+`, `*` and the comparisons.
//!
//! - one policy holds at most [`MAX_IFS`] `if`s: the symbolic compiler of the
//!   floor proof grows exponentially with nested `if`s (22 of them took 2 GB
//!   and 11 s, 26 over 7 GB), so this bound is what keeps a proof of a
//!   hostile candidate inside memory.
//!
//! The first two are far above what a policy needs (the shipped ones stay under 8
//! brackets and 200 operators) and far below what overflows, and everything
//! that parses, validates, proves or compiles a candidate runs on a thread of
//! [`PARSER_STACK`] bytes ([`on_parser_stack`]), so the margin does not rest on
//! the caller's stack. Decisions (Cedar's evaluator) check their own stack.

/// How deeply `(`, `[` and `{` may nest.
pub const MAX_BRACKETS: usize = 64;
/// How many expression operators one policy may hold.
pub const MAX_OPERATORS: usize = 2_000;
/// How many `if`s one policy may hold (2^12 symbolic branches at most).
pub const MAX_IFS: usize = 12;
/// The stack of the thread that parses, validates and proves.
pub const PARSER_STACK: usize = 256 * 1024 * 1024;

/// Where a text passes a bound, and which.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TooDeep {
    /// Byte offset of the token past the bound.
    pub offset: usize,
    pub message: String,
}

/// Scans `text` for the bounds above.
///
/// # Errors
/// The first token past a bound.
pub fn check(text: &str) -> Result<(), TooDeep> {
    let bytes = text.as_bytes();
    let (mut depth, mut operators, mut ifs, mut i) = (0usize, 0usize, 0usize, 0usize);
    while i < bytes.len() {
        let b = bytes[i];
        let start = i;
        i += 1;
        match b {
            b'"' => i = string_end(bytes, i),
            b'/' if bytes.get(i) == Some(&b'/') => i = line_end(bytes, i),
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > MAX_BRACKETS {
                    return Err(TooDeep {
                        offset: start,
                        message: format!(
                            "brackets nest more than {MAX_BRACKETS} deep here; a policy may nest `(`, `[` and `{{` at most {MAX_BRACKETS} levels"
                        ),
                    });
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            b';' if depth == 0 => (operators, ifs) = (0, 0),
            b'!' | b'-' | b'.' | b'+' | b'*' | b'<' | b'>' | b'&' | b'|' | b'=' => operators += 1,
            b if b.is_ascii_alphabetic() || b == b'_' => {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                let word = &bytes[start..i];
                if matches!(word, b"if" | b"has" | b"like" | b"in" | b"is") {
                    operators += 1;
                }
                if word == b"if" {
                    ifs += 1;
                    if ifs > MAX_IFS {
                        return Err(TooDeep {
                            offset: start,
                            message: format!(
                                "this policy holds more than {MAX_IFS} `if` expressions; split it into several policies"
                            ),
                        });
                    }
                }
            }
            _ => {}
        }
        if operators > MAX_OPERATORS {
            return Err(TooDeep {
                offset: start,
                message: format!(
                    "this policy holds more than {MAX_OPERATORS} operators; split it into several policies"
                ),
            });
        }
    }
    Ok(())
}

/// The index just past the string literal whose body starts at `i`
/// (backslash escapes skipped), or the end of the text.
fn string_end(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

fn line_end(bytes: &[u8], i: usize) -> usize {
    bytes[i..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |n| i + n + 1)
}

/// Runs `f` on a thread with a [`PARSER_STACK`]-byte stack and waits for it
/// (the stack is reserved address space; only the pages used are touched).
/// A panic in `f` is passed on.
///
/// # Errors
/// The operating system cannot start the thread.
pub fn on_parser_stack<T: Send>(f: impl FnOnce() -> T + Send) -> std::io::Result<T> {
    std::thread::scope(|s| {
        let handle = std::thread::Builder::new()
            .name("cedar-parse".into())
            .stack_size(PARSER_STACK)
            .spawn_scoped(s, f)?;
        Ok(handle.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_policies_are_well_inside_the_bounds() {
        let s = crate::authz::PolicySources::embedded();
        assert_eq!(check(&s.floor), Ok(()));
        assert_eq!(check(&s.editable), Ok(()));
    }

    #[test]
    fn brackets_past_the_bound_are_refused_where_they_pass_it() {
        let ok = format!(
            "permit(principal, action, resource) when {{ {}true{} }};",
            "(".repeat(60),
            ")".repeat(60)
        );
        assert_eq!(check(&ok), Ok(()));
        for open in ["(", "[", "{"] {
            let text = format!("permit(principal, action, resource) when {{ {}", open.repeat(100));
            let e = check(&text).err();
            // `when {` is one level: the 64th opener after it is the 65th level.
            let first = text.len() - 100;
            assert_eq!(e.map(|e| e.offset), Some(first + 63), "{open}");
        }
    }

    #[test]
    fn long_operator_chains_are_refused() {
        for op in ["!", "-", ".a", " has a", " like \"x\"", " && true"] {
            let text = format!(
                "permit(principal, action, resource) when {{ context{} }};",
                op.repeat(3_000)
            );
            assert!(check(&text).is_err(), "{op}");
        }
        let ifs = |n: usize| {
            format!(
                "permit(principal, action, resource) when {{ {}true{} }};",
                "if true then ".repeat(n),
                " else false".repeat(n)
            )
        };
        assert_eq!(check(&ifs(MAX_IFS)), Ok(()));
        assert!(check(&ifs(MAX_IFS + 1)).is_err_and(|e| e.message.contains("`if`")));
        // Each policy has its own budget.
        let one = format!(
            "permit(principal, action, resource) when {{ {} true }};\n",
            "true && ".repeat(900)
        );
        assert_eq!(check(&one.repeat(10)), Ok(()));
    }

    #[test]
    fn strings_and_comments_do_not_count() {
        let text = format!(
            "// {}\npermit(principal, action, resource) when {{ context.x == \"{}\\\"{}\" }};",
            "(".repeat(10_000),
            "(".repeat(10_000),
            "!".repeat(10_000)
        );
        assert_eq!(check(&text), Ok(()));
    }

    #[test]
    fn a_deep_stack_runs_what_a_small_one_cannot() {
        fn depth(n: u32) -> u32 {
            let pad = std::hint::black_box([0u8; 512]);
            if n == 0 {
                u32::from(pad[0])
            } else {
                depth(n - 1) + u32::from(pad[1])
            }
        }
        assert_eq!(on_parser_stack(|| depth(100_000)).ok(), Some(0));
    }
}
