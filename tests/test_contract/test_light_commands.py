"""The light commands stay light: `validate --offline`, `listen` and `secret generate` load
neither the database layer nor the API framework (only the contract and what they need)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).parents[2]
PROBE = """
import sys
from reconciler.cli import main
try:
    main(["validate", "--offline", "-f", sys.argv[1]])
    main(["secret", "generate", "--format", "standard-webhooks"])
except SystemExit:
    pass
import reconciler.commands.listen, reconciler.receiver, contract.formats
heavy = sorted(m for m in ("sqlalchemy", "fastapi", "backoffice.facade") if m in sys.modules)
print("heavy:", heavy)
"""


def test_validate_offline_and_listen_load_no_database_or_api_framework() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE, str(REPO / "webhooks.yaml")],
                          capture_output=True, text=True, timeout=60, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert "valid (5 webhooks, 1 warning)" in done.stdout  # the loopback local receiver
    assert "\nwhsec_" in done.stdout  # the generated secret
    assert done.stdout.strip().endswith("heavy: []"), done.stdout
