"""``python -m superllm_cli.docgen [ROOT]``: regenerate completions/, man/ and docs pages."""

from __future__ import annotations

import sys
from pathlib import Path

from superllm_cli.docgen import write_all

root = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
for path in write_all(root):
    sys.stdout.write(f"wrote {path}\n")
