"""The submitted code on the grading log: read from the blob store, highlighted server-side, and its download.

Pygments writes HTML with CSS classes only (the rules are in static/code.css,
since the Content-Security-Policy allows no <style> element) and escapes every
character of the code, so a submission's text never becomes markup. Only a
few lexers are used, chosen by the file's suffix: anything else is shown as
plain (still escaped) text rather than trusting an arbitrary lexer with
arbitrary input.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any

from markupsafe import Markup
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import IniLexer, JsonLexer, MarkdownLexer, PythonLexer, TextLexer, TOMLLexer, YamlLexer

from grader.models import Submission
from grader.services.submitted_code import CodeFile, read_submitted_code
from grader.storage import BlobStore

LEXERS: dict[str, type[Lexer]] = {
    ".py": PythonLexer,
    ".ipynb": PythonLexer,  # a notebook's cells
    ".json": JsonLexer,
    ".yaml": YamlLexer,
    ".yml": YamlLexer,
    ".toml": TOMLLexer,
    ".cfg": IniLexer,
    ".ini": IniLexer,
    ".md": MarkdownLexer,
}
_UNSAFE_NAME = re.compile(r"[^\w.\-]+")
MISSING = "The upload's file is not in storage: it cannot be shown or downloaded."


def code_view(store: BlobStore, sub: Submission) -> dict[str, Any]:
    """The upload's files as the grading log shows them: name, size, note and highlighted HTML (or None) of each."""
    data = read_upload(store, sub)
    if data is None:
        return {"note": MISSING, "files": [], "kind": "", "stored": False}
    code = read_submitted_code(sub.filename, data)
    suffix = ".ipynb" if code.kind == "ipynb" else None
    files = [
        _shown(index, file, suffix or PurePosixPath(file.name).suffix.lower()) for index, file in enumerate(code.files)
    ]
    return {"note": code.note, "files": files, "kind": code.kind, "stored": True}


def read_upload(store: BlobStore, sub: Submission) -> bytes | None:
    """The upload's bytes, or None when the blob is gone (or the row names none)."""
    try:
        return store.read(sub.blob_sha256)
    except (FileNotFoundError, ValueError):
        return None


def _shown(index: int, file: CodeFile, suffix: str) -> dict[str, Any]:
    return {
        "name": file.name,
        "size": file.size,
        "note": file.note,
        "anchor": f"code-{index}",
        "html": None if file.text is None else highlight_code(file.text, suffix, f"code-{index}"),
    }


def highlight_code(text: str, suffix: str, anchor: str) -> Markup:
    """Highlighted, escaped HTML with numbered lines that link to themselves (#anchor-N)."""
    lexer = LEXERS.get(suffix, TextLexer)(stripnl=False)
    formatter = HtmlFormatter(linenos="table", lineanchors=anchor, anchorlinenos=True, wrapcode=True)
    return Markup(highlight(text, lexer, formatter))  # safe: Pygments escapes every character of the code


def download_name(sub: Submission) -> str:
    """The upload's own name for the download: letters, digits, dots and dashes kept, any run of others one "_"."""
    path = PurePosixPath(sub.filename.replace("\\", "/"))
    stem = _UNSAFE_NAME.sub("_", path.stem).strip("._") or f"submission-{sub.id}"
    suffix = path.suffix.lower() if path.suffix.lower() in (".py", ".zip", ".ipynb") else ""
    return f"{stem[:100]}{suffix}"


def stylesheet() -> str:
    """The CSS rules for the classes Pygments writes, each scoped to .highlight (static/code.css starts with this)."""
    rules = HtmlFormatter().get_style_defs(".highlight").splitlines()
    return "\n".join(rule if rule.startswith(".highlight") else f".highlight {rule}" for rule in rules)
