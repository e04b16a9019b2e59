"""Turn an uploaded file into a folder the sandbox can run, checking it first.

Accepted: a `.py` file, a `.zip` with `submission.py` at its root, or a
`.ipynb` notebook (its code cells in order). Every check happens before
anything is written, and each rejection says what is wrong and what to do.
"""

from __future__ import annotations

import dataclasses
import io
import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath

import nbformat

from grader.core.errors import BadSubmission

ENTRY = "submission.py"
ACCEPTED = ".py, .zip or .ipynb"
ZIP_JUNK = ("__MACOSX/", ".DS_Store")
KEPT_CELL_MAGICS = ("%%time", "%%timeit", "%%capture")
MAX_NAME_BYTES = 255  # a file or folder name, as Linux allows
MAX_PATH_BYTES = 1024  # a whole entry name
JSON_TYPES = {int: "a number", float: "a number", bool: "true or false", type(None): "null", dict: "an object"}


@dataclasses.dataclass(frozen=True)
class UploadLimits:
    """Bounds on what an upload may be and may expand to."""

    max_bytes: int = 10 * 1024**2
    max_zip_entries: int = 500
    max_expanded_bytes: int = 50 * 1024**2
    max_expansion_ratio: int = 100  # code compresses a few times; far more is padding or a zip bomb
    ratio_free_bytes: int = 1024**2  # archives that expand to less than this may compress as well as they like


@dataclasses.dataclass(frozen=True)
class PreparedSubmission:
    """A submission folder with submission.py at its root."""

    folder: Path
    kind: str  # "py", "zip" or "ipynb"
    notes: tuple[str, ...] = ()  # what preparing changed, for the run's log
    cells: tuple[tuple[int, int], ...] = ()  # notebook: (first line in submission.py, cell number)

    def describe_line(self, file: str | None, line: int | None) -> str:
        """Say where a line is, in the terms of what the student uploaded."""
        if line is None:
            return ""
        if self.kind == "ipynb" and file == ENTRY and self.cells:
            first, cell = max((c for c in self.cells if c[0] <= line), default=self.cells[0])
            return f"cell {cell}, line {line - first + 1}"
        return f"line {line}" if file in (None, ENTRY) else f"{file}, line {line}"


def check_upload(name: str, data: bytes, limits: UploadLimits = UploadLimits()) -> str:
    """Check size and type; return the kind. Raise BadSubmission otherwise."""
    suffix = PurePosixPath(name).suffix.lower()
    kind = {".py": "py", ".zip": "zip", ".ipynb": "ipynb"}.get(suffix)
    if kind is None:
        raise BadSubmission(f"{_safe_name(name)} is not a file grader accepts: upload a {ACCEPTED} file.")
    if not data:
        raise BadSubmission(f"{_safe_name(name)} is empty: upload the file with your code.")
    if len(data) > limits.max_bytes:
        raise BadSubmission(
            f"{_safe_name(name)} is {len(data) / 1024**2:.1f} MiB; uploads are limited to "
            f"{limits.max_bytes / 1024**2:.0f} MiB. Leave data and saved models out: the grader trains your model itself."
        )
    return kind


def prepare_submission(
    name: str, data: bytes, folder: Path, limits: UploadLimits = UploadLimits()
) -> PreparedSubmission:
    """Check the upload and write it into `folder` (which must be empty)."""
    kind = check_upload(name, data, limits)
    if kind == "py":
        (folder / ENTRY).write_bytes(data)
        return PreparedSubmission(folder, kind)
    if kind == "zip":
        return _extract_zip(data, folder, limits)
    return _convert_notebook(data, folder)


def _safe_name(name: str) -> str:
    """The upload's base name, short: never a path."""
    base = PurePosixPath(name.replace("\\", "/")).name or "the file"
    return base if len(base) <= 80 else base[:77] + "..."


def _extract_zip(data: bytes, folder: Path, limits: UploadLimits) -> PreparedSubmission:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = [
            e
            for e in archive.infolist()
            if not e.filename.startswith(ZIP_JUNK) and not e.filename.endswith(ZIP_JUNK[1])
        ]
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise BadSubmission(
            "The .zip file is damaged or not a zip archive: create it again and upload it.", f"zip: {exc}"
        ) from None
    _check_zip_entries(entries, limits, len(data))
    files = [e for e in entries if not e.is_dir()]
    remaining = limits.max_expanded_bytes
    try:
        with archive:
            for entry in files:
                remaining = _extract_entry(archive, entry, folder, remaining)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise BadSubmission(
            "The .zip file is damaged or uses an unsupported compression: create it again with a standard zip tool.",
            f"zip: {exc}",
        ) from None
    return PreparedSubmission(folder, "zip", (f"zip: extracted {len(files)} files",))


def _check_zip_entries(entries: list[zipfile.ZipInfo], limits: UploadLimits, packed_bytes: int) -> None:
    """Refuse unsafe or unusable archives before extracting anything."""
    if len(entries) > limits.max_zip_entries:
        raise BadSubmission(
            f"The .zip holds {len(entries)} entries; at most {limits.max_zip_entries} are allowed. Include only your code."
        )
    for entry in entries:
        _check_zip_name(entry)
    _check_expansion(sum(e.file_size for e in entries), packed_bytes, limits)
    files, folders = _zip_layout(entries)
    if ENTRY not in files:
        if ENTRY in folders:
            raise BadSubmission(f"The .zip's {ENTRY} is a folder: {ENTRY} must be the file with your code.")
        nested = sorted(n for n in files if PurePosixPath(n).name == ENTRY)
        hint = f" It has {nested[0]}: zip the files inside the folder, not the folder." if nested else ""
        raise BadSubmission(f"The .zip has no {ENTRY} at its root.{hint}")


def _check_expansion(expanded: int, packed: int, limits: UploadLimits) -> None:
    """Refuse an archive by the sizes its directory declares, before a byte is written.

    The declared sizes are binding: zipfile stops reading an entry at its
    declared size and fails the CRC if the data says otherwise.
    """
    if expanded > limits.max_expanded_bytes:
        raise BadSubmission(
            f"The .zip expands to more than {limits.max_expanded_bytes // 1024**2} MiB. Include only your code."
        )
    if expanded > max(limits.ratio_free_bytes, limits.max_expansion_ratio * packed):
        raise BadSubmission(
            f"The .zip expands to {expanded / 1024**2:.1f} MiB from {packed / 1024:.0f} KiB, more than "
            f"{limits.max_expansion_ratio} times its size; such archives are refused. Include only your code."
        )


def _zip_layout(entries: list[zipfile.ZipInfo]) -> tuple[set[str], set[str]]:
    """Return the archive's file and folder paths as they land on disk; refuse any that would collide there.

    `./submission.py` and `submission.py` are the same file; a file `a` and an
    entry `a/b` need `a` to be both a file and a folder.
    """
    files: set[str] = set()
    folders: set[str] = set()
    for entry in entries:
        path = "/".join(PurePosixPath(entry.filename).parts)  # drops "." parts and doubled slashes
        if not path:
            continue  # "./": the root itself
        if path in files or path in folders:
            if (path in folders) == entry.is_dir():
                raise BadSubmission(f"The .zip holds {path!r} twice: create it again with each file once.")
            raise BadSubmission(f"The .zip has both a file and a folder named {path!r}: rename one of them.")
        (folders if entry.is_dir() else files).add(path)
    for path in files | folders:
        parts = path.split("/")
        clash = next((p for p in ("/".join(parts[:i]) for i in range(1, len(parts))) if p in files), None)
        if clash is not None:
            raise BadSubmission(f"The .zip has both a file and a folder named {clash!r}: rename one of them.")
    return files, folders


def _check_zip_name(entry: zipfile.ZipInfo) -> None:
    name = entry.filename
    path = PurePosixPath(name)
    kind = stat.S_IFMT(entry.external_attr >> 16)  # 0 when the archiver recorded no Unix type
    if name.startswith("/") or "\\" in name or (len(name) > 1 and name[1] == ":") or ".." in path.parts:
        raise BadSubmission(
            f"The .zip entry {name[:80]!r} points outside the archive's folder; such archives are refused."
        )
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise BadSubmission(f"The .zip entry {name[:80]!r} is a link or special file; include only regular files.")
    if entry.flag_bits & 0x1:
        raise BadSubmission(f"The .zip entry {name[:80]!r} is encrypted; upload an archive without a password.")
    if any(len(part.encode()) > MAX_NAME_BYTES for part in path.parts) or len(name.encode()) > MAX_PATH_BYTES:
        raise BadSubmission(
            f"The .zip entry {name[:40]!r}... has too long a name: at most {MAX_NAME_BYTES} bytes a file or "
            f"folder name and {MAX_PATH_BYTES} in all. Rename it."
        )
    if not entry.is_dir() and name.rsplit("/", 1)[-1] == ".":
        raise BadSubmission(f"The .zip entry {name[:80]!r} is not a file name; create the archive again.")


def _extract_entry(archive: zipfile.ZipFile, entry: zipfile.ZipInfo, folder: Path, remaining: int) -> int:
    """Copy one entry, counting real bytes (headers can lie); return the budget left."""
    target = folder / entry.filename
    target.parent.mkdir(parents=True, exist_ok=True)
    with archive.open(entry) as source, open(target, "xb") as sink:
        while chunk := source.read(1 << 16):
            remaining -= len(chunk)
            if remaining < 0:
                raise BadSubmission("The .zip expands to more than it declares; such archives are refused.")
            sink.write(chunk)
    return remaining


def _convert_notebook(data: bytes, folder: Path) -> PreparedSubmission:
    """Write the notebook's code cells, in order, as submission.py."""
    try:
        notebook = nbformat.reads(data.decode("utf-8"), as_version=4)
    except Exception as exc:  # nbformat raises many types for a bad file
        raise BadSubmission(
            "The notebook cannot be read: save it again from Jupyter (File > Save) and upload the .ipynb file.",
            f"nbformat: {type(exc).__name__}: {exc}",
        ) from None
    lines: list[str] = []
    cells: list[tuple[int, int]] = []
    notes: list[str] = []
    for number, cell in enumerate(notebook.cells, start=1):
        if cell.get("cell_type") != "code":
            continue
        if not isinstance(cell.get("source"), str):
            found = JSON_TYPES.get(type(cell.get("source")), "not text")
            raise BadSubmission(
                f"The notebook's cell {number} is broken: its source is {found}, not text. "
                "Save the notebook again from Jupyter (File > Save) and upload the .ipynb file."
            )
        kept = _code_lines(cell.source, number, notes)
        cells.append((len(lines) + 1, number))
        lines.extend(kept + [""])
    (folder / ENTRY).write_text("\n".join(lines) + "\n")
    return PreparedSubmission(folder, "ipynb", tuple(notes), tuple(cells))


def _code_lines(source: str, cell: int, notes: list[str]) -> list[str]:
    """Return the cell's lines with shell lines and magics made `pass` (line numbers stay)."""
    lines = source.splitlines()
    if lines and lines[0].startswith("%%") and lines[0].split()[0] not in KEPT_CELL_MAGICS:
        notes.append(f"notebook: cell {cell} is a {lines[0].split()[0]} cell and was left out")
        return ["pass"] + [""] * (len(lines) - 1)
    kept = []
    for number, line in enumerate(lines, start=1):
        if line.lstrip().startswith(("!", "%")):
            notes.append(
                f"notebook: cell {cell}, line {number}: dropped {line.strip()[:60]!r} (shell commands and magics do not run)"
            )
            line = line[: len(line) - len(line.lstrip())] + "pass"
        kept.append(line)
    return kept
