"""File helpers shared by the adapters."""

from __future__ import annotations

import os
from pathlib import Path


def make_readable(folder: Path) -> None:
    """Let the unprivileged sandbox user read a folder grader wrote, whatever the umask."""
    folder.chmod(0o755)
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o755, follow_symlinks=False)
        for name in files:
            os.chmod(os.path.join(root, name), 0o644, follow_symlinks=False)
