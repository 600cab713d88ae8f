//! Free text staff type into records that end up in letters and logs
//! (legal references, requester names, policy comments): printable, and
//! without the characters that make text read other than it is — controls,
//! bidirectional overrides and isolates (U+202E turns "txt.exe" into
//! "exe.txt"), zero-width and other invisible format characters.
//!
//! Applicants' names are not held to this: ZWJ and ZWNJ belong in names
//! written in Persian, Hindi and other scripts.

/// Whether `c` is a control or an invisible / direction-changing format character.
#[must_use]
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00AD}'                 // soft hyphen
            | '\u{061C}'               // Arabic letter mark
            | '\u{115F}' | '\u{1160}'  // Hangul fillers
            | '\u{180E}'               // Mongolian vowel separator
            | '\u{200B}'..='\u{200F}'  // zero-width space, non-joiner, joiner, LRM, RLM
            | '\u{202A}'..='\u{202E}'  // embeddings and overrides
            | '\u{2060}'..='\u{2064}'  // word joiner, invisible operators
            | '\u{2066}'..='\u{206F}'  // isolates and deprecated format characters
            | '\u{3164}'               // Hangul filler
            | '\u{FEFF}'               // zero-width no-break space
            | '\u{FFA0}'               // halfwidth Hangul filler
            | '\u{FFF9}'..='\u{FFFB}'  // interlinear annotation
            | '\u{E0000}'..='\u{E007F}' // tags
        )
}

/// Whether `s` is plain text: no [`is_hidden`] character.
#[must_use]
pub fn is_plain(s: &str) -> bool {
    !s.chars().any(is_hidden)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_characters_are_found_and_ordinary_text_passes() {
        for bad in [
            "a\u{202E}b",
            "x\u{200B}",
            "\u{2066}y\u{2069}",
            "z\u{FEFF}",
            "tab\there",
            "\u{E0041}",
        ] {
            assert!(!is_plain(bad), "{bad:?}");
        }
        for ok in [
            "Case 24-CV-118",
            "Mercy Shelter",
            "José Núñez",
            "Ministère",
            "東京地方裁判所",
            "محكمة",
        ] {
            assert!(is_plain(ok), "{ok}");
        }
    }
}
