"""Entry point: `python -m harness JOB.json` inside the sandbox."""

import sys

from .main import main

raise SystemExit(main(sys.argv[1:]))
