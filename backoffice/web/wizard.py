""""Add new webhook": the guide's six steps, done on the server (it works without
JavaScript), ending with "Create webhook".

1 type (and the webhook's name), 2 URL (or the e-mail address), 3 application, 4
notification types, 5 secret (URL webhooks: the delivery format, and a generated secret
offered), 6 support e-mail, then Create webhook. What the earlier steps gave travels in
one hidden field, sealed with the server key and bound to the session: the page holds
no secret and no URL password, only ciphertext that opens for this session alone.
A generated secret is shown once, after Create webhook, on a page nobody may store.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Final

from fastapi import APIRouter, Request, Response

from backoffice import rules
from backoffice.auth import MANAGE
from backoffice.errors import BackofficeError, Invalid
from backoffice.web.access import Form, first, serve
from backoffice.web.render import NO_STORE, Visit, page
from backoffice.web.views import (
    actor_of,
    application_label,
    application_options,
    catalog_of,
    merchant_of,
)
from contract import formats
from contract.urls import has_credentials, redact_url

router = APIRouter(include_in_schema=False)
STEPS: Final = (1, 2, 3, 4, 5, 6)
State = dict[str, Any]


def _context(visit: Visit) -> str:
    assert visit.session is not None
    return f"web-wizard/{visit.session.id_hash}"


def seal_state(visit: Visit, state: State) -> str:
    box = visit.office.sealing.box
    blob = box.seal(json.dumps(state, separators=(",", ":")), context=_context(visit))
    return base64.urlsafe_b64encode(blob).decode("ascii")


def open_state(visit: Visit, text: str) -> State:
    """The state a step's page carried; empty when there is none. A state that does not
    open (another session's, tampered with) starts the wizard again."""
    if not text:
        return {}
    try:
        blob = base64.urlsafe_b64decode(text.encode("ascii"))
        found = json.loads(visit.office.sealing.box.open(blob, context=_context(visit)))
    except (BackofficeError, ValueError, binascii.Error, UnicodeError):
        return {}
    return found if isinstance(found, dict) else {}


def _steps_for(state: State) -> tuple[int, ...]:
    """E-mail webhooks have no secret: step 5 is passed over."""
    return STEPS if state.get("type") != "email" else (1, 2, 3, 4, 6)


def take_step(visit: Visit, step: int, form: Form, state: State) -> State:
    """The state with this step's fields, checked; Invalid names the field."""
    hooks = visit.office.webhooks

    def check(fields: State) -> None:  # the API's own field rules, with its URL policy
        rules.parse_fields(fields, allow_http_loopback=hooks.allow_http_loopback,
                           allow_private_targets=hooks.allow_private_targets)

    given: State = {}
    if step == 1:
        given = {"name": first(form, "name").strip(), "type": first(form, "type")}
        check(given)
    elif step == 2:
        field = "url" if state.get("type") == "url" else "email"
        given = {field: first(form, field).strip()}
        check(given)
    elif step == 3:
        given = {"application": first(form, "application")}
        check(given)
    elif step == 4:
        given = {"notifications": form.get("notifications", [])}
        check(given)
    elif step == 5:
        given = {"format": first(form, "format"), "secret_mode": first(form, "secret_mode")}
        check({"format": given["format"]})
        if given["secret_mode"] == "own":
            secret = first(form, "secret") or state.get("secret", "")
            check({"secret": secret or None})
            if not secret:
                raise Invalid("secret is required when you give your own")
            if problem := formats.secret_problem(given["format"], secret):
                raise Invalid(f"secret does not fit format {given['format']}: {problem}")
            given["secret"] = secret
        elif given["secret_mode"] == "generate":
            given["secret"] = None
        else:
            raise Invalid("choose a generated secret or give your own")
    elif step == 6:
        support = first(form, "support_email").strip()
        given = {"support_email": support or None}
        check(given)
    if step == 1 and state.get("type") not in (None, given["type"]):
        state = {k: v for k, v in state.items() if k in ("name",)}  # another type: start over
    return {**state, **given}


def body_of(state: State) -> dict[str, Any]:
    """The create body the six steps made (the same body the API's POST takes)."""
    body = {k: state[k] for k in ("name", "type", "application", "notifications")}
    if state["type"] == "url":
        body.update(url=state["url"], format=state["format"])
    else:
        body["email"] = state["email"]
    if state.get("support_email"):
        body["support_email"] = state["support_email"]
    return body


def _render(visit: Visit, step: int, state: State, *, status: int = 200,
            problem: str | None = None) -> Response:
    catalog = catalog_of(visit)
    shown = {k: v for k, v in state.items() if k != "secret"}
    if isinstance(shown.get("url"), str) and has_credentials(shown["url"]):
        shown["url"] = redact_url(shown["url"])
    return page(visit, "wizard.html", status=status, step=step, steps=_steps_for(state),
                state=shown, sealed=seal_state(visit, state),
                applications=application_options(visit, catalog),
                application=application_label(visit, state.get("application", ""), catalog)
                if state.get("application") else "",
                catalog=catalog, formats=formats.NAMES, problem=problem,
                own_secret=bool(state.get("secret")))


def start(visit: Visit, _: Form) -> Response:
    return _render(visit, 1, {})


def advance(visit: Visit, form: Form) -> Response:
    state = open_state(visit, first(form, "state"))
    text = first(form, "step")
    step = int(text) if text in {str(s) for s in STEPS} else 1
    if step > 1 and not state.get("type"):
        return _render(visit, 1, {}, status=422, problem=visit.t("wizard.start_again"))
    steps = _steps_for(state)
    if first(form, "action") == "back":
        earlier = [s for s in steps if s < step]
        return _render(visit, earlier[-1] if earlier else 1, state)
    try:
        state = take_step(visit, step, form, state)
    except Invalid as exc:
        return _render(visit, step, state, status=422, problem=exc.detail)
    steps = _steps_for(state)
    if step != steps[-1]:
        return _render(visit, next(s for s in steps if s > step), state)
    return create(visit, state)


def create(visit: Visit, state: State) -> Response:
    body = body_of(state)
    generated = None
    if state["type"] == "url":
        generated = (formats.get(state["format"]).generate_secret()
                     if state.get("secret") is None else None)
        body["secret"] = generated or state["secret"]
    try:
        created = visit.office.webhooks.create_webhook(merchant_of(visit), body,
                                                       actor=actor_of(visit))
    except Invalid as exc:  # a name taken since step 1, a store gone...
        return _render(visit, 6, state, status=exc.status, problem=exc.detail)
    except BackofficeError as exc:
        if exc.status != 409:
            raise
        return _render(visit, 6, state, status=409, problem=exc.detail)
    return page(visit, "created.html", status=201, cache=NO_STORE, w=created,
                generated=generated)


@router.get("/webhooks/new")
async def new_webhook(request: Request) -> Response:
    return await serve(request, start, need=MANAGE)


@router.post("/webhooks/new")
async def new_webhook_step(request: Request) -> Response:
    return await serve(request, advance, need=MANAGE, post=True)
