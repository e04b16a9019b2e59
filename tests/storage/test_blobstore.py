import hashlib

import pytest

from grader.storage import BlobStore


def test_put_is_content_addressed_and_idempotent(tmp_path):
    store = BlobStore(tmp_path)
    sha = store.put(b"hello")
    assert sha == hashlib.sha256(b"hello").hexdigest()
    assert store.path(sha) == tmp_path / sha[:2] / sha[2:]
    assert store.read(sha) == b"hello"
    assert store.put(b"hello") == sha
    assert [p.name for p in (tmp_path / sha[:2]).iterdir()] == [sha[2:]]  # no temporary files left


def test_paths_only_for_digests(tmp_path):
    with pytest.raises(ValueError):
        BlobStore(tmp_path).path("../../etc/passwd")


def test_missing_blob(tmp_path):
    with pytest.raises(FileNotFoundError):
        BlobStore(tmp_path).read("0" * 64)
