"""Uploads kept on disk, content-addressed by sha256 (`ab/cdef...` under the root).

The same bytes are stored once; a blob appears whole or not at all (written to
a temporary file in the same folder, then renamed).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class BlobStore:
    """A folder of immutable blobs named by their sha256."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, sha: str) -> Path:
        """Return where the blob `sha` lives (whether or not it exists)."""
        if not _SHA256.match(sha):  # never let a caller's string become a path outside the root
            raise ValueError(f"not a sha256 hex digest: {sha!r}")
        return self.root / sha[:2] / sha[2:]

    def put(self, data: bytes) -> str:
        """Store `data` (once) and return its sha256."""
        sha = hashlib.sha256(data).hexdigest()
        target = self.path(sha)
        if target.is_file():
            return sha
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return sha

    def read(self, sha: str) -> bytes:
        """Return the blob's bytes; FileNotFoundError if it is not stored."""
        return self.path(sha).read_bytes()
