"""Saved plans (``webhooks plan --out``): write, read back, and check before apply.

A plan file is the JSON rendering of a plan (``schemas/plan.schema.json``), so it holds
no secret: secrets and URLs with credentials are stored as fingerprints, keyed with the
merchant's fingerprint key, which the file does not hold (so the file alone allows no
guessing; a plan file of format 1, whose fingerprints were unkeyed, is refused). Apply therefore
re-reads the config (secrets from env or files), re-plans against a fresh fetch, and
accepts the saved plan only if

- every change's precondition still holds (``check_stale``: the remote ``id`` and
  ``version`` it saw, or that the name is still absent), and
- the fresh plan makes the same changes (``compare``): same actions, same values, same
  secret and URL fingerprints. A rotated secret or an edited config shows up here. A
  plan made with ``--skip-secrets`` is compared without the secrets
  (``skip_secrets.comparable``), and the fresh plan's secret changes are applied too.
- the environment is the plan's (``environment_problem``).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema

import reconciler
from contract import strict_json
from contract.fingerprints import Fingerprints
from reconciler.errors import PlanError
from reconciler.model import RemoteWebhook
from reconciler.plan.changes import FORMAT_VERSION, Plan, PlanOptions, json_value, safe_value
from reconciler.plan.normalize import FIELDS, actual_state
from reconciler.plan.skip_secrets import comparable
from reconciler.target import Target

SCHEMA_NAME = "plan.schema.json"
MAX_SCHEMA_ERRORS = 10


class InvalidPlanFile(PlanError):
    """A plan file that can't be read, is not a plan, or is not valid."""


@dataclass(frozen=True)
class SavedChange:
    """One change of a saved plan, with what apply must find and send."""

    action: str
    name: str
    precondition: dict[str, Any]  # {"absent": true} or {"id": ..., "version": ...}
    data: dict[str, Any]

    @property
    def absent(self) -> bool:
        return bool(self.precondition.get("absent"))

    @property
    def expected_id(self) -> str | None:
        return self.precondition.get("id")

    @property
    def expected_version(self) -> int | None:
        return self.precondition.get("version")

    @property
    def renamed_from(self) -> str | None:
        """The name the webhook has in the backoffice until a rename applies."""
        old = self.data.get("renamed_from")
        return old if isinstance(old, str) else None

    @property
    def secret_fingerprint(self) -> str | None:
        """The fingerprint of the config's secret this change sends, or None if it sends none.

        Only a secret from the config has a ``source``; one the backoffice keeps has not.
        """
        after = self.data.get("after") or {}
        secret = after.get("secret")
        if isinstance(secret, dict) and "source" in secret:
            return str(secret["fingerprint"])
        return None


@dataclass(frozen=True)
class SavedPlan:
    """A plan file as read back: validated, with the options it was made with."""

    path: Path
    backoffice: Target | None  # what it was made against (None: it does not say)
    config_digest: str
    owner: str
    options: PlanOptions
    safe: bool
    changes: tuple[SavedChange, ...]
    data: dict[str, Any]
    environment: str | None = None

    def expected_secrets(self) -> dict[str, str]:
        """Webhook name -> fingerprint of each secret the plan sends from the config."""
        return {c.name: fp for c in self.changes if (fp := c.secret_fingerprint) is not None}


def schema_path() -> Path:
    """Where ``plan.schema.json`` lives (inside the package, or the repository's schemas/)."""
    packaged = Path(reconciler.__file__).parent / "schemas" / SCHEMA_NAME
    if packaged.exists():
        return packaged
    return Path(reconciler.__file__).resolve().parent.parent / "schemas" / SCHEMA_NAME


@lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(schema_path().read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def dumps(plan: Plan) -> str:
    """The plan as indented JSON with a final newline; key order is stable."""
    return json.dumps(plan.data, indent=2, ensure_ascii=False) + "\n"


def save(plan: Plan, path: Path | str) -> None:
    """Write the plan file atomically (a temp file beside it, then a rename)."""
    path = Path(path)
    text = dumps(plan)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise PlanError(f"{path}: cannot write the plan file: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)  # mkstemp made it 0600: harmless, as the plan holds no secret
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise PlanError(f"{path}: cannot write the plan file: {exc.strerror}") from None
        raise


def load(path: Path | str) -> SavedPlan:
    """Read and validate a plan file; any problem is an ``InvalidPlanFile`` naming it."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidPlanFile(f"{path}: cannot read the plan file: {exc.strerror}") from None
    try:
        data = strict_json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidPlanFile(f"{path}: not a plan file (not UTF-8 text)") from None
    except json.JSONDecodeError as exc:
        raise InvalidPlanFile(
            f"{path}:{exc.lineno}:{exc.colno}: not a plan file (invalid JSON: {exc.msg})"
        ) from None
    except strict_json.DuplicateKey as exc:
        raise InvalidPlanFile(f"{path}: not a plan file ({exc})") from None
    except (ValueError, RecursionError):  # a number too long to convert; runaway nesting
        raise InvalidPlanFile(f"{path}: not a plan file (a number too long or nesting too "
                              "deep to read)") from None
    if not isinstance(data, dict) or "format_version" not in data:
        raise InvalidPlanFile(
            f"{path}: not a webhooks-reconciler plan file (no format_version); "
            "make one with `webhooks plan --out FILE`"
        )
    if data["format_version"] != FORMAT_VERSION:
        raise InvalidPlanFile(f"{path}: {_other_version(data['format_version'])}")
    errors = sorted(_validator().iter_errors(data), key=lambda e: list(map(str, e.path)))
    if errors:
        lines = [f"  at {e.json_path}: {_shorten(e.message)}" for e in errors[:MAX_SCHEMA_ERRORS]]
        if len(errors) > MAX_SCHEMA_ERRORS:
            lines.append(f"  ... and {len(errors) - MAX_SCHEMA_ERRORS} more")
        raise InvalidPlanFile(f"{path}: invalid plan file:\n" + "\n".join(lines))
    options = data["options"]
    backoffice = data["backoffice"]
    return SavedPlan(
        path=path,
        backoffice=None if backoffice is None else Target.from_data(backoffice),
        config_digest=data["config_digest"],
        owner=data["owner"],
        options=PlanOptions(frozenset(options["targets"]), options["adopt"], options["force"],
                            options["skip_secrets"]),
        safe=data["safe"],
        changes=tuple(
            SavedChange(c["action"], c["name"], c["precondition"], c) for c in data["changes"]
        ),
        data=data,
        environment=data["environment"],
    )


def environment_problem(saved: SavedPlan, environment: str | None) -> str | None:
    """Why the saved plan must not be applied in ``environment`` (None when it may)."""
    if saved.environment == environment:
        return None
    made = f'environment "{saved.environment}"' if saved.environment else "no environment"
    now = f'environment "{environment}"' if environment else "no environment"
    return (f"the saved plan {saved.path} was made for {made}, and this apply is for {now}: "
            "apply it with the environment it was made for, or plan again")


def _unkeyed(value: Any) -> Any:
    """``value`` without the fingerprints of its sensitive values (what a fingerprint key
    that was never kept made cannot be compared)."""
    if isinstance(value, dict):
        sensitive = value.get("sensitive") is True
        return {k: _unkeyed(v) for k, v in value.items()
                if not (sensitive and k == "fingerprint")}
    if isinstance(value, list):
        return [_unkeyed(v) for v in value]
    return value


def _other_version(version: object) -> str:
    """Why a plan file of another format version is refused, and what to do."""
    shown = repr(version)[:40]
    if isinstance(version, str) and version.isdigit() and len(version) < 9:
        if int(version) < int(FORMAT_VERSION):
            return (f"plan format_version {shown} was made by an older webhooks: make the "
                    "plan again with this version: webhooks plan --out FILE (this webhooks "
                    f"reads {FORMAT_VERSION!r}; a plan file now records its backoffice, "
                    "environment and drift, with keyed fingerprints)")
        return (f"plan format_version {shown} was made by a newer webhooks: make the plan "
                f"again with this version, or upgrade (this webhooks reads {FORMAT_VERSION!r})")
    return (f"plan format_version {shown} is not supported (this webhooks reads "
            f"{FORMAT_VERSION!r}); make the plan again with this version: "
            "webhooks plan --out FILE")


def check_stale(saved: SavedPlan, actual: Iterable[RemoteWebhook],
                fingerprints: Fingerprints) -> list[str]:
    """Why the saved plan no longer fits the backoffice (empty when every precondition
    holds); ``fingerprints``: the merchant's, to name what changed."""
    remotes = {r.name: r for r in actual}
    reasons = []
    for change in saved.changes:
        remote = remotes.get(change.renamed_from or change.name)
        if change.absent:
            if remote is not None:
                reasons.append(
                    f"{change.name}: the plan creates it, but a webhook of that name "
                    f"exists now ({remote.id}, version {remote.version})"
                )
            continue
        seen = f"{change.expected_id} at version {change.expected_version}"
        if remote is None:
            reasons.append(f"{change.name}: the plan saw {seen}; it no longer exists")
        elif remote.id != change.expected_id:
            reasons.append(
                f"{change.name}: the plan saw {seen}; it was deleted and re-created "
                f"since ({remote.id})"
            )
        elif remote.version != change.expected_version:
            what = _changed_fields(change, remote, fingerprints)
            reasons.append(
                f"{change.name}: changed since the plan "
                f"(version {change.expected_version} -> {remote.version}{what})"
            )
    return reasons


def _changed_fields(change: SavedChange, remote: RemoteWebhook,
                    fingerprints: Fingerprints) -> str:
    """``: description changed`` (or ``: url and enabled changed``) from the view the plan
    saw and the webhook now; names only, as some values are fingerprints."""
    seen = change.data.get("before") or {}
    now = dict(zip(FIELDS, actual_state(remote, fingerprints), strict=True))
    names = [name for name in FIELDS if name in seen
             and json_value(safe_value(name, now[name])) != seen[name]]
    if not names:
        return ""  # written again with the same values (a version moves on every write)
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f": {listed} changed"


def compare(saved: SavedPlan, plan: Plan, *, new_backoffice: bool = False) -> list[str]:
    """How a fresh plan (same config, same options) differs from the saved one.

    A plan saved with ``--skip-secrets`` is compared without the secrets: the fresh plan
    (made with them) may change a secret the saved one could not see. So is one applied
    to an embedded backoffice that this apply creates (``new_backoffice``): the plan was
    made against an empty one held in memory, whose fingerprint key was never kept, so
    its fingerprints (secrets, URLs with credentials) cannot be compared with the new
    backoffice's: every change is a create, and all else, a URL's redaction included,
    must still match."""
    reasons = []
    if plan.config_digest != saved.config_digest:
        reasons.append("the config file changed since the plan was made")
    if plan.owner != saved.owner:
        reasons.append(f'the owner is now "{plan.owner}", the plan was for "{saved.owner}"')
    secrets = not saved.options.skip_secrets and not new_backoffice
    before = {c.name: comparable(_stable(c.data), secrets=secrets) for c in saved.changes}
    now = {c.name: data for c in plan.changes
           if (data := comparable(_stable(c.data), secrets=secrets)) is not None}
    if new_backoffice:  # a URL with credentials is compared by its redaction alone
        before = {name: _unkeyed(data) for name, data in before.items()}
        now = {name: _unkeyed(data) for name, data in now.items()}
    for name in sorted(before.keys() | now.keys()):
        old, new = before.get(name), now.get(name)
        if old == new:
            continue
        if new is None:
            assert old is not None
            reasons.append(f"{name}: the plan would {old['action']} it; that is no longer needed")
        elif old is None:
            reasons.append(f"{name}: now needs {_a(new['action'])}, which the plan does not hold")
        elif old["action"] != new["action"]:
            reasons.append(
                f"{name}: the plan would {old['action']} it; now it needs {_a(new['action'])}"
            )
        else:
            fields = _differing(old, new)
            reasons.append(f"{name}: the planned {new['action']} differs now ({fields})")
    return reasons


def _a(action: str) -> str:
    """``an update``, ``a create``: the action as a noun with its article."""
    return f"{'an' if action[:1] in 'aeiou' else 'a'} {action}"


def _stable(change: dict[str, Any]) -> dict[str, Any]:
    """A change's data without what depends on when the plan was made: the estimated
    end of a replaced secret's grace (its length is kept, and compared)."""
    fields = []
    for item in change.get("fields") or []:
        grace = item.get("grace")
        if isinstance(grace, dict):
            item = {**item, "grace": {**grace, "previous_valid_until": None}}
        fields.append(item)
    return {**change, "fields": fields}


def _differing(old: dict[str, Any], new: dict[str, Any]) -> str:
    """Which values differ, by field name (no value is shown: some are fingerprints)."""
    names = []
    for side in ("before", "after"):
        a, b = old.get(side) or {}, new.get(side) or {}
        names += [k for k in sorted(a.keys() | b.keys()) if a.get(k) != b.get(k)]
    if old.get("precondition") != new.get("precondition"):
        names.append("precondition")
    return ", ".join(dict.fromkeys(names)) or "details"


def _shorten(message: str, limit: int = 200) -> str:
    return message if len(message) <= limit else message[: limit - 3] + "..."
