"""Which backoffice a command talks to, chosen explicitly, never by a silent fallback.

The rules, in one place:

- ``--api-url URL`` or ``WEBHOOKS_API_URL``: the backoffice at URL, with the bearer token
  in ``WEBHOOKS_API_TOKEN``.
- ``WEBHOOKS_API_URL`` set to the empty string (what a CI system gives for an undefined
  variable) is an error, as is ``WEBHOOKS_API_TOKEN`` with no URL: either means a
  backoffice was meant and is not named. ``--embedded`` names the embedded backoffice
  explicitly: then an empty URL or a lone token names nothing and is ignored, while a
  URL beside it is an error (two backoffices).
- Otherwise the embedded backoffice (``.webhooks/backoffice.db`` beside the config), but
  in CI (``CI`` set to anything but ``false`` or ``0``; an empty ``CI`` counts as unset)
  only when asked for with ``--embedded``: a runner's throwaway database is never a
  pipeline's target by accident.

Commands that talk to no backoffice (``validate --offline``, ``listen``, ``schema``)
never call ``resolve``, so these variables do not concern them. A ``Target`` names the
backoffice without any credential: the API URL's origin, or the database's absolute path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from contract.urls import origin
from reconciler.errors import ReconcilerError

ENV_API_URL = "WEBHOOKS_API_URL"
ENV_API_TOKEN = "WEBHOOKS_API_TOKEN"
ENV_CI = "CI"
EMBEDDED_DIR = ".webhooks"
EMBEDDED_DB = "backoffice.db"

TargetKind = Literal["http", "embedded"]


@dataclass(frozen=True)
class Target:
    """A backoffice as plans, plan files and messages name it: never a credential.

    ``location``: the API URL's origin (``https://backoffice.example``) or the embedded
    database's absolute path. ``token`` (http): whether a token is sent; ``exists``
    (embedded): whether the database was there when the command started.
    """

    kind: TargetKind
    location: str
    token: bool = False
    exists: bool = True

    @property
    def data(self) -> dict[str, Any]:
        """As plans and plan files carry it (``schemas/plan.schema.json``)."""
        return {"kind": self.kind, "location": self.location}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Target:
        kind: TargetKind = "http" if data["kind"] == "http" else "embedded"
        return cls(kind, str(data["location"]))

    @property
    def same_as(self) -> tuple[str, str]:
        """What two targets must share to be the same backoffice."""
        return self.kind, self.location

    @property
    def text(self) -> str:
        """The backoffice in a few words: ``https://bo.example`` or ``embedded backoffice
        /path/.webhooks/backoffice.db``."""
        if self.kind == "http":
            return self.location
        return f"embedded backoffice {self.location}"

    @property
    def line(self) -> str:
        """One line for text output: ``Backoffice: https://bo.example (token from
        WEBHOOKS_API_TOKEN)``; the token itself never. ("Backoffice", not "Target":
        ``--target NAME`` chooses webhooks.)"""
        if self.kind == "http":
            how = (f"token from {ENV_API_TOKEN}" if self.token
                   else f"no token: {ENV_API_TOKEN} is unset")
            return f"Backoffice: {self.location} ({how})"
        note = "" if self.exists else " (not created yet)"
        return f"Backoffice: embedded, {self.location}{note}"


@dataclass(frozen=True)
class Choice:
    """A resolved target and what opening it needs (the full URL and the token stay here,
    never in the ``Target``)."""

    target: Target
    url: str | None = None  # http: the URL as given (it may hold credentials)
    token: str | None = None
    data_dir: Path | None = None  # embedded: the .webhooks directory


def ci_is_set(env: Mapping[str, str]) -> bool:
    """``CI`` set to anything but ``false`` or ``0`` (any case); empty counts as unset."""
    value = env.get(ENV_CI, "").strip()
    return value != "" and value.lower() not in ("false", "0")


def embedded_data_dir(config_file: Path) -> Path:
    """Where the embedded backoffice lives: ``.webhooks/`` beside the config file."""
    return config_file.resolve().parent / EMBEDDED_DIR


def resolve(*, flag_url: str | None, embedded: bool, config_file: Path,
            env: Mapping[str, str]) -> Choice:
    """The backoffice this command must talk to, by the rules above; ReconcilerError
    (naming the variable) when none is named clearly."""
    env_url = env.get(ENV_API_URL)
    token = env.get(ENV_API_TOKEN) or None
    url = flag_url if flag_url is not None else env_url
    where = "--api-url" if flag_url is not None else ENV_API_URL
    if url is not None and not url.strip():
        if embedded:  # asked for by name: an empty variable beside it names nothing
            url = None
        else:
            raise ReconcilerError(
                f"{where} is set but empty: set it to the backoffice's URL "
                f"(http(s)://HOST[:PORT]), or unset it"
                + (" and pass --embedded" if ci_is_set(env) else "")
                + " to use the embedded backoffice; nothing was done")
    if url is not None:
        if embedded:
            raise ReconcilerError(
                f"--embedded and {where} name two backoffices: give one of them")
        target = Target("http", origin(url.strip()), token=token is not None)
        return Choice(target, url=url.strip(), token=token)
    if token is not None and not embedded:
        raise ReconcilerError(
            f"{ENV_API_TOKEN} is set but {ENV_API_URL} is not: set {ENV_API_URL} to the "
            f"backoffice the token is for (or pass --embedded to use the embedded "
            f"backoffice, which needs no token); nothing was done")
    if ci_is_set(env) and not embedded:
        raise ReconcilerError(
            f"CI is set and no backoffice is named: set {ENV_API_URL} (and "
            f"{ENV_API_TOKEN}) to your backoffice, or pass --embedded to use a backoffice "
            f"in {EMBEDDED_DIR}/ on this machine; nothing was done")
    data_dir = embedded_data_dir(config_file)
    database = data_dir / EMBEDDED_DB
    return Choice(Target("embedded", str(database), exists=database.exists()),
                  data_dir=data_dir)


def mismatch(planned: Target, current: Target) -> str | None:
    """Why a plan made against ``planned`` must not be applied to ``current``, or None."""
    if planned.same_as == current.same_as:
        return None
    return (f"the plan was made against {planned.text}, but this apply targets "
            f"{current.text}; nothing was applied. Make the plan again against this "
            "backoffice, or point this apply at the plan's")
