"""What makes a config valid: the schema's rules and the checks beyond it, with messages."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from contract import catalogue
from contract.urls import url_problem
from reconciler import config as validate
from reconciler.config import load_config, read_config
from reconciler.config.yamlload import load_slow
from reconciler.model import NOTIFICATION_TYPES, Catalog
from tests.support.config import DATA, write
from tests.support.secrets import SIBS_SECRET, WEAK_SIBS, WHSEC, strong_whsec

DEMO = Catalog(
    notification_types=dict(NOTIFICATION_TYPES),
    stores=frozenset({"LIS-01", "POR-01"}),
    terminals={"10001": "LIS-01", "10002": "LIS-01", "20001": "POR-01"},
    credentials={},
)


def messages(path: Path, **kwargs: object) -> list[str]:
    """Each problem as printed, without the file's directory."""
    report = read_config(path, **kwargs)  # type: ignore[arg-type]
    return [str(p).replace(str(path.parent) + "/", "") for p in report.problems]


def config(webhooks: str, *, defaults: str = "") -> str:
    head = "version: 1\nowner: payments-team\n"
    if defaults:
        head += "defaults:\n" + defaults
    return head + "webhooks:\n" + webhooks


URL_HOOK = "  orders:\n    type: url\n    application: merchant\n    notifications: [mbway]\n"
MAIL_HOOK = "  mail:\n    type: email\n    application: merchant\n    notifications: [mbway]\n"


# --- the schema itself -------------------------------------------------------------------------


def test_schema_is_valid_draft_2020_12():
    Draft202012Validator.check_schema(validate.schema())
    assert validate.schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert (
        validate.SCHEMA_PATH.resolve()
        == (DATA.parents[2] / "schemas" / "webhooks.schema.json").resolve()
    )


def _properties(node: object, where: str = "") -> list[tuple[str, dict[str, object]]]:
    found: list[tuple[str, dict[str, object]]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "if":  # conditions, not property definitions
                continue
            if key == "properties" and isinstance(value, dict):
                found += [
                    (f"{where}.{name}", sub) for name, sub in value.items() if isinstance(sub, dict)
                ]
            found += _properties(value, f"{where}.{key}")
    elif isinstance(node, list):
        for item in node:
            found += _properties(item, where)
    return found


def test_every_property_has_a_description_and_examples():
    properties = _properties(validate.schema())
    assert len(properties) >= 20
    for where, sub in properties:
        assert sub.get("description") and sub.get("examples"), where


def test_schema_is_strict_everywhere():
    def objects(node: object) -> list[dict[str, object]]:
        if isinstance(node, dict):
            own = [node] if node.get("type") == "object" else []
            return own + [o for v in node.values() for o in objects(v)]
        return [o for v in node for o in objects(v)] if isinstance(node, list) else []

    found = objects(validate.schema())
    # the config, defaults, webhooks, a webhook; safety; environments, one, its webhooks, an
    # override
    assert len(found) == 9
    assert all(o.get("additionalProperties") is not None for o in found)


def test_schema_lists_the_catalogue_and_the_model_fields():
    defs = validate.schema()["$defs"]
    assert defs["notifications"]["items"]["enum"] == list(NOTIFICATION_TYPES)
    assert tuple(defs["webhook"]["properties"]) == validate.WEBHOOK_FIELDS
    assert tuple(validate.schema()["properties"]["defaults"]["properties"]) == (
        validate.DEFAULT_FIELDS
    )


# --- schema findings, with messages -------------------------------------------------------


def test_every_problem_at_once_sorted_with_positions():
    expected = (DATA / "problems.expected").read_text().splitlines()[:-1]
    assert messages(DATA / "problems.yaml", secrets="optional") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "versoin: 1\nowner: t\nwebhooks: {}\n",
            [
                "webhooks.yaml:1:1: missing required key 'version' (write version: 1)",
                "webhooks.yaml:1:1: versoin: unknown key 'versoin'; did you mean 'version'?",
            ],
        ),
        (
            "version: 1\nowner: t\nwebhooks: {}\norders:\n  type: url\n",
            ["webhooks.yaml:4:1: orders: unknown key 'orders' (webhooks go under `webhooks:`)"],
        ),
        (
            "version: 1\nowner: t\ndefaults:\n  notification: [mbway]\nwebhooks: {}\n",
            [
                "webhooks.yaml:4:3: defaults.notification: unknown key 'notification'; "
                "did you mean 'notifications'?"
            ],
        ),
    ],
)
def test_unknown_keys_with_did_you_mean(tmp_path, text, expected):
    assert messages(write(tmp_path, text)) == expected


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("enabled", "'true'", "enabled: expected true or false, got the text 'true'"),
        ("notifications", "mbway", "notifications: expected a list, got the text 'mbway'"),
        ("description", "42", "description: expected text, got the number 42"),
        ("prevent_destroy", "~", "prevent_destroy: expected true or false, got null"),
        ("url", "[a]", "url: expected text, got a list"),
    ],
)
def test_wrong_types(tmp_path, field, value, expected):
    hook = (
        URL_HOOK.replace("    notifications: [mbway]\n", "")
        if field == "notifications"
        else URL_HOOK
    )
    extra = "" if field == "url" else "    url: https://x.example/\n"
    found = messages(write(tmp_path, config(hook + extra + f"    {field}: {value}\n")))
    line = 8 if field in ("notifications", "url") else 9
    assert found == [f"webhooks.yaml:{line}:{7 + len(field)}: webhooks.orders.{expected}"]


def test_wrong_type_of_a_secret_does_not_show_it(tmp_path):
    found = messages(
        write(tmp_path, config(URL_HOOK + "    url: https://x.example/\n    secret: 123456789\n"))
    )
    assert found == [
        "webhooks.yaml:9:13: webhooks.orders.secret: expected text, got something else"
    ]


def test_webhooks_null_and_webhook_null(tmp_path):
    assert messages(write(tmp_path, "version: 1\nowner: t\nwebhooks:\n")) == [
        "webhooks.yaml:3:10: webhooks: expected a mapping, got null (write `webhooks: {}` for none)"
    ]
    assert messages(write(tmp_path, config("  orders:\n"))) == [
        "webhooks.yaml:4:10: webhooks.orders: expected a mapping, got null"
    ]


@pytest.mark.parametrize(
    ("hook", "expected"),
    [
        (
            URL_HOOK,
            ["webhooks.yaml:4:3: webhooks.orders: missing required key 'url' (type url needs it)"],
        ),
        (
            MAIL_HOOK,
            [
                "webhooks.yaml:4:3: webhooks.mail: missing required key 'email' "
                "(type email needs it)"
            ],
        ),
        (
            "  orders:\n    url: https://x.example/\n    application: merchant\n"
            "    notifications: [mbway]\n",
            ["webhooks.yaml:4:3: webhooks.orders: missing required key 'type' (url or email)"],
        ),
        (
            URL_HOOK + "    url: https://x.example/\n    email: a@b.example\n",
            ["webhooks.yaml:9:5: webhooks.orders.email: not allowed for a webhook of type url"],
        ),
        (
            MAIL_HOOK + "    email: a@b.example\n    url: https://x.example/\n"
            "    secret: ${env:X}\n    format: sibs\n    test_on_apply: true\n",
            [
                f"webhooks.yaml:{line}:5: webhooks.mail.{key}: not allowed for a webhook of type "
                "email"
                for line, key in ((9, "url"), (10, "secret"), (11, "format"), (12, "test_on_apply"))
            ],
        ),
        (
            "  orders:\n    type: webhook\n    url: https://x.example/\n    application: merchant\n"
            "    notifications: [mbway]\n",
            [
                "webhooks.yaml:5:11: webhooks.orders.type: 'webhook' is not a webhook type (url or "
                "email)"
            ],
        ),
    ],
)
def test_type_dependent_fields(tmp_path, hook, expected):
    assert messages(write(tmp_path, config(hook))) == expected


@pytest.mark.parametrize(
    ("application", "ok"),
    [
        ("merchant", True),
        ("store:LIS-01", True),
        ("terminal:10001", True),
        ("store:", False),
        ("Merchant", False),
        ("store:a b", False),
        ("terminal:" + "1" * 33, False),
        ("shop:LIS-01", False),
    ],
)
def test_application_pattern(tmp_path, application, ok):
    found = messages(
        write(
            tmp_path,
            config(MAIL_HOOK.replace("merchant", f"'{application}'") + "    email: a@b.example\n"),
        )
    )
    assert found == (
        []
        if ok
        else [
            f"webhooks.yaml:6:18: webhooks.mail.application: '{application}' is not an "
            "application: write merchant, store:<code> or terminal:<id>"
        ]
    )


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("Orders", "; did you mean 'orders'?"),
        ("-orders", ""),
        ("a" * 64, ""),
        ("a b", ""),
    ],
)
def test_webhook_names(tmp_path, name, hint):
    text = config(
        f"  '{name}':\n    type: email\n    email: a@b.example\n"
        "    application: merchant\n    notifications: [mbway]\n"
    )
    assert messages(write(tmp_path, text)) == [
        f"webhooks.yaml:4:3: webhooks.{name}: invalid webhook name '{name}': use lower-case "
        "letters, digits, '.', '_' and '-', starting with a letter or digit, at most 63 "
        f"characters{hint}"
    ]


def test_names_with_dots_are_quoted_in_messages(tmp_path):
    text = config(
        "  receipts.v2:\n    type: email\n    email: nope\n"
        "    application: merchant\n    notifications: [mbway]\n"
    )
    assert messages(write(tmp_path, text)) == [
        "webhooks.yaml:6:12: webhooks['receipts.v2'].email: 'nope' must be an e-mail address "
        "like someone@shop.example (ASCII, with a domain)"
    ]


def test_version_and_owner(tmp_path):
    assert messages(write(tmp_path, "version: '1'\nowner: t\nwebhooks: {}\n")) == [
        "webhooks.yaml:1:10: version: unsupported version '1'; this tool reads version 1"
    ]
    assert messages(write(tmp_path, "version: 1\nwebhooks: {}\n")) == [
        "webhooks.yaml:1:1: missing required key 'owner' (the team that owns these webhooks, "
        "e.g. owner: payments-team)"
    ]


@pytest.mark.parametrize(
    ("notifications", "expected"),
    [
        ("[mbwya]", "notifications[0]: 'mbwya' is not a notification type; did you mean 'mbway'?"),
        (
            "[bitcoin]",
            "notifications[0]: 'bitcoin' is not a notification type (one of: "
            + ", ".join(catalogue.CODES) + ")",
        ),
        ("[]", "notifications: must list at least one notification type"),
        ("[xpay, xpay]", "notifications[1]: 'xpay' is listed more than once"),
    ],
)
def test_notifications(tmp_path, notifications, expected):
    hook = MAIL_HOOK.replace("[mbway]", notifications) + "    email: a@b.example\n"
    assert [m.split(": ", 1)[1] for m in messages(write(tmp_path, config(hook)))] == [
        f"webhooks.mail.{expected}"
    ]


# --- defaults -------------------------------------------------------------------------------------


def test_application_and_notifications_come_from_defaults_or_are_required(tmp_path):
    hook = "  mail:\n    type: email\n    email: a@b.example\n"
    assert messages(write(tmp_path, config(hook))) == [
        "webhooks.yaml:4:3: webhooks.mail: missing required key 'application' (set it here or "
        "in defaults)",
        "webhooks.yaml:4:3: webhooks.mail: missing required key 'notifications' (list them "
        "here or in defaults)",
    ]
    path = write(
        tmp_path, config(hook, defaults="  application: store:POR-01\n  notifications: [qr-code]\n")
    )
    spec = load_config(path).webhooks["mail"]
    assert (spec.application, spec.notifications) == ("store:POR-01", ("qr-code",))


def test_a_bad_default_is_reported_once_at_the_default(tmp_path):
    hooks = "".join(f"  m{i}:\n    type: email\n    email: m{i}@b.example\n" for i in range(3))
    text = config(
        hooks,
        defaults="  application: merchant\n  notifications: [mbway]\n"
        "  support_email: oncall-at-shop\n",
    )
    assert messages(write(tmp_path, text)) == [
        "webhooks.yaml:6:18: defaults.support_email: 'oncall-at-shop' must be an e-mail address "
        "like someone@shop.example (ASCII, with a domain)"
    ]


# --- secrets --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "secret", "problem"),
    [
        ("sibs", SIBS_SECRET, None),
        ("sibs", base64.b64encode(bytes(31)).decode(), "decodes to 31 bytes"),
        ("sibs", "not base64!", "is not standard base64 in canonical form"),
        ("sibs", base64.urlsafe_b64encode(b"\xfb" * 32).decode(), "is not standard base64"),
        ("sibs", WHSEC, "is not standard base64"),
        ("standard-webhooks", WHSEC, None),
        ("standard-webhooks", strong_whsec(64, 64), None),
        # fits the format, but weak (contract.secrets): refused all the same
        ("standard-webhooks", "whsec_" + base64.b64encode(bytes(64)).decode(),
         "is weak: it decodes to 64 bytes with only 1 distinct value"),
        ("sibs", WEAK_SIBS, "is weak: it decodes to printable text"),
        ("standard-webhooks", SIBS_SECRET, "does not start with 'whsec_'"),
        ("standard-webhooks", "whsec_" + base64.b64encode(bytes(16)).decode(), "decodes to 16"),
        ("standard-webhooks", "whsec_" + base64.b64encode(bytes(65)).decode(), "decodes to 65"),
        ("standard-webhooks", "whsec_***", "is not standard base64 in canonical form after"),
    ],
)
def test_secret_format_per_delivery_format(tmp_path, monkeypatch, fmt, secret, problem):
    monkeypatch.setenv("ORDERS_SECRET", secret)
    path = write(
        tmp_path,
        config(
            URL_HOOK + "    url: https://x.example/\n"
            f"    format: {fmt}\n    secret: ${{env:ORDERS_SECRET}}\n"
        ),
    )
    for mode in ("require", "optional"):
        found = messages(path, secrets=mode)
        if problem is None:
            assert found == []
        else:
            assert len(found) == 1 and problem in found[0] and secret not in found[0]
            assert found[0].startswith("webhooks.yaml:10:13: webhooks.orders.secret: ")
            assert "the secret from env:ORDERS_SECRET" in found[0]


def test_secret_format_follows_the_default_format(tmp_path, monkeypatch):
    monkeypatch.setenv("ORDERS_SECRET", SIBS_SECRET)
    path = write(
        tmp_path,
        config(
            URL_HOOK + "    url: https://x.example/\n    secret: ${env:ORDERS_SECRET}\n",
            defaults="  format: standard-webhooks\n",
        ),
    )
    assert messages(path) == [
        "webhooks.yaml:11:13: webhooks.orders.secret: a standard-webhooks secret must be "
        "'whsec_' followed by the standard base64 of 24 to 64 bytes: the secret from "
        "env:ORDERS_SECRET does not start with 'whsec_'"
    ]


def test_no_secret_value_reaches_any_message_or_repr(tmp_path, monkeypatch):
    """Secrets in every shape that fails a check: the value never shows."""
    bad = "whsec_" + base64.b64encode(b"leaky-secret-bytes").decode()
    (tmp_path / "s.key").write_text(bad + "\n")
    monkeypatch.setenv("BAD_SECRET", bad)
    hooks = "".join(
        f"  h{i}:\n    type: url\n    url: https://x.example/{i}\n    application: merchant\n"
        f"    notifications: [mbway]\n    secret: {ref}\n"
        for i, ref in enumerate(
            ["${env:BAD_SECRET}", "${file:s.key}", f"'{bad}'", f"'x{bad}${{env:BAD_SECRET}}'"]
        )
    )
    hooks += f"  h9:\n    type: email\n    email: a@b.example\n    secret: '{bad}'\n"
    path = write(
        tmp_path, config(hooks, defaults="  notifications: [mbway]\n  application: merchant\n")
    )
    report = read_config(path, secrets="optional")
    assert len(report.problems) == 5
    for problem in report.problems:
        for leak in (bad, bad[6:], bad[6:20]):
            assert leak not in str(problem) and leak not in repr(problem)
            assert leak not in str(problem.as_dict())
    (tmp_path / "s.key").write_text(WHSEC)
    monkeypatch.setenv("BAD_SECRET", WHSEC)
    ok = load_config(
        write(
            tmp_path,
            config(
                URL_HOOK + "    url: https://x.example/\n    format: standard-webhooks\n"
                "    secret: ${env:BAD_SECRET}\n"
            ),
        )
    )
    assert WHSEC not in repr(ok) and WHSEC not in str(ok.webhooks)


# --- URLs and e-mail addresses --------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://api.shop.example/hooks",
        "https://user:pass@api.shop.example:8443/x?y=1",
        "http://127.0.0.1:9999/hooks",
        "http://127.8.9.10/",
        "http://[::1]:8080/",
        "http://localhost/",
        "HTTPS://API.SHOP.EXAMPLE/",
    ],
)
def test_good_urls(url):
    assert url_problem(url) is None


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        (
            "http://api.shop.example/",
            "must use https; plain http is allowed only to loopback "
            "(127.0.0.0/8, ::1, localhost), not api.shop.example",
        ),
        (
            "http://10.0.0.1/",
            "must use https; plain http is allowed only to loopback "
            "(127.0.0.0/8, ::1, localhost), not 10.0.0.1",
        ),
        ("ftp://x.example/", "must be an absolute https:// URL (not ftp:)"),
        ("javascript:alert(1)", "must be an absolute https:// URL (not javascript:)"),
        ("/relative/path", "must be an absolute https:// URL (not a relative URL)"),
        ("https:///no-host", "must be an absolute https:// URL with a host"),
        ("https://x.example:99999/", "is not a valid URL"),
        ("https://x.example/a b", "must not contain spaces or control characters"),
        ("https://[::1/", "is not a valid URL"),
        # A fragment never reaches the receiver: refused, rather than silently dropped.
        (
            "https://user:pass@api.shop.example:8443/x?y=1#z",
            "must not have a fragment (#...): it is never sent to the receiver; "
            "put a token in the query string or the user part instead",
        ),
    ],
)
def test_bad_urls(url, problem):
    assert url_problem(url) == problem


def test_url_messages_never_show_credentials(tmp_path, monkeypatch):
    monkeypatch.setenv("HOOK_URL", "http://user:hunter2@api.shop.example/x")
    found = messages(write(tmp_path, config(URL_HOOK + "    url: ${env:HOOK_URL}\n")))
    # A URL read through a reference is named by its field only: not even its host.
    assert len(found) == 1 and "must use https" in found[0]
    assert "hunter2" not in found[0] and "api.shop.example" not in found[0]


@pytest.mark.parametrize(
    ("address", "ok"),
    [
        ("lisbon@shop.example", True),
        ("first.last+tag@sub.shop.example", True),
        ("jose@loja.pt", True),
        ("ç@exemplo.pt", False),  # the backoffice takes ASCII addresses only
        ("no-at-sign", False),
        ("a@b", False),
        ("a b@shop.example", False),
        ("a@@shop.example", False),
        ("a@shop.example.", False),
        ("@shop.example", False),
        ("a@shop.e", False),
        ("a@-shop.example", False),
    ],
)
def test_email_syntax(address, ok):
    assert (validate.email_problem(address) is None) is ok


# --- the backoffice catalogue ---------------------------------------------------------------------


def test_stores_and_terminals_against_the_catalogue(tmp_path):
    hooks = "".join(
        f"  h{i}:\n    type: email\n    email: a@b.example\n    application: {app}\n"
        "    notifications: [mbway]\n"
        for i, app in enumerate(
            [
                "store:LIS-01",
                "store:LIS-1",
                "terminal:20001",
                "terminal:2001",
                "store:XYZ",
                "merchant",
            ]
        )
    )
    path = write(tmp_path, config(hooks))
    assert messages(path) == []  # offline: the references cannot be checked
    assert messages(path, catalog=DEMO) == [
        "webhooks.yaml:12:18: webhooks.h1.application: the backoffice has no store 'LIS-1'; "
        "did you mean 'LIS-01'?",
        "webhooks.yaml:22:18: webhooks.h3.application: the backoffice has no terminal '2001'; "
        "did you mean '20001'?",
        "webhooks.yaml:27:18: webhooks.h4.application: the backoffice has no store 'XYZ' "
        "(known stores: LIS-01, POR-01)",
    ]


def test_notification_types_against_the_catalogue(tmp_path):
    catalog = Catalog({"mbway": "MB WAY", "card-3ds": "Card 3-D Secure"}, frozenset(), {}, {})
    path = write(
        tmp_path,
        config(
            MAIL_HOOK.replace("[mbway]", "[mbway, xpay, card-3ds]") + "    email: a@b.example\n"
        ),
    )
    assert messages(path, catalog=catalog) == [
        "webhooks.yaml:7:28: webhooks.mail.notifications[1]: 'xpay' is not offered by the "
        "backoffice (known types: card-3ds, mbway)"
    ]
    assert messages(path)[0].endswith(
        f"'card-3ds' is not a notification type (one of: {', '.join(catalogue.CODES)})"
    )


def test_did_you_mean():
    assert validate.did_you_mean("urll", validate.WEBHOOK_FIELDS) == "; did you mean 'url'?"
    assert validate.did_you_mean("NOTIFICATIONS", validate.WEBHOOK_FIELDS) == (
        "; did you mean 'notifications'?"
    )
    assert validate.did_you_mean("zzz", validate.WEBHOOK_FIELDS) == ""
    assert validate.did_you_mean(3, validate.WEBHOOK_FIELDS) == ""


@pytest.mark.parametrize("name", ["full.yaml", "problems.yaml"])
def test_the_inlined_validator_judges_like_the_schema_file(name):
    """The loader validates a $ref-inlined copy of the schema, for speed: same verdicts."""
    doc = load_slow((DATA / name).read_text()).value
    bare = Draft202012Validator(validate.schema())

    def verdicts(validator: Draft202012Validator) -> list[tuple[object, ...]]:
        return sorted(
            (tuple(e.absolute_path), str(e.validator), e.message)
            for e in validator.iter_errors(doc)
        )

    assert verdicts(validate.validator()) == verdicts(bare)
    assert (verdicts(bare) == []) is (name == "full.yaml")
