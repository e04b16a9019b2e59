"""Which warm pool fits a submission: a static reading of its imports, never running it.

The pools are named after the frameworks a warm sandbox imports ahead
(grader.harness.protocol.WARM_POOLS). A submission that imports two of them,
or that cannot be read, fits none and runs cold: a wrong guess would only cost
time, never correctness, since the job imports what it needs either way.
"""

from __future__ import annotations

import ast
from pathlib import Path

MAX_FILES = 200  # .py files read per submission
MAX_FILE_BYTES = 1024**2

# top-level module -> pool; Lightning wins over the torch it builds on
POOL_OF_MODULE = {
    "torch": "torch",
    "torchvision": "torch",
    "torchaudio": "torch",
    "torchtext": "torch",
    "torcheval": "torch",
    "torchmetrics": "torch",
    "lightning": "lightning",
    "pytorch_lightning": "lightning",
    "tensorflow": "keras",
    "keras": "keras",
    "tf_keras": "keras",
}


def imported_modules(source: str) -> set[str]:
    """Top-level names of every module `source` imports (anywhere, functions included); raise SyntaxError."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def pool_for(folder: Path) -> str | None:
    """The pool of the submission in `folder` ("torch", "keras", "lightning", "none"), or None: run it cold."""
    modules: set[str] = set()
    files = sorted(folder.rglob("*.py"))
    if len(files) > MAX_FILES:
        return None
    for path in files:
        try:
            if path.is_symlink() or path.stat().st_size > MAX_FILE_BYTES:
                return None
            modules |= imported_modules(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError, RecursionError):
            return None
    pools = {POOL_OF_MODULE[name] for name in modules if name in POOL_OF_MODULE}
    if "lightning" in pools:
        pools.discard("torch")
    if len(pools) > 1:
        return None
    return pools.pop() if pools else "none"
