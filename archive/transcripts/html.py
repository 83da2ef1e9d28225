"""The HTML transcript: the Markdown transcript rendered, sanitised by allow-list, on a
standalone page that reads well on a phone and prints cleanly."""

from __future__ import annotations

import html

import markdown
import nh3

from archive.models import Chat

ALLOWED_TAGS = frozenset(
    {
        "a",
        "p",
        "h1",
        "h2",
        "h3",
        "h4",
        "ul",
        "ol",
        "li",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "code",
        "pre",
        "blockquote",
        "strong",
        "em",
        "br",
        "hr",
        "span",
    }
)
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "span": {"class"}}
ALIGN_VALUES = {
    "th": {"align": {"left", "right", "center"}},
    "td": {"align": {"left", "right", "center"}},
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "nofollow noopener noreferrer"

STYLESHEET = """
:root { color-scheme: light dark; --fg: #1d1d1f; --bg: #fff; --muted: #5f6368;
  --line: #d9dce1; --stripe: #f5f6f8; --accent: #0b57d0; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e8eaed; --bg: #16171a; --muted: #a0a4ab; --line: #3a3d42;
    --stripe: #1f2125; --accent: #8ab4f8; }
}
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 46rem; padding: 1.5rem 1rem 3rem; color: var(--fg);
  background: var(--bg); font: 1.0625rem/1.6 system-ui, -apple-system, "Segoe UI", Roboto,
  "Helvetica Neue", Arial, sans-serif; overflow-wrap: anywhere; }
h1 { font-size: 1.9rem; line-height: 1.25; margin: 0 0 .75rem; }
h2 { font-size: 1.3rem; line-height: 1.3; margin: 2.25rem 0 .5rem; padding-top: .75rem;
  border-top: 1px solid var(--line); }
h3, h4 { font-size: 1.1rem; margin: 1.5rem 0 .5rem; }
a { color: var(--accent); }
em { color: var(--muted); }
blockquote { margin: 1rem 0; padding: .25rem 1rem; border-left: 4px solid var(--line);
  color: var(--muted); }
ul, ol { padding-left: 1.25rem; }
li { margin: .6rem 0; }
table { display: block; overflow-x: auto; border-collapse: collapse; margin: 1rem 0;
  font-size: .95rem; font-variant-numeric: tabular-nums; }
th, td { padding: .35rem .75rem; border-bottom: 1px solid var(--line); text-align: left;
  vertical-align: top; }
th[align="right"], td[align="right"] { text-align: right; }
th { border-bottom-width: 2px; }
tbody tr:nth-child(even) { background: var(--stripe); }
pre { overflow-x: auto; padding: .75rem 1rem; background: var(--stripe); border-radius: 6px;
  line-height: 1.25; font-size: .85rem; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
hr { border: 0; border-top: 1px solid var(--line); margin: 2rem 0 1rem; }
@media print {
  body { max-width: none; font-size: 11pt; }
  h2 { break-after: avoid; }
  li, tr { break-inside: avoid; }
  a { color: inherit; }
}
""".strip()


def sanitize_html(fragment: str) -> str:
    """Clean an HTML fragment down to the transcript's allow-list of tags, attributes and
    URL schemes; links get ``rel="nofollow noopener noreferrer"``."""
    return nh3.clean(
        fragment,
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        tag_attribute_values={
            tag: {attr: set(values) for attr, values in spec.items()}
            for tag, spec in ALIGN_VALUES.items()
        },
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
    )


def markdown_to_html(markdown_text: str) -> str:
    """The sanitised HTML body of a Markdown transcript."""
    body = markdown.markdown(
        markdown_text,
        extensions=["tables", "fenced_code", "sane_lists"],
        extension_configs={"tables": {"use_align_attribute": True}},
        output_format="html",
    )
    return sanitize_html(body)


def render_html(chat: Chat, markdown_text: str, *, title: str | None = None) -> str:
    """A complete HTML5 page for the transcript ``markdown_text`` of ``chat``."""
    page_title = title if title is not None else f"{chat.title} · {chat.hashtag} transcript"
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<meta name="generator" content="tweetchat">',
            f"<title>{html.escape(page_title)}</title>",
            f"<style>\n{STYLESHEET}\n</style>",
            "</head>",
            "<body>",
            "<main>",
            markdown_to_html(markdown_text).strip(),
            "</main>",
            "</body>",
            "</html>",
            "",
        ]
    )
