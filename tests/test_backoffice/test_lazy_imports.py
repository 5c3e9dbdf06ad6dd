"""The light modules of the backoffice load without its database or its web framework.

``webhooks listen`` decodes deliveries with ``contract.formats`` and maps
``backoffice.errors``; importing them must not pull in SQLAlchemy or FastAPI (the
package ``__init__`` files import lazily).
"""

from __future__ import annotations

import subprocess
import sys

CHECK = (
    "import contract.formats, backoffice.errors, sys\n"
    "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'fastapi'))\n"
    "assert 'sqlalchemy' not in sys.modules and 'fastapi' not in sys.modules, heavy\n"
)


def test_formats_and_errors_load_neither_sqlalchemy_nor_fastapi() -> None:
    done = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, f"loaded too much:\n{done.stderr}"


def test_the_package_names_still_resolve() -> None:
    done = subprocess.run(
        [sys.executable, "-c",
         "from backoffice import Backoffice, BackofficeError, Page, Principal\n"
         "import backoffice\n"
         "assert Backoffice.__module__ == 'backoffice.facade'\n"
         "assert backoffice.BackofficeError is BackofficeError"],
        capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
