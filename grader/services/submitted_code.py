"""What a submission's upload holds, as text staff can read: the .py file, a .zip's files, a notebook's code cells.

Bounded so one upload cannot make the grading log huge: at most MAX_SHOWN_BYTES
of each file or cell, MAX_SHOWN_FILES text files of a zip (MAX_SHOWN_CELLS
cells of a notebook) and MAX_TOTAL_BYTES in all; everything past a bound is
listed with the reason it is not shown. Binary files of a zip are listed, never shown. Reading never fails: an upload
that cannot be read (a damaged zip, a notebook that is not JSON) comes back
with a note saying so. The upload was checked before it was stored, so a zip's
declared sizes are honest and small.
"""

from __future__ import annotations

import dataclasses
import io
import zipfile
import zlib
from pathlib import PurePosixPath

import nbformat

from grader.services.submissions import ENTRY, ZIP_JUNK

MAX_SHOWN_BYTES = 200 * 1024
MAX_SHOWN_FILES = 50  # of a zip
MAX_SHOWN_CELLS = 500  # of a notebook
MAX_TOTAL_BYTES = 2 * 1024**2
BINARY_PROBE = 8192  # bytes looked at for a NUL, the mark of a binary file


@dataclasses.dataclass(frozen=True)
class CodeFile:
    """One file or notebook cell: `text` is None when it is not shown, and `note` says why."""

    name: str
    size: int
    text: str | None
    note: str = ""
    truncated: bool = False


@dataclasses.dataclass(frozen=True)
class SubmittedCode:
    """The readable parts of one upload, in the order the student would read them."""

    kind: str  # "py", "zip" or "ipynb"
    files: tuple[CodeFile, ...]
    note: str = ""  # about the whole upload (it could not be read)


class _Budget:
    """How many more files and bytes may be shown."""

    def __init__(self, files: int = MAX_SHOWN_FILES) -> None:
        self.files = files
        self.bytes = MAX_TOTAL_BYTES

    def show(self, name: str, data: bytes, size: int | None = None) -> CodeFile:
        """Return the file (`data`: its first bytes at least, `size` long in all) as shown within what is left."""
        size = len(data) if size is None else size
        if self.files <= 0:
            return CodeFile(name, size, None, "not shown: the page has shown as many files as it shows")
        if self.bytes <= 0:
            return CodeFile(name, size, None, f"not shown: the page shows at most {_kib(MAX_TOTAL_BYTES)} in all")
        kept = data[: min(MAX_SHOWN_BYTES, self.bytes)]
        self.files -= 1
        self.bytes -= len(kept)
        truncated = len(kept) < size
        note = f"only the first {_kib(len(kept))} of {_kib(size)} are shown" if truncated else ""
        return CodeFile(name, size, _text(kept), note, truncated)


def read_submitted_code(filename: str, data: bytes) -> SubmittedCode:
    """Return what the upload named `filename` holds, as text within the bounds."""
    suffix = PurePosixPath(filename).suffix.lower()
    if suffix == ".zip":
        return _zip_files(data)
    if suffix == ".ipynb":
        return _notebook_cells(data)
    return SubmittedCode("py", (_Budget().show(filename or ENTRY, data),))


def _kib(size: int) -> str:
    return f"{size / 1024:.0f} KiB" if size < 1024**2 else f"{size / 1024**2:.1f} MiB"


def _text(data: bytes) -> str:
    """Decode as UTF-8, marking undecodable bytes rather than failing (a cut may split a character)."""
    return data.decode("utf-8", errors="replace")


def _is_binary(head: bytes) -> bool:
    return b"\0" in head[:BINARY_PROBE]


def _zip_order(entry: zipfile.ZipInfo) -> tuple[bool, str]:
    """submission.py first, then the rest by name."""
    return entry.filename != ENTRY, entry.filename


def _zip_files(data: bytes) -> SubmittedCode:
    """Every file of the archive, in order; the text ones shown within the bounds, the binary ones listed."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = sorted(
            (e for e in archive.infolist() if not e.is_dir() and not e.filename.startswith(ZIP_JUNK)),
            key=_zip_order,
        )
        budget, files = _Budget(), []
        with archive:
            for entry in entries:
                if entry.filename.endswith(ZIP_JUNK[1]):
                    continue
                with archive.open(entry) as handle:
                    head = handle.read(MAX_SHOWN_BYTES + 1)
                if _is_binary(head):
                    files.append(CodeFile(entry.filename, entry.file_size, None, "binary file: not shown"))
                else:
                    files.append(budget.show(entry.filename, head, entry.file_size))
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError, OSError) as exc:
        return SubmittedCode("zip", (), f"The archive cannot be read: {type(exc).__name__}: {exc}")
    return SubmittedCode("zip", tuple(files))


def _notebook_cells(data: bytes) -> SubmittedCode:
    """The notebook's code cells in order, named by their number among all cells (as the run's errors name them)."""
    try:
        notebook = nbformat.reads(data.decode("utf-8"), as_version=4)
    except Exception as exc:  # nbformat raises many types for a bad file
        return SubmittedCode("ipynb", (), f"The notebook cannot be read: {type(exc).__name__}: {exc}")
    budget, files = _Budget(MAX_SHOWN_CELLS), []
    for number, cell in enumerate(notebook.cells, start=1):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source")
        if not isinstance(source, str):
            files.append(CodeFile(f"cell {number}", 0, None, "its source is not text"))
            continue
        files.append(budget.show(f"cell {number}", source.encode("utf-8", errors="replace")))
    return SubmittedCode("ipynb", tuple(files))
