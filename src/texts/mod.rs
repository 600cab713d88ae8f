//! What the vault writes to a cardholder — the notice of an answered legal
//! request and the access report — in the holder's language, through
//! Project Fluent (`fluent-bundle`): one `locales/<tag>/cardholder.ftl` per
//! language, compiled in, that a city's translators can read and correct.
//! English is the source; the others are drafts marked for the city's
//! translators to confirm (NYC's ten Local Law 30 languages). A message
//! missing from a language falls back to English.

mod report;

use std::sync::LazyLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource};

pub use report::{letter, report, ReportText};

/// The languages cardholder texts are written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    English,
    Spanish,
    Chinese,
    Russian,
    Bengali,
    HaitianCreole,
    Korean,
    Arabic,
    Urdu,
    French,
    Polish,
}

/// Each language: the value, its BCP 47 tag, its name in itself, its file.
const LANGUAGES: [(Language, &str, &str, &str); 11] = [
    (
        Language::English,
        "en",
        "English",
        include_str!("../../locales/en/cardholder.ftl"),
    ),
    (
        Language::Spanish,
        "es",
        "Español",
        include_str!("../../locales/es/cardholder.ftl"),
    ),
    (
        Language::Chinese,
        "zh-Hant",
        "中文（繁體）",
        include_str!("../../locales/zh-Hant/cardholder.ftl"),
    ),
    (
        Language::Russian,
        "ru",
        "Русский",
        include_str!("../../locales/ru/cardholder.ftl"),
    ),
    (
        Language::Bengali,
        "bn",
        "বাংলা",
        include_str!("../../locales/bn/cardholder.ftl"),
    ),
    (
        Language::HaitianCreole,
        "ht",
        "Kreyòl ayisyen",
        include_str!("../../locales/ht/cardholder.ftl"),
    ),
    (
        Language::Korean,
        "ko",
        "한국어",
        include_str!("../../locales/ko/cardholder.ftl"),
    ),
    (
        Language::Arabic,
        "ar",
        "العربية",
        include_str!("../../locales/ar/cardholder.ftl"),
    ),
    (
        Language::Urdu,
        "ur",
        "اردو",
        include_str!("../../locales/ur/cardholder.ftl"),
    ),
    (
        Language::French,
        "fr",
        "Français",
        include_str!("../../locales/fr/cardholder.ftl"),
    ),
    (
        Language::Polish,
        "pl",
        "Polski",
        include_str!("../../locales/pl/cardholder.ftl"),
    ),
];

impl Language {
    /// Every language, English first.
    pub fn all() -> impl Iterator<Item = Self> {
        LANGUAGES.iter().map(|l| l.0)
    }

    fn entry(self) -> &'static (Language, &'static str, &'static str, &'static str) {
        // LANGUAGES lists every variant, in declaration order.
        &LANGUAGES[self as usize]
    }

    /// The BCP 47 tag (for a page's `lang`, and the API's `language`).
    #[must_use]
    pub fn tag(self) -> &'static str {
        self.entry().1
    }

    /// The language's name in itself.
    #[must_use]
    pub fn name(self) -> &'static str {
        self.entry().2
    }

    /// The text direction (for a page's `dir`).
    #[must_use]
    pub fn dir(self) -> &'static str {
        if matches!(self, Self::Arabic | Self::Urdu) {
            "rtl"
        } else {
            "ltr"
        }
    }

    /// The language a BCP 47 tag asks for, by its primary subtag (`es-US`
    /// is Spanish; any `zh` is the Traditional Chinese the texts are in).
    #[must_use]
    pub fn from_tag(tag: &str) -> Option<Self> {
        let primary = tag.split(['-', '_']).next().unwrap_or_default().to_ascii_lowercase();
        Self::all().find(|l| l.tag().split('-').next() == Some(primary.as_str()))
    }

    /// The first of the holder's languages (BCP 47) the texts are written
    /// in, else English.
    #[must_use]
    pub fn for_holder(languages: &[String]) -> Self {
        languages
            .iter()
            .find_map(|l| Self::from_tag(l))
            .unwrap_or(Self::English)
    }

    /// The tags of every language, for an error message.
    #[must_use]
    pub fn tags() -> String {
        Self::all().map(Self::tag).collect::<Vec<_>>().join(", ")
    }
}

/// One bundle per language, in `LANGUAGES` order, parsed once.
static BUNDLES: LazyLock<Vec<FluentBundle<FluentResource>>> = LazyLock::new(|| {
    LANGUAGES
        .iter()
        .map(|(lang, tag, _, ftl)| bundle(*lang, tag, ftl))
        .collect()
});

/// A language's bundle. A file that does not parse whole keeps the messages
/// that do (Fluent's recovery) and the rest fall back to English; the test
/// below refuses any such file, so a shipped one never does.
fn bundle(lang: Language, tag: &str, ftl: &str) -> FluentBundle<FluentResource> {
    let resource = FluentResource::try_new(ftl.to_owned()).unwrap_or_else(|(partial, _)| partial);
    let id = tag.parse().unwrap_or_default();
    let mut bundle = FluentBundle::new_concurrent(vec![id]);
    // Unicode isolation marks keep an embedded name or number in its own
    // direction inside right-to-left text; left-to-right text needs none.
    bundle.set_use_isolating(lang.dir() == "rtl");
    // Only a message defined twice is refused, and the test refuses that.
    let _ = bundle.add_resource(resource);
    bundle
}

/// Message `id` in `lang` with `args`, or in English when `lang` lacks it,
/// or the id itself (never for a shipped message: the test checks).
#[must_use]
pub fn text(lang: Language, id: &str, args: &[(&str, &str)]) -> String {
    let mut fluent_args = FluentArgs::new();
    for (name, value) in args {
        fluent_args.set(*name, *value);
    }
    [lang, Language::English]
        .into_iter()
        .find_map(|l| {
            let bundle = BUNDLES.get(l as usize)?;
            let pattern = bundle.get_message(id)?.value()?;
            let mut errors = Vec::new();
            let out = bundle.format_pattern(pattern, Some(&fluent_args), &mut errors);
            errors.is_empty().then(|| out.into_owned())
        })
        .unwrap_or_else(|| id.to_owned())
}

/// A notice ready to print.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoticeText {
    pub language: Language,
    pub title: String,
    pub paragraphs: Vec<String>,
}

/// The notice to `name` about the legal request `reference` answered on
/// `day` (YYYY-MM-DD) by `program`. It names the request's reference and
/// date, never what the vault does not hold.
#[must_use]
pub fn notice(language: Language, name: &str, program: &str, reference: &str, day: &str) -> NoticeText {
    let t = |id: &str, args: &[(&str, &str)]| text(language, id, args);
    NoticeText {
        language,
        title: t("notice-title", &[]),
        paragraphs: vec![
            t("notice-greeting", &[("name", name)]),
            t(
                "notice-answered",
                &[("day", day), ("program", program), ("reference", reference)],
            ),
            t("notice-kept", &[]),
            t("notice-questions", &[]),
        ],
    }
}

#[cfg(test)]
mod tests;
