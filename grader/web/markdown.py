"""Assignment statements (Markdown, written by staff or uploaded in a zip) rendered to safe HTML.

CommonMark with tables, raw HTML off: a `<script>` or `<img onerror=...>` in a
statement shows as text, never as markup, and markdown-it refuses
`javascript:`, `vbscript:` and `file:` links. Headings move one level down,
so the statement's sections sit under the page's own title.
"""

from __future__ import annotations

from markdown_it import MarkdownIt
from markupsafe import Markup

_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")


def render_statement(text: str, title: str = "") -> Markup:
    """Return the statement as HTML that is safe to put in a page as it is.

    A first heading that repeats `title` (the page's own heading) is left out.
    """
    tokens = _MARKDOWN.parse(text)
    if len(tokens) >= 3 and tokens[0].type == "heading_open" and tokens[1].content.strip() == title.strip():
        tokens = tokens[3:]
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(6, int(token.tag[1]) + 1)}"
    return Markup(_MARKDOWN.renderer.render(tokens, _MARKDOWN.options, {}))  # noqa: S704 (escaped by markdown-it)
