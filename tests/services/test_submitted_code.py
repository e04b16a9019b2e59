"""Reading an upload for staff: the .py file, a zip's files (bounded, binaries listed), a notebook's code cells."""

from __future__ import annotations

import io
import json
import zipfile

from grader.services.submitted_code import (
    MAX_SHOWN_BYTES,
    MAX_SHOWN_FILES,
    MAX_TOTAL_BYTES,
    read_submitted_code,
)


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def notebook(*cells: tuple[str, str | list[str]]) -> bytes:
    return json.dumps(
        {
            "nbformat": 4,
            "nbformat_minor": 5,
            "metadata": {},
            "cells": [
                {"cell_type": kind, "id": f"c{n}", "metadata": {}, "source": source}
                | ({"outputs": [], "execution_count": None} if kind == "code" else {})
                for n, (kind, source) in enumerate(cells)
            ],
        }
    ).encode()


def test_a_py_file_is_shown_whole_up_to_the_bound():
    code = read_submitted_code("model.py", b"def build_model(i, n):\n    pass\n")
    (file,) = code.files
    assert (code.kind, file.name, file.text, file.note) == ("py", "model.py", "def build_model(i, n):\n    pass\n", "")
    big = read_submitted_code("model.py", b"x = 1\n" * (MAX_SHOWN_BYTES // 6 + 100)).files[0]
    assert big.truncated and len(big.text.encode()) == MAX_SHOWN_BYTES
    assert big.note == f"only the first 200 KiB of {big.size / 1024:.0f} KiB are shown"


def test_a_zip_shows_submission_py_first_lists_binaries_and_skips_junk():
    data = zipped(
        {
            "utils/helpers.py": b"def helper():\n    return 1\n",
            "weights.bin": b"\x00\x01\x02binary",
            "submission.py": b"from utils.helpers import helper\n",
            "__MACOSX/._submission.py": b"\x00junk",
            "notes.txt": "caf\u00e9\n".encode(),
        }
    )
    code = read_submitted_code("work.zip", data)
    assert [f.name for f in code.files] == ["submission.py", "notes.txt", "utils/helpers.py", "weights.bin"]
    binary = code.files[-1]
    assert binary.text is None and binary.note == "binary file: not shown" and binary.size == 9
    assert code.files[1].text == "caf\u00e9\n"


def test_a_zip_shows_at_most_the_bounded_number_of_files_and_bytes():
    many = zipped({f"m{n:03}.py": f"x = {n}\n".encode() for n in range(MAX_SHOWN_FILES + 10)})
    files = read_submitted_code("many.zip", many).files
    assert len(files) == MAX_SHOWN_FILES + 10
    assert all(f.text for f in files[:MAX_SHOWN_FILES]) and not any(f.text for f in files[MAX_SHOWN_FILES:])
    assert files[-1].note.startswith("not shown")
    large = zipped(
        {f"big{n}.py": b"#" * (MAX_SHOWN_BYTES + 5000) for n in range(MAX_TOTAL_BYTES // MAX_SHOWN_BYTES + 2)}
    )
    files = read_submitted_code("large.zip", large).files
    assert sum(len(f.text or "") for f in files) == MAX_TOTAL_BYTES
    assert files[0].truncated and files[0].size == MAX_SHOWN_BYTES + 5000
    assert files[-1].text is None and "in all" in files[-1].note


def test_a_notebook_shows_its_code_cells_in_order_numbered_as_in_the_notebook():
    data = notebook(
        ("markdown", "# My model"),
        ("code", ["import torch\n", "!pip install x\n"]),
        ("code", "def build_model(i, n):\n    return None"),
    )
    code = read_submitted_code("work.ipynb", data)
    assert code.kind == "ipynb"
    assert [(f.name, f.text) for f in code.files] == [
        ("cell 2", "import torch\n!pip install x\n"),
        ("cell 3", "def build_model(i, n):\n    return None"),
    ]


def test_an_unreadable_upload_comes_back_with_a_note_not_an_error():
    assert read_submitted_code("work.zip", b"not a zip").note.startswith("The archive cannot be read")
    assert read_submitted_code("work.ipynb", b"{").note.startswith("The notebook cannot be read")
