"""Read what a sandboxed run left behind, trusting nothing about it.

The run could have replaced any output with a link, a FIFO or a huge file, or
saved Python objects that unpickle into code. Only regular files under a size
cap are read, without following links, and arrays load with allow_pickle=False.
"""

from __future__ import annotations

import errno
import io
import json
import os
import stat
from pathlib import Path
from typing import Any

import numpy as np

from grader.core.errors import BadOutput


def read_regular_file(path: Path, max_bytes: int) -> bytes | None:
    """Return the file's bytes, None if absent; BadOutput if not a small regular file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise BadOutput(
                f"{path.name} was replaced by a link; write the file itself.", f"{path}: symlink refused"
            ) from None
        raise BadOutput(f"{path.name} cannot be read.", f"{path}: {exc}") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise BadOutput(f"{path.name} is not a regular file.", f"{path}: mode {oct(info.st_mode)} refused")
        if info.st_size > max_bytes:
            raise BadOutput(
                f"{path.name} is {info.st_size} bytes; at most {max_bytes} are accepted.",
                f"{path}: {info.st_size} bytes",
            )
        return handle.read(max_bytes + 1)[:max_bytes]


def read_json(path: Path, max_bytes: int = 1024**2) -> dict[str, Any]:
    """Read a small JSON object the run wrote; {} when absent or unreadable."""
    try:
        data = read_regular_file(path, max_bytes)
        value = json.loads(data) if data else {}
    except (BadOutput, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def load_array(path: Path, max_bytes: int) -> np.ndarray:
    """Load an output array the run wrote (predictions.npy, say) safely."""
    what = path.stem.replace("_", " ")  # "predictions", "train predictions", "samples"
    data = read_regular_file(path, max_bytes)
    if data is None:
        raise BadOutput(f"No {what} were written.", f"{path}: missing")
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as exc:
        message = f"The {what} must be an array of numbers; they were saved as Python objects."
        if "pickle" not in str(exc).lower():
            message = f"The {what} file is not a valid NumPy array file."
        raise BadOutput(message, f"{path}: {exc}") from None
    except (OSError, EOFError) as exc:
        raise BadOutput(f"The {what} file is not a valid NumPy array file.", f"{path}: {exc}") from None
    if not isinstance(array, np.ndarray):  # an .npz archive
        raise BadOutput(f"The {what} file is not a single NumPy array.", f"{path}: {type(array).__name__}")
    return array
