//! A letter the vault writes in Markdown (the legal response letter), as
//! HTML for the console to show and print as a document.
//!
//! The letter carries text a requester typed (their name, the request's
//! reference), so nothing in it may become markup: raw HTML is rendered as
//! escaped text, and links and images keep only their words (a letter on
//! paper has no links, and a `javascript:` address must never reach a page).

use pulldown_cmark::{html, Event, Options, Parser, Tag, TagEnd};

/// `markdown` as HTML: headings, paragraphs, lists, emphasis and code; every
/// character of the text escaped.
#[must_use]
pub fn to_html(markdown: &str) -> String {
    let events = Parser::new_ext(markdown, Options::empty()).filter_map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Some(Event::Text(raw)),
        Event::Start(Tag::Link { .. } | Tag::Image { .. }) | Event::End(TagEnd::Link | TagEnd::Image) => None,
        other => Some(other),
    });
    let mut out = String::new();
    html::push_html(&mut out, events);
    out
}

#[cfg(test)]
mod tests {
    use super::to_html;

    #[test]
    fn headings_and_lists_become_a_document() {
        let html = to_html("# Response to R-1\n\nAnswered.\n\n## Disclosed\n\n- name\n- photo\n\nDigest `abc`.\n");
        assert!(html.contains("<h1>Response to R-1</h1>"), "{html}");
        assert!(html.contains("<h2>Disclosed</h2>"), "{html}");
        assert!(html.contains("<li>name</li>"), "{html}");
        assert!(html.contains("<code>abc</code>"), "{html}");
        assert!(!html.contains('#'), "{html}");
    }

    #[test]
    fn markup_a_requester_typed_stays_text() {
        let html = to_html(
            "# Response to <script>alert(1)</script>\n\nFrom <img src=x onerror=alert(1)> \
             [click](javascript:alert(1)) ![x](http://evil/x.png)\n\n<div>raw block</div>\n",
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<div"), "{html}");
        assert!(!html.contains("<a "), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(html.contains("click"), "{html}");
    }
}
