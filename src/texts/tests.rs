use fluent_bundle::FluentResource;
use fluent_syntax::ast::{Entry, Expression, InlineExpression, Pattern, PatternElement};

use super::*;
use crate::domain::access_report::ReportEntry;

/// Each message of a file: its id and the variables it uses.
fn messages(ftl: &str) -> Vec<(String, Vec<String>)> {
    let resource = FluentResource::try_new(ftl.to_owned()).unwrap_or_else(|(_, errors)| panic!("{errors:?}"));
    resource
        .entries()
        .filter_map(|e| match e {
            Entry::Message(m) => Some((
                m.id.name.to_owned(),
                m.value.as_ref().map(variables).unwrap_or_default(),
            )),
            _ => None,
        })
        .collect()
}

fn variables(p: &Pattern<&str>) -> Vec<String> {
    let mut vars: Vec<String> = p
        .elements
        .iter()
        .filter_map(|e| match e {
            PatternElement::Placeable {
                expression: Expression::Inline(InlineExpression::VariableReference { id }),
            } => Some(id.name.to_owned()),
            _ => None,
        })
        .collect();
    vars.sort();
    vars
}

#[test]
fn every_language_has_every_message_with_the_same_variables_and_parses_whole() {
    let english = messages(LANGUAGES[0].3);
    assert!(english.len() > 50, "{}", english.len());
    for (lang, tag, _, ftl) in LANGUAGES {
        assert_eq!(messages(ftl), english, "{tag}: ids, order and variables as in English");
        if lang != Language::English {
            assert!(
                ftl.starts_with("# DRAFT"),
                "{tag}: marked as a draft for the city's translators"
            );
        }
        for (id, vars) in &english {
            let args: Vec<(&str, &str)> = vars.iter().map(|v| (v.as_str(), "⟦x⟧")).collect();
            let said = text(lang, id, &args);
            assert_ne!(&said, id, "{tag}: {id} formats");
            assert_eq!(
                said.matches("⟦x⟧").count(),
                vars.len(),
                "{tag}: {id} places each variable"
            );
            assert!(!said.contains('{'), "{tag}: {id}: {said}");
            if lang != Language::English && !id.starts_with("word-") {
                assert_ne!(said, text(Language::English, id, &args), "{tag}: {id} is translated");
            }
        }
    }
}

#[test]
fn every_language_renders_the_notice_and_the_report_right_to_left_where_it_is_written_so() {
    let entry = ReportEntry {
        day: "2026-12-02".into(),
        asked_by: "nypl-12".into(),
        agency_kind: Some("city_partner".into()),
        purpose: "library_services".into(),
        released: vec!["card_valid".into(), "age_over_18".into()],
        outcome: "answered".into(),
    };
    for lang in Language::all() {
        let n = notice(lang, "Ana Pérez", "IDNYC", "Case 7", "2026-12-02");
        assert_eq!(n.paragraphs.len(), 4);
        assert!(n.paragraphs[0].contains("Ana Pérez"), "{}", lang.tag());
        assert!(n.paragraphs[1].contains("Case 7") && n.paragraphs[1].contains("2026-12-02"));
        let r = report(lang, "IDNYC", "AB12-CD34", "2026-12-07", std::slice::from_ref(&entry));
        assert!(r.title.contains("AB12-CD34"));
        assert!(r.rows[0][3].contains("18"), "{}: {:?}", lang.tag(), r.rows[0]);
        let l = letter(&r);
        assert!(l.starts_with("# ") && l.contains("| 2026-12-02 |"), "{l}");
        // Right-to-left text keeps an embedded name in its own direction.
        let rtl = lang.dir() == "rtl";
        assert_eq!(matches!(lang, Language::Arabic | Language::Urdu), rtl);
        assert_eq!(
            n.paragraphs[0].contains("\u{2068}Ana Pérez\u{2069}"),
            rtl,
            "{}",
            lang.tag()
        );
    }
}

#[test]
fn the_holders_languages_choose_the_text() {
    assert_eq!(Language::for_holder(&["es-US".into()]), Language::Spanish);
    assert_eq!(Language::for_holder(&["ase".into(), "es".into()]), Language::Spanish);
    assert_eq!(Language::for_holder(&["zh-Hans".into()]), Language::Chinese);
    assert_eq!(Language::for_holder(&["ar-EG".into()]), Language::Arabic);
    assert_eq!(Language::for_holder(&["de".into()]), Language::English);
    assert_eq!(Language::for_holder(&[]), Language::English);
    assert_eq!(Language::from_tag("zh-Hant"), Some(Language::Chinese));
    assert_eq!(Language::from_tag("x"), None);
    for lang in Language::all() {
        assert_eq!(Language::from_tag(lang.tag()), Some(lang));
    }
}

#[test]
fn stored_text_cannot_break_the_table() {
    let e = ReportEntry {
        day: "2026-12-02".into(),
        asked_by: "A | B\n# C".into(),
        agency_kind: None,
        purpose: "library_services".into(),
        released: vec![],
        outcome: "refused".into(),
    };
    let l = letter(&report(Language::English, "IDNYC", "AAAA", "2026-12-02", &[e]));
    assert!(
        l.contains("| 2026-12-02 | A   B # C | library services | nothing (refused) |"),
        "{l}"
    );
    assert!(!l.contains("\n# C"));
}
