"""Upload checks: every rejection is precise, and nothing unsafe is written."""

from __future__ import annotations

import io
import json
import stat
import zipfile

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grader.core.errors import BadSubmission
from grader.services.submissions import UploadLimits, prepare_submission

CODE = b"def build_model(input_dim, num_classes):\n    return None\n"


def make_zip(entries: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return buffer.getvalue()


def rejected(name: str, data: bytes, tmp_path, limits: UploadLimits = UploadLimits()) -> str:
    with pytest.raises(BadSubmission) as caught:
        prepare_submission(name, data, tmp_path, limits)
    assert list(tmp_path.iterdir()) == [] or all(p.is_dir() for p in tmp_path.rglob("*")), "something was written"
    return caught.value.student_message


def test_python_file_becomes_submission_py(tmp_path):
    prepared = prepare_submission("my_model.py", CODE, tmp_path)
    assert (tmp_path / "submission.py").read_bytes() == CODE
    assert prepared.kind == "py"


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("model.txt", CODE, "model.txt is not a file grader accepts: upload a .py, .zip or .ipynb file."),
        ("model.py", b"", "model.py is empty"),
        ("/home/student/secret/model.pdf", CODE, "model.pdf is not a file grader accepts"),
    ],
)
def test_wrong_type_or_empty_file_is_refused(tmp_path, name, data, words):
    message = rejected(name, data, tmp_path)
    assert words in message and "/home" not in message


def test_oversized_upload_is_refused_with_the_limit(tmp_path):
    message = rejected("model.py", b"#" * 2048, tmp_path, UploadLimits(max_bytes=1024))
    assert "uploads are limited to" in message


def test_zip_with_package_extracts_every_module(tmp_path):
    prepared = prepare_submission("pkg.zip", make_zip({"submission.py": CODE, "lib/util.py": b"X = 1\n"}), tmp_path)
    assert (tmp_path / "lib" / "util.py").read_text() == "X = 1\n"
    assert prepared.kind == "zip"


@pytest.mark.parametrize(
    ("entries", "words"),
    [
        ({"submission.py": CODE, "../evil.py": b"x"}, "points outside the archive"),
        ({"submission.py": CODE, "/etc/cron.d/evil": b"x"}, "points outside the archive"),
        ({"submission.py": CODE, "a/../../evil.py": b"x"}, "points outside the archive"),
        ({"submission.py": CODE, "C:\\evil.py": b"x"}, "points outside the archive"),
        ({"model.py": CODE}, "no submission.py at its root"),
        ({"homework/submission.py": CODE}, "It has homework/submission.py: zip the files inside the folder"),
    ],
)
def test_unsafe_or_unusable_zip_is_refused_before_extraction(tmp_path, entries, words):
    assert words in rejected("work.zip", make_zip(entries), tmp_path)


def test_zip_with_a_link_is_refused(tmp_path):
    data = make_zip({"submission.py": CODE}, links={"data.npy": "/etc/passwd"})
    assert "is a link or special file" in rejected("work.zip", data, tmp_path)


def test_zip_bomb_is_refused_without_expanding_it(tmp_path):
    data = make_zip({"submission.py": CODE, "big.bin": b"\0" * (60 * 1024**2)})
    assert len(data) < 1024**2
    assert "expands to more than 50 MiB" in rejected("bomb.zip", data, tmp_path)


def test_zip_that_lies_about_its_sizes_is_stopped_while_extracting(tmp_path):
    data = bytearray(make_zip({"submission.py": CODE, "big.bin": b"\0" * (2 * 1024**2)}))
    limits = UploadLimits(max_expanded_bytes=1024**2)
    # Shrink the declared size of big.bin in both headers so the checks pass.
    real = (2 * 1024**2).to_bytes(4, "little")
    data = bytes(data).replace(real, (1000).to_bytes(4, "little"))
    with pytest.raises(BadSubmission) as caught:
        prepare_submission("liar.zip", data, tmp_path, limits)
    assert "damaged" in caught.value.student_message or "more than it declares" in caught.value.student_message
    assert not (tmp_path / "big.bin").exists() or (tmp_path / "big.bin").stat().st_size <= 1024**2


def test_too_many_entries_and_damaged_zip_are_refused(tmp_path):
    many = make_zip({"submission.py": CODE, **{f"f{i}.py": b"" for i in range(20)}})
    assert "at most 10 are allowed" in rejected("many.zip", many, tmp_path, UploadLimits(max_zip_entries=10))
    assert "damaged or not a zip archive" in rejected("broken.zip", b"PK\x03\x04 not really", tmp_path)


def notebook(*cells) -> bytes:
    nb = new_notebook()
    nb.cells = list(cells)
    return nbformat.writes(nb).encode()


def test_notebook_code_cells_in_order_with_magics_dropped(tmp_path):
    data = notebook(
        new_markdown_cell("# title"),
        new_code_cell("!pip install torch\nimport math"),
        new_code_cell("%%bash\nrm -rf /"),
        new_code_cell("if True:\n    %timeit 1\nx = math.pi"),
    )
    prepared = prepare_submission("hw.ipynb", data, tmp_path)
    code = (tmp_path / "submission.py").read_text()
    namespace: dict = {}
    exec(compile(code, "submission.py", "exec"), namespace)  # the converted code is valid Python
    assert namespace["x"] > 3 and "rm -rf" not in code
    assert any("cell 2, line 1: dropped '!pip install torch'" in n for n in prepared.notes)
    assert any("cell 3 is a %%bash cell" in n for n in prepared.notes)
    assert prepared.describe_line("submission.py", code.splitlines().index("x = math.pi") + 1) == "cell 4, line 3"


def test_broken_notebook_is_refused_with_what_to_do(tmp_path):
    assert "save it again from Jupyter" in rejected("hw.ipynb", b"{not json", tmp_path)
    assert "save it again from Jupyter" in rejected("hw.ipynb", json.dumps({"cells": 3}).encode(), tmp_path)
