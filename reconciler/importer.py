"""``webhooks import``: existing webhooks as a ``webhooks.yaml`` that plans clean as written.

What to import (``Selection``): ``owned``, the webhooks a config of the owner manages
(the default); ``unmanaged`` (``--include-unmanaged``), those no config manages too
(adopting them needs ``--adopt``); ``all``, every webhook, other owners' too. The owner's
own webhooks are always included: a config declares all of its owner's webhooks, and one
left out would plan its deletion. The owner is ``--owner``; without it, only a backoffice
whose webhooks all belong to one owner (no other owner's, none unmanaged) names it: any
other mix asks for ``--owner``, listing the owners found.

The YAML is written by hand rather than by a YAML library, so that it reads like a
hand-written config and diffs well: webhooks in name order, one field per line in a
fixed order, defaults left out, notifications as a flow list, and each scalar plain
when every YAML reader agrees on it, double-quoted otherwise (``on``, ``yes``, ``0755``
and ``10001`` would read as booleans or numbers). Every webhook is written out in full
(no ``defaults:`` section): a change to one webhook changes its own lines only.

No secret is ever written. A URL webhook's secret stays in the backoffice (the config
omits it, so the plan leaves it alone), with a commented ``secret:`` line showing how to
take it under management. A URL that carries credentials (a user part or a query
string, which the backoffice returns redacted) is written as an ``${env:NAME}``
reference, since a password or a token must not go into a file kept in git.

Before anyone sees it, the text is loaded back as a config and planned against the
webhooks it came from: a file that would not load, or would not plan clean, is a bug
that ``check`` reports rather than writes.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from contract.fingerprints import Fingerprints
from contract.urls import has_credentials, redact_url
from reconciler.config import load_config
from reconciler.errors import ConfigError, ReconcilerError
from reconciler.model import Config, RemoteWebhook
from reconciler.plan import build_plan
from reconciler.render.terminal import printable
from reconciler.selection import by_name

Selection = Literal["owned", "unmanaged", "all"]
SELECTIONS: tuple[Selection, ...] = ("owned", "unmanaged", "all")

OWNER_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
# The schema beside the file, where `webhooks schema > webhooks.schema.json` saves it: a
# path that exists in the user's repository (schemas/ exists only in this one).
SCHEMA_FILE = "webhooks.schema.json"
SCHEMA_LINE = f"# yaml-language-server: $schema={SCHEMA_FILE}"
INDENT = "  "
# The fields a plan may find different in an imported webhook: the reconciler's labels,
# which adoption sets.
ADOPTION_FIELDS = frozenset({"managed_by", "owner"})

# A plain scalar every YAML reader takes as this very string: it starts with a letter (or
# the `$` of a reference), holds no indicator that could end or retype it, and is not one
# of the words YAML 1.1 reads as a boolean or null.
_PLAIN = re.compile(r"[A-Za-z$][A-Za-z0-9 _.,;@/:+=%?&~()!*${}'`#<>^|-]*\Z")
_PLAIN_IN_FLOW = re.compile(r"[A-Za-z][A-Za-z0-9_./@+=-]*\Z")
_RESERVED = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})
# Characters a double-quoted scalar must escape: quote, backslash, and everything
# outside YAML's printable set, plus NEL, LS, PS and BOM (line breaks or invisible).
_ESCAPE = re.compile(
    '["\\\\]|[^\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]'
)
_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\0": "\\0"}


@dataclass(frozen=True)
class ImportResult:
    """The config text, and what the user must know about it."""

    text: str
    owner: str
    webhooks: tuple[RemoteWebhook, ...]  # name order
    adoptions: tuple[str, ...]  # names not managed by this owner yet: plan/apply --adopt
    url_variables: dict[str, str] = field(default_factory=dict)  # env var -> webhook name

    @property
    def already_owned(self) -> tuple[str, ...]:
        """The webhooks this owner's config manages today (the plan leaves them unchanged)."""
        adopted = set(self.adoptions)
        return tuple(w.name for w in self.webhooks if w.name not in adopted)

    @property
    def taken_from_others(self) -> tuple[str, ...]:
        """Adoptions that another owner's config manages today."""
        mine = set(self.adoptions)
        return tuple(w.name for w in self.webhooks if w.name in mine and w.managed)


def import_config(
    webhooks: Iterable[RemoteWebhook], *, fingerprints: Fingerprints,
    selection: Selection = "owned", owner: str | None = None
) -> ImportResult:
    """The config for the selected webhooks, checked to load and to plan clean
    (``fingerprints``: the merchant's, as the plan uses them)."""
    owner, chosen = choose(webhooks, selection=selection, owner=owner)
    chosen = by_name(chosen)
    url_variables = {
        env: w.name
        for w, env in zip(chosen, env_names([w.name for w in chosen], "URL"), strict=True)
        if w.type == "url" and has_credentials(w.url)
    }
    text = render_config(chosen, owner)
    check(text, chosen, url_variables, fingerprints)
    adoptions = tuple(w.name for w in chosen if not (w.managed and w.owner == owner))
    return ImportResult(text, owner, tuple(chosen), adoptions, url_variables)


def choose(
    webhooks: Iterable[RemoteWebhook], *, selection: Selection, owner: str | None
) -> tuple[str, list[RemoteWebhook]]:
    """The owner the config will declare, and the webhooks it will hold."""
    every = list(webhooks)
    unmanaged = [w for w in every if not w.managed]
    if owner is not None:
        _check_owner(owner, "--owner")
    if selection == "owned":
        owners = sorted({w.owner for w in every if w.managed and w.owner})
        if owner is None:
            if len(owners) > 1 or (owners and unmanaged):
                raise ReconcilerError(_ask_owner(every, owners, unmanaged))
            if not owners:
                raise ReconcilerError(
                    "nothing to import: no webhook is managed by webhooks-reconciler yet"
                    + _unmanaged_hint(unmanaged)
                )
            owner = owners[0]
        chosen = [w for w in every if w.managed and w.owner == owner]
        if not chosen:
            others = f" (managed owners: {', '.join(owners)})" if owners else ""
            raise ReconcilerError(
                f'nothing to import: no webhook is managed by owner "{owner}"{others}'
                + _unmanaged_hint(unmanaged)
            )
        return owner, chosen
    chosen = unmanaged if selection == "unmanaged" else every
    if not chosen:
        what = "no webhooks"
        if selection == "unmanaged":
            what = "no webhook that webhooks-reconciler does not manage"
        raise ReconcilerError(f"nothing to import: the backoffice has {what}")
    if owner is None:
        labelled = {w.owner for w in chosen}
        if len(labelled) != 1 or None in labelled:
            found = sorted(o for o in labelled if o is not None)
            seen = f"owner labels found: {', '.join(found)}" if found else "they carry no owner"
            raise ReconcilerError(
                f"the webhooks to import share no owner ({seen}): "
                "name the owner of the new config with --owner NAME"
            )
        owner = str(next(iter(labelled)))
        _check_owner(owner, "the owner label")
    if selection == "unmanaged":
        # A config declares every webhook of its owner: one left out would plan its deletion.
        chosen = [w for w in every if not w.managed or w.owner == owner]
    return owner, chosen


def _ask_owner(every: Sequence[RemoteWebhook], owners: Sequence[str],
               unmanaged: Sequence[RemoteWebhook]) -> str:
    """Which owners hold the webhooks, when that does not name the config's owner."""
    counts = [f"{o} ({sum(1 for w in every if w.managed and w.owner == o)})" for o in owners]
    found = f"webhooks of {len(owners)} owner{'s' if len(owners) != 1 else ''} "
    found += f"({', '.join(counts)})"
    if unmanaged:
        found += f" and {len(unmanaged)} unmanaged"
    more = (" (add --include-unmanaged to take the unmanaged ones too)" if unmanaged else "")
    return (f"the backoffice holds {found}: choose the config's owner with --owner NAME"
            f"{more}")


def _unmanaged_hint(unmanaged: Sequence[RemoteWebhook]) -> str:
    if not unmanaged:
        return ""
    n = len(unmanaged)
    return (
        f"; {n} webhook{'s are' if n != 1 else ' is'} not managed: "
        "`webhooks import --include-unmanaged --owner NAME` writes config to adopt "
        f"{'them' if n != 1 else 'it'}"
    )


def _check_owner(owner: str, where: str) -> None:
    if OWNER_PATTERN.fullmatch(owner) is None:
        raise ReconcilerError(
            f"{where} {printable(owner)!r} can't be a config's owner: lower-case letters, "
            "digits, '.', '_' and '-', starting with a letter or digit, at most 63 characters"
            + ("" if where == "--owner" else "; name one with --owner NAME")
        )


# --- the YAML ---------------------------------------------------------------------------------


def scalar(value: str, *, flow: bool = False) -> str:
    """``value`` as a YAML scalar that reads back as this very string."""
    plain = _PLAIN_IN_FLOW if flow else _PLAIN
    if (
        plain.match(value) is not None
        and value.lower() not in _RESERVED
        and ": " not in value
        and " #" not in value
        and not value.endswith((":", " "))
    ):
        return value
    return '"' + _ESCAPE.sub(_escape, value) + '"'


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    if ch in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[ch]
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def literal(value: str) -> str:
    """A free-text field's value, read literally: ``${`` would start a reference."""
    return value.replace("${", "$${")


def env_names(names: Sequence[str], suffix: str) -> list[str]:
    """An environment variable name per webhook name (``orders-backend`` -> ORDERS_BACKEND_*).

    Names that differ only in punctuation would share one; later ones (in the order
    given) get ``_2``, ``_3``...
    """
    out: list[str] = []
    seen: dict[str, int] = {}
    for name in names:
        base = re.sub(r"[^A-Z0-9]", "_", name.upper())
        if not base[:1].isalpha():
            base = "WEBHOOK_" + base
        count = seen[base] = seen.get(base, 0) + 1
        out.append(f"{base}_{suffix}" if count == 1 else f"{base}_{count}_{suffix}")
    return out


def render_config(webhooks: Sequence[RemoteWebhook], owner: str) -> str:
    """The ``webhooks.yaml`` text for ``webhooks`` (already in the order wanted)."""
    names = [w.name for w in webhooks]
    secret_vars = env_names(names, "SECRET")
    url_vars = env_names(names, "URL")
    adopting = any(not (w.managed and w.owner == owner) for w in webhooks)
    n = len(webhooks)
    lines = [
        SCHEMA_LINE,
        f"# (save the schema beside this file for your editor: webhooks schema > {SCHEMA_FILE})",
        "#",
        f"# Written by `webhooks import`: {n} webhook{'s' if n != 1 else ''} of the backoffice, "
        "in name order.",
        "# No secret is written: the backoffice keeps each webhook's current secret until its",
        "# `secret:` line is uncommented (and the variable set).",
        "#",
    ]
    if adopting:
        lines += [
            "#   webhooks plan --adopt    shows no change but the adoptions (\"~ adopt\")",
            "#   webhooks apply --adopt   takes them over (sets the labels managed-by and owner)",
        ]
    else:
        lines.append("#   webhooks plan            shows no changes (the file matches)")
    lines += ["version: 1", f"owner: {scalar(owner)}", ""]
    if not webhooks:
        lines.append("webhooks: {}")
    else:
        lines.append("webhooks:")
        for i, webhook in enumerate(webhooks):
            if i:
                lines.append("")
            lines += _webhook_lines(webhook, secret_vars[i], url_vars[i])
    return "\n".join(lines) + "\n"


def _webhook_lines(w: RemoteWebhook, secret_var: str, url_var: str) -> list[str]:
    pad = INDENT * 2
    out = [f"{INDENT}{scalar(w.name)}:", f"{pad}type: {scalar(w.type)}"]
    if w.type == "url":
        url = w.url or ""
        if has_credentials(url):
            out += [
                f"{pad}# The URL carries credentials (a user part or a query string), so it",
                f"{pad}# is not written here: set {url_var}",
                f"{pad}# to the URL, which the backoffice shows as {printable(redact_url(url))}",
                f"{pad}url: {scalar('${env:' + url_var + '}')}",
            ]
        else:
            out.append(f"{pad}url: {scalar(literal(url))}")
    else:
        out.append(f"{pad}email: {scalar(literal(w.email or ''))}")
    out.append(f"{pad}application: {scalar(w.application)}")
    notifications = ", ".join(scalar(n, flow=True) for n in sorted(set(w.notifications)))
    out.append(f"{pad}notifications: [{notifications}]")
    if w.support_email:
        out.append(f"{pad}support_email: {scalar(literal(w.support_email))}")
    if w.type == "url" and w.format and w.format != "sibs":
        out.append(f"{pad}format: {scalar(w.format)}")
    if not w.enabled:
        out.append(f"{pad}enabled: false")
    if w.description:
        out.append(f"{pad}description: {scalar(literal(w.description))}")
    if w.prevent_destroy:
        out.append(f"{pad}prevent_destroy: true")
    if w.type == "url":
        out.append(
            f"{pad}# secret: ${{env:{secret_var}}}  "
            "# the backoffice keeps the current secret; uncomment to manage it"
        )
    return out


# --- the self-check and the file ---------------------------------------------------------------


def check(
    text: str, webhooks: Sequence[RemoteWebhook], url_variables: dict[str, str],
    fingerprints: Fingerprints,
) -> Config:
    """Load ``text`` as a config and plan it against ``webhooks``: it must plan clean.

    Only the adoption's labels may differ, and the URLs left to ``url_variables``.
    """
    with tempfile.TemporaryDirectory(prefix="webhooks-import-") as tmp:
        path = Path(tmp) / "webhooks.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            config = load_config(path, secrets="optional")
        except ConfigError as exc:
            problems = "\n".join(
                f"  line {p.line}, col {p.col}: {p.message}" for p in exc.problems[:10]
            )
            raise ReconcilerError(
                "the imported config does not load back, so nothing was written (a webhook "
                f"that a config can't express, or a bug to report):\n{problems}"
            ) from None
    by_url_variable = set(url_variables.values())
    plan = build_plan(config, webhooks, fingerprints=fingerprints, adopt=True)
    for change in plan.changes:
        allowed = ADOPTION_FIELDS | ({"url"} if change.name in by_url_variable else set())
        differing = sorted({fc.field for fc in change.fields} - allowed)
        if change.action != "update" or differing:
            what = ", ".join(differing) or str(change.action)
            raise ReconcilerError(
                f"internal error: the imported config would change {change.name!r} "
                f"({what}); nothing was written (please report this)"
            )
    return config


def write_file(path: Path, text: str, *, force: bool = False) -> None:
    """Write ``text`` to ``path`` atomically (a temp file, then a rename).

    Refuses to overwrite an existing file unless ``force``; an overwritten file keeps its
    permissions, a new one gets the usual ones (0666 less the umask).
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise ReconcilerError(f"cannot write {path}: {exc.strerror or exc}") from None
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise ReconcilerError(f"cannot write {path}: it is a directory")
    if info is not None and not force:
        raise ReconcilerError(
            f"{path} already exists: nothing was written (--force overwrites it)"
        )
    mode = stat.S_IMODE(info.st_mode) if info is not None else 0o666 & ~_umask()
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise ReconcilerError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def _umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current
