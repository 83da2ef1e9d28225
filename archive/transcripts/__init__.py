"""Transcripts of a chat in Markdown, HTML, JSON and CSV: pure functions of their inputs.

Layout: ``text`` (escaping, links, time labels), ``items`` (one message as a list item, in
Markdown and HTML), ``lists`` (the message lists and their spills), ``markdown``, ``html``,
``jsonfmt``, ``csvfmt`` (the documents), ``tables``, ``highlights``, ``groupsfmt`` (their
sections), and ``rows`` (a publication's one pass over the store's rows: statistics, items
and JSON entries together, without a ``CapturedMessage`` per row).
"""

from archive.transcripts.csvfmt import render_csv
from archive.transcripts.html import render_html, sanitize_html
from archive.transcripts.jsonfmt import render_json
from archive.transcripts.markdown import render_markdown
from archive.transcripts.text import escape_text

__all__ = [
    "escape_text",
    "render_csv",
    "render_html",
    "render_json",
    "render_markdown",
    "sanitize_html",
]
