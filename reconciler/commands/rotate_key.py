"""`webhooks backoffice rotate-key`: put a new server key in ``server.key``, re-seal every
sealed value under it and retire the old one, while servers keep serving
(``backoffice.key_rotation``). Interrupted, it is finished by running it again.

The database password comes from ``WEBHOOKS_DB_URL``, ``PGPASSWORD`` or
``--db-password-file``, never from a flag. No key and no password is ever printed: the
keys are named by their public ids.
"""

from __future__ import annotations

import click

from backoffice.db.engine import parse_url, sqlite_file
from backoffice.errors import BackofficeError
from reconciler.commands import Globals
from reconciler.commands.serve import open_backoffice
from reconciler.errors import EXIT_OK, ReconcilerError
from reconciler.providers.errors import backoffice_errors


def run(g: Globals, *, db_url: str, grace_s: float) -> int:
    from backoffice.key_rotation import rotate

    try:
        path = sqlite_file(parse_url(db_url))
    except BackofficeError:
        path = None  # open_backoffice says what is wrong with the URL
    if path is not None and not path.exists():
        raise ReconcilerError(f"no backoffice database at {path}: nothing to rotate "
                              "(give it with --db or WEBHOOKS_DB_URL)")
    with open_backoffice(db_url) as office:
        where = office.db.url
        ring = office.sealing.box.ring
        if ring.path is None:
            raise ReconcilerError(
                "cannot rotate the server key: it comes from WEBHOOKS_SERVER_KEY, not a key "
                "file. rotate-key rewrites server.key in the data directory, which running "
                "servers follow: unset WEBHOOKS_SERVER_KEY and put the key in server.key "
                "(mode 0600) in WEBHOOKS_DATA_DIR")
        click.echo(f"Rotating the server key of {where} (key file {ring.path or '-'}); "
                   "servers may keep running.", err=True)

        def progress(step: str) -> None:
            if step == "added":
                click.echo(f"Added a new key to {ring.path}: it seals from now on.", err=True)
            elif step == "retired":
                click.echo(f"Retired the old key(s): {ring.path} holds the new key alone.",
                           err=True)

        with backoffice_errors("rotate the server key", where,
                               message=lambda detail: f"cannot rotate the server key: "
                                                      f"{detail}; run rotate-key again"):
            done = rotate(office, grace_s=grace_s, progress=progress)
    if done.resumed:
        click.echo("Finished a rotation that had been interrupted.", err=True)
    for name in sorted(done.values):
        click.echo(f"  {name:<34} {done.values[name]:>8} sealed, "
                   f"{done.resealed.get(name, 0):>8} re-sealed")
    retired = ", ".join(done.retired) or "none"
    click.echo(f"Every sealed value is sealed with key {done.key_id}; retired: {retired}.")
    click.echo("Back up the new server.key now, with the database: a backup of either alone "
               "is useless, and an older backup needs the old key.", err=True)
    return EXIT_OK
