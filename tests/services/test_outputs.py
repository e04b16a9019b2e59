"""Reading what a run left behind: links, FIFOs, huge files and pickles are refused."""

from __future__ import annotations

import os

import numpy as np
import pytest

from grader.core.errors import BadOutput
from grader.services.outputs import load_array, read_json


def refused(path, max_bytes=1024**2) -> BadOutput:
    with pytest.raises(BadOutput) as caught:
        load_array(path, max_bytes)
    assert str(path.parent) not in caught.value.student_message
    return caught.value


def test_a_saved_array_loads(tmp_path):
    np.save(tmp_path / "predictions.npy", np.arange(5))
    assert load_array(tmp_path / "predictions.npy", 1024).tolist() == [0, 1, 2, 3, 4]


def test_missing_file(tmp_path):
    assert "No predictions were written" in refused(tmp_path / "predictions.npy").student_message


def test_symlink_is_not_followed(tmp_path):
    (tmp_path / "secret").write_text("hidden labels")
    os.symlink(tmp_path / "secret", tmp_path / "predictions.npy")
    assert "replaced by a link" in refused(tmp_path / "predictions.npy").student_message


def test_fifo_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "predictions.npy")
    assert "not a regular file" in refused(tmp_path / "predictions.npy").student_message


def test_oversized_file_is_refused(tmp_path):
    np.save(tmp_path / "predictions.npy", np.zeros(10_000))
    assert "at most 1000 are accepted" in refused(tmp_path / "predictions.npy", max_bytes=1000).student_message


class Payload:
    def __reduce__(self):
        return (os.system, ("touch /tmp/grader-unit-pickle-ran",))


def test_pickled_objects_are_never_unpickled(tmp_path):
    np.save(tmp_path / "predictions.npy", np.array([Payload()], dtype=object), allow_pickle=True)
    assert "saved as Python objects" in refused(tmp_path / "predictions.npy").student_message
    assert not os.path.exists("/tmp/grader-unit-pickle-ran")


def test_garbage_and_npz_are_refused(tmp_path):
    (tmp_path / "predictions.npy").write_bytes(b"\x93NUMPY garbage")
    assert "not a valid NumPy array file" in refused(tmp_path / "predictions.npy").student_message
    with open(tmp_path / "p.npz", "wb") as handle:
        np.savez(handle, a=np.zeros(3))
    os.replace(tmp_path / "p.npz", tmp_path / "predictions.npy")
    assert "not a single NumPy array" in refused(tmp_path / "predictions.npy").student_message


def test_report_json_is_read_only_when_it_is_a_small_object(tmp_path):
    (tmp_path / "report.json").write_text('{"phase": "save"}')
    assert read_json(tmp_path / "report.json") == {"phase": "save"}
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "bad.json").write_text("{oops")
    os.symlink("/etc/hostname", tmp_path / "link.json")
    assert (
        read_json(tmp_path / "list.json") == read_json(tmp_path / "bad.json") == read_json(tmp_path / "link.json") == {}
    )
    assert read_json(tmp_path / "absent.json") == {}
