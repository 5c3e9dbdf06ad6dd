"""The loader: YAML reading, positions, hostile files, references, defaults, both paths."""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.config import REFERENCE_FIELDS, load_config, read_config
from reconciler.config.references import References
from reconciler.config.yamlload import MAX_FILE_BYTES, fast_path_allowed, load_fast, load_slow
from reconciler.errors import ConfigError, Problem
from reconciler.model import Secret
from tests.support.config import DATA, write
from tests.support.plan_samples import FINGERPRINTS
from tests.support.secrets import SIBS_SECRET, WHSEC

HEADER = """\
    version: 1
    owner: payments-team
    webhooks:
"""


def problems(path: Path, **kwargs: object) -> list[str]:
    """The problems of a config, as printed, without the directory of the file."""
    report = read_config(path, **kwargs)  # type: ignore[arg-type]
    return [str(p).replace(str(path.parent) + "/", "") for p in report.problems]


def only_problem(path: Path, **kwargs: object) -> str:
    found = problems(path, **kwargs)
    assert len(found) == 1, found
    return found[0]


# --- the happy path ------------------------------------------------------------------------


def test_loads_every_field_with_defaults_merged(monkeypatch, tmp_path):
    config_dir = tmp_path / "repo"
    (config_dir / "secrets").mkdir(parents=True)
    (config_dir / "webhooks.yaml").write_bytes((DATA / "full.yaml").read_bytes())
    (config_dir / "secrets" / "receipts.key").write_text(WHSEC + "\n")
    monkeypatch.setenv("ORDERS_WEBHOOK_SECRET", SIBS_SECRET)

    config = load_config(config_dir / "webhooks.yaml")

    assert (config.version, config.owner) == (1, "payments-team")
    # Without a backoffice's policy, a loopback URL is only a warning (it is refused by a
    # backoffice that refuses private targets).
    assert [w.message for w in config.warnings] == [
        "webhooks.porto-terminal.url: 127.0.0.1 is loopback: a backoffice that refuses "
        "private targets (webhooks serve without --allow-private-targets) refuses this URL; "
        "the embedded one accepts it"]
    assert list(config.webhooks) == [
        "orders-backend",
        "receipts.v2",
        "lisbon-store-mail",
        "porto-terminal",
    ]
    orders = config.webhooks["orders-backend"]
    assert orders.type == "url" and orders.application == "merchant"
    assert orders.notifications == ("authorised-payment", "mb-reference", "mbway")  # sorted
    assert orders.secret == Secret("env:ORDERS_WEBHOOK_SECRET")
    assert orders.secret is not None and orders.secret.value == SIBS_SECRET
    assert (orders.format, orders.prevent_destroy, orders.test_on_apply) == ("sibs", True, True)
    assert orders.support_email == "payments-oncall@shop.example"
    assert (orders.description, orders.line) == ("Order service (eu-west-1)", 15)

    receipts = config.webhooks["receipts.v2"]
    assert receipts.secret is not None and receipts.secret.source == "file:secrets/receipts.key"
    assert receipts.secret.value == WHSEC  # one trailing newline stripped
    assert (receipts.format, receipts.enabled, receipts.test_on_apply) == (
        "standard-webhooks",
        False,
        False,
    )
    assert receipts.notifications == ("authorised-payment", "mbway")  # from defaults

    mail = config.webhooks["lisbon-store-mail"]
    assert (mail.type, mail.email, mail.url, mail.secret) == (
        "email",
        "lisbon@shop.example",
        None,
        None,
    )
    assert mail.application == "store:LIS-01" and mail.notifications == ("mbway", "qr-code")
    assert mail.support_email is None  # null overrides the default
    # format and test_on_apply defaults apply to URL webhooks only
    assert (mail.format, mail.test_on_apply) == ("sibs", False)

    local = config.webhooks["porto-terminal"]
    assert local.url == "http://127.0.0.1:9999/hooks" and local.application == "terminal:20001"
    assert local.description == "Local receiver: `webhooks listen`"
    assert [w.line for w in config.webhooks.values()] == [15, 24, 31, 40]


def test_digest_is_the_sha256_of_the_file_bytes(tmp_path):
    path = write(
        tmp_path,
        HEADER + "      a:\n        type: email\n        email: a@b.example\n"
        "        application: merchant\n        notifications: [xpay]\n",
    )
    assert load_config(path).digest == hashlib.sha256(path.read_bytes()).hexdigest()


def test_fast_and_slow_paths_build_the_same_config(monkeypatch, tmp_path):
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "receipts.key").write_text(WHSEC)
    path = tmp_path / "webhooks.yaml"
    path.write_bytes((DATA / "full.yaml").read_bytes())
    monkeypatch.setenv("ORDERS_WEBHOOK_SECRET", SIBS_SECRET)
    assert fast_path_allowed(path.read_text())
    fast, slow = read_config(path), read_config(path, fast=False)
    assert fast.config is not None and fast.config == slow.config
    assert [w.line for w in fast.config.webhooks.values()] == [
        w.line
        for w in slow.config.webhooks.values()  # type: ignore[union-attr]
    ]


@pytest.mark.parametrize(
    "layout",
    [
        "  a:\n    type: email\n    email: a@b.example\n  'b':\n    type: email\n"
        '    email: b@b.example\n  "c":   # comment\n    type: email\n    email: c@b.example\n',
        "    a: {type: email, email: a@b.example}\n    # a: comment\n\n"
        "    b: {type: email, email: b@b.example}\n    c:\n      type: email\n"
        "      email: c@b.example\n",
        "  {a: {type: email, email: a@b.example},\n   b: {type: email, email: b@b.example},\n"
        "   c: {type: email, email: c@b.example}}\n",
    ],
)
def test_webhook_lines_in_any_layout(tmp_path, layout):
    text = (
        "version: 1\nowner: t\ndefaults:\n  application: merchant\n"
        "  notifications: [mbway]\nwebhooks:\n" + layout
    )
    path = write(tmp_path, text)
    lines = {name: spec.line for name, spec in load_config(path).webhooks.items()}
    expected = {
        n: i + 1
        for i, line in enumerate(text.splitlines())
        for n in "abc"
        if line.lstrip(" {").startswith((f"{n}:", f"'{n}'", f'"{n}"'))
    }
    assert lines == expected and len(lines) == 3


def test_bom_is_accepted(tmp_path):
    path = write(tmp_path, b"\xef\xbb\xbf" + (DATA / "full.yaml").read_bytes())
    assert read_config(path, secrets="optional").config is not None


def test_crlf_line_endings(tmp_path):
    text = (
        HEADER + "      a:\n        type: email\n        email: a@b.example\n"
        "        application: merchant\n        notifications: [xpay]\n"
    )
    import textwrap

    path = write(tmp_path, textwrap.dedent(text).replace("\n", "\r\n").encode())
    config = load_config(path)
    assert config.webhooks["a"].email == "a@b.example" and config.webhooks["a"].line == 4


def test_empty_webhooks_map_is_valid(tmp_path):
    path = write(tmp_path, "version: 1\nowner: payments-team\nwebhooks: {}\n")
    assert load_config(path).webhooks == {}


# --- references ------------------------------------------------------------------------------


def webhook_with(fields: str) -> str:
    return (
        HEADER + "      orders:\n        type: url\n        application: merchant\n"
        "        notifications: [mbway]\n" + fields
    )


def test_references_in_url_are_resolved_and_escapes_kept_in_text(tmp_path, monkeypatch):
    # A reference may be the whole URL or lie within its credentials; `$${` is a literal
    # `${` in any text field.
    monkeypatch.setenv("HOOK_URL", "https://hooks.shop.example/sibs?x=1")
    (tmp_path / "pass.txt").write_text("s3cret\r\n")
    path = write(
        tmp_path,
        webhook_with(
            "        url: ${env:HOOK_URL}\n"
            "        description: kept ($${env:NOT_A_REFERENCE})\n"
        ).replace("      orders:", "      other:\n        type: url\n"
                  "        url: https://ops:${file:pass.txt}@h.example/x?k=$${kept}\n"
                  "        application: merchant\n        notifications: [mbway]\n"
                  "      orders:"),
    )
    config = load_config(path)
    spec = config.webhooks["orders"]
    assert spec.url == "https://hooks.shop.example/sibs?x=1"
    assert spec.url_source == "${env:HOOK_URL}"
    assert spec.description == "kept (${env:NOT_A_REFERENCE})"
    other = config.webhooks["other"]
    assert other.url == "https://ops:s3cret@h.example/x?k=${kept}"
    assert other.url_source == "https://ops:${file:pass.txt}@h.example/x?k=$${kept}"


def test_only_one_trailing_newline_is_stripped_from_files(tmp_path):
    (tmp_path / "d.txt").write_text("line\n\n")
    value, problem, _ = References(tmp_path, "require").lookup(None, "d.txt")
    assert (value, problem) == ("line\n", None)


def test_absolute_file_reference(tmp_path):
    key = tmp_path / "elsewhere" / "orders.key"
    key.parent.mkdir()
    key.write_text(SIBS_SECRET)
    path = write(
        tmp_path,
        webhook_with(f"        url: https://x.example/\n        secret: ${{file:{key}}}\n"),
    )
    secret = load_config(path).webhooks["orders"].secret
    assert secret is not None and secret.value == SIBS_SECRET and secret.source == f"file:{key}"


def test_references_are_not_resolved_in_structural_fields(tmp_path, monkeypatch):
    monkeypatch.setenv("APP", "merchant")
    path = write(
        tmp_path,
        HEADER + "      orders:\n        type: email\n        email: a@b.example\n"
        "        application: ${env:APP}\n        notifications: [mbway]\n",
    )
    assert only_problem(path).startswith(
        "webhooks.yaml:7:18: webhooks.orders.application: references (${env:...}, "
        "${file:...}) are allowed only in a webhook's secret and url")


def test_unset_variable_is_an_error_for_plan_and_a_warning_for_validate(tmp_path):
    path = write(
        tmp_path,
        webhook_with(
            "        url: https://x.example/\n        secret: ${env:WEBHOOKS_TEST_NOT_SET}\n"
        ),
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:9:13: webhooks.orders.secret: environment variable WEBHOOKS_TEST_NOT_SET "
        "is not set"
    ]
    config = load_config(path, secrets="optional")
    secret = config.webhooks["orders"].secret
    assert secret == Secret("env:WEBHOOKS_TEST_NOT_SET") and secret is not None
    assert secret.value is None and secret.fingerprint(FINGERPRINTS) is None
    assert [p.severity for p in config.warnings] == ["warning"]
    assert "not checked (plan and apply need it)" in config.warnings[0].message


def test_missing_file_is_an_error_for_plan_and_a_warning_for_validate(tmp_path):
    path = write(
        tmp_path,
        webhook_with("        url: https://x.example/\n        secret: ${file:secrets/none.key}\n"),
    )
    assert only_problem(path).startswith(
        "webhooks.yaml:9:13: webhooks.orders.secret: file 'secrets/none.key' (at "
    )
    assert "warning: " in only_problem(path, secrets="optional")


def test_unset_variable_in_a_url_keeps_the_reference_when_optional(tmp_path):
    path = write(tmp_path, webhook_with("        url: ${env:WEBHOOKS_TEST_NOT_SET}\n"))
    config = load_config(path, secrets="optional")
    assert config.webhooks["orders"].url == "${env:WEBHOOKS_TEST_NOT_SET}"
    assert "webhooks.orders.url: environment variable" in config.warnings[0].message


def test_unreadable_reference_is_an_error_even_for_validate(tmp_path):
    (tmp_path / "adir").mkdir()
    path = write(
        tmp_path, webhook_with("        url: https://x.example/\n        secret: ${file:adir}\n")
    )
    assert only_problem(path, secrets="optional").endswith("is a directory")
    (tmp_path / "bin.key").write_bytes(b"\xff\xfe")
    path = write(
        tmp_path, webhook_with("        url: https://x.example/\n        secret: ${file:bin.key}\n")
    )
    assert only_problem(path, secrets="optional").endswith("is not UTF-8 text")


def test_malformed_reference(tmp_path):
    path = write(tmp_path, webhook_with("        url: https://${vault:x}/\n"))
    assert only_problem(path) == (
        "webhooks.yaml:8:10: webhooks.orders.url: '${vault:x}' is not ${env:NAME} or "
        "${file:PATH} (write $${ for a literal ${)"
    )


@pytest.mark.parametrize(
    "secret",
    [
        SIBS_SECRET,
        "whsec_c2VjcmV0",
        "${env:A}${env:B}",
        "prefix-${env:ORDERS}",
        "${env:}",
    ],
)
def test_literal_secrets_are_refused_without_echoing_them(tmp_path, secret):
    path = write(
        tmp_path, webhook_with(f"        url: https://x.example/\n        secret: '{secret}'\n")
    )
    message = only_problem(path)
    assert message.startswith("webhooks.yaml:9:13: webhooks.orders.secret: ")
    assert "literal secret is not allowed" in message or "exactly one" in message
    assert secret not in message and SIBS_SECRET[:12] not in message


# --- the YAML layer: hostile and surprising input ------------------------------------------------


def test_duplicate_keys(tmp_path):
    path = write(tmp_path, HEADER + "      a:\n        type: url\n        type: email\n")
    assert "webhooks.yaml:6:5: webhooks.a.type: duplicate key 'type' (first at line 5)" in (
        problems(path)
    )


@pytest.mark.parametrize("word", ["yes", "No", "ON", "off", "y", "N", "yEs"])
def test_yaml11_booleans_are_refused_as_values_and_keys(tmp_path, word):
    path = write(
        tmp_path, webhook_with(f"        url: https://x.example/\n        enabled: {word}\n")
    )
    assert only_problem(path) == (
        f"webhooks.yaml:9:14: webhooks.orders.enabled: '{word}' is a boolean in YAML 1.1 but "
        f'text in YAML 1.2; write true or false, or quote it ("{word}") if you mean the text'
    )
    path = write(tmp_path, HEADER + f"      {word}:\n        type: email\n")
    assert f"webhooks.{word}: '{word}' is a boolean in YAML 1.1" in problems(path)[0]


def test_quoted_yaml11_words_are_text(tmp_path):
    path = write(
        tmp_path, webhook_with("        url: https://x.example/\n        description: 'yes'\n")
    )
    assert load_config(path).webhooks["orders"].description == "yes"


@pytest.mark.parametrize("number", ["0755", "1:20", "1_000", "0b101", "0o17", "190:20:30"])
def test_yaml11_numbers_are_refused(tmp_path, number):
    path = write(
        tmp_path, webhook_with(f"        url: https://x.example/\n        description: {number}\n")
    )
    assert f"webhooks.orders.description: '{number}' is a number in YAML 1.1" in only_problem(path)


@pytest.mark.parametrize(
    ("key", "kind"),
    [("1", "a number"), ("null", "null"), ("true", "a boolean"), ("1.5", "a number")],
)
def test_non_text_keys(tmp_path, key, kind):
    path = write(tmp_path, f"version: 1\nowner: t\nwebhooks: {{}}\n{key}: x\n")
    assert only_problem(path) == (
        f"webhooks.yaml:4:1: key '{key}' reads as {kind}; keys must be text (quote it)"
    )


def test_collection_keys(tmp_path):
    path = write(tmp_path, "version: 1\nowner: t\nwebhooks: {}\n? [a, b]\n: x\n")
    assert only_problem(path) == "webhooks.yaml:4:3: a key must be text, not a list"


@pytest.mark.parametrize("tagged", ["!!binary aGk=", "!custom x", "!!int '3'", "!!set {a}"])
def test_tags_are_refused(tmp_path, tagged):
    path = write(
        tmp_path, webhook_with(f"        url: https://x.example/\n        description: {tagged}\n")
    )
    assert "webhooks.orders.description: YAML tags are not supported" in only_problem(path)


def test_str_tag_is_text(tmp_path):
    path = write(
        tmp_path, webhook_with("        url: https://x.example/\n        description: !!str 123\n")
    )
    assert load_config(path).webhooks["orders"].description == "123"


def test_anchors_and_aliases_for_small_repeats(tmp_path):
    path = write(
        tmp_path,
        "version: 1\nowner: t\nwebhooks:\n  a:\n    type: email\n    email: a@b.example\n"
        "    application: merchant\n    notifications: &both [mbway, xpay]\n"
        "  b:\n    type: email\n    email: b@b.example\n    application: merchant\n"
        "    notifications: *both\n",
    )
    config = load_config(path)
    assert config.webhooks["b"].notifications == ("mbway", "xpay")
    assert config.webhooks["b"].line == 9


def test_alias_bomb_is_refused_quickly():
    started = time.monotonic()
    found = problems(DATA / "billion-laughs.yaml")
    assert time.monotonic() - started < 2
    assert len(found) == 1 and found[0].startswith("billion-laughs.yaml:")
    assert "aliases expand to more than 100,000 nodes (an alias bomb?)" in found[0]


def test_recursive_alias(tmp_path):
    path = write(tmp_path, "version: 1\nowner: t\nwebhooks: &w\n  a: *w\n")
    assert "an alias refers to its own anchor" in only_problem(path)


def test_tabs_for_indentation():
    assert problems(DATA / "tabs.yaml") == [
        "tabs.yaml:4:1: YAML syntax error: while scanning for the next token found character "
        "that cannot start any token (indent with spaces, not tabs)"
    ]


def test_non_utf8_bytes_report_line_column_and_offset():
    assert problems(DATA / "latin1.yaml") == [
        "latin1.yaml:7:21: not valid UTF-8 (at byte offset 114); save the file as UTF-8"
    ]


@pytest.mark.parametrize("content", ["", "\n\n", "# only a comment\n", "---\n"])
def test_empty_file(tmp_path, content):
    assert only_problem(write(tmp_path, content)) == (
        "webhooks.yaml:1:1: the file is empty; expected version, owner and webhooks"
    )


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        ("- a\n- b\n", "a list"),
        ("just text\n", "text"),  # what the file holds is never quoted back
        ("42\n", "a number"),
        ("~\n", "null"),
    ],
)
def test_top_level_must_be_a_mapping(tmp_path, content, kind):
    assert only_problem(write(tmp_path, content)) == (
        f"webhooks.yaml:1:1: the top level must be a mapping with version, owner and webhooks, "
        f"not {kind}"
    )


def test_multiple_documents(tmp_path):
    path = write(tmp_path, "version: 1\nowner: t\nwebhooks: {}\n---\nversion: 1\n")
    assert only_problem(path) == (
        "webhooks.yaml:4:1: only one YAML document is allowed per file (found a second '---')"
    )


def test_file_over_the_limit_is_refused_before_parsing(tmp_path):
    path = tmp_path / "big.yaml"
    with path.open("wb") as handle:  # a sparse 10 MiB file: quick to make, never parsed
        handle.truncate(10 * 1024 * 1024)
    started = time.monotonic()
    assert only_problem(path) == (
        "big.yaml:1:1: the file is 10.0 MiB; a config may be at most 8 MiB (about 80,000 webhooks)"
    )
    assert time.monotonic() - started < 0.5 and MAX_FILE_BYTES == 8 * 1024 * 1024


@pytest.mark.parametrize(
    ("content", "where"),
    [
        ("version: 1\nowner: [a, b\nwebhooks: {}\n", "webhooks.yaml:3:9: YAML syntax error:"),
        ("version: 1\n  owner: t\n", "webhooks.yaml:2:8: YAML syntax error:"),
        ("version: 1\nowner: 'unclosed\n", "webhooks.yaml:3:1: YAML syntax error:"),
    ],
)
def test_syntax_errors_have_positions(tmp_path, content, where):
    assert only_problem(write(tmp_path, content)).startswith(where)


def test_missing_file_and_directory(tmp_path):
    assert only_problem(tmp_path / "none.yaml") == "none.yaml:1:1: no such file"
    (tmp_path / "adir").mkdir()
    assert problems(tmp_path / "adir") == ["adir:1:1: is a directory, not a config file"]


@pytest.mark.parametrize(
    "content",
    [
        "version: 1\nowner: t\nwebhooks: {}\nx: " + "[" * 500 + "]" * 500 + "\n",
        "version: 1\nowner: t\nwebhooks: {}\nx: " + "{a: " * 300 + "1" + "}" * 300 + "\n",
        "version: 1\nowner: t\nwebhooks: {}\nx:\n" + "- " * 20000 + "x\n",
        "version: 1\nowner: t\nwebhooks: {}\nx:\n"
        + "".join(" " * (i + 1) + f"k{i}:\n" for i in range(200)),
    ],
)
def test_deep_nesting_is_refused_quickly(tmp_path, content):
    started = time.monotonic()
    message = only_problem(write(tmp_path, content))
    assert time.monotonic() - started < 2
    assert "nested deeper than 32 levels" in message or "maximum nesting depth" in message


@pytest.mark.parametrize(
    ("char", "col"), [("\u2028", 23), ("\x85", 23), ("\x07", 23), ("\ufeff", 23)]
)
def test_characters_yaml_readers_disagree_on(tmp_path, char, col):
    path = write(
        tmp_path,
        webhook_with(f"        url: https://x.example/\n        description: a{char}b\n").encode(),
    )
    assert only_problem(path).startswith(f"webhooks.yaml:9:{col}: ")


# --- errors carry every problem, sorted ---------------------------------------------------------


def test_config_error_carries_every_problem_sorted(tmp_path):
    path = write(tmp_path, HEADER + "      b:\n        type: url\n      a:\n        type: email\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    found = caught.value.problems
    assert found == sorted(found) and len(found) == 6
    assert all(isinstance(p, Problem) and p.file == str(path) for p in found)
    assert str(caught.value).splitlines()[0] == (
        f"{path}:4:3: webhooks.b: missing required key 'application' (set it here or in defaults)"
    )


# --- the fast path agrees with the slow path -----------------------------------------------------

NOTIFICATION_CODES = [
    "mbway",
    "mb-reference",
    "key-enter-token",
    "qr-code",
    "authorised-payment",
    "xpay",
]


@st.composite
def scalars(draw: st.DrawFn, text: st.SearchStrategy[str]) -> str:
    """A scalar in any of YAML's flow styles (plain may not even parse: that is fine)."""
    value = draw(text)
    style = draw(st.sampled_from(["plain", "plain", "single", "double", "double-ascii"]))
    if style == "plain":
        return value
    if style == "single":
        return "'" + value.replace("'", "''") + "'"
    return json.dumps(value, ensure_ascii=style == "double-ascii")


ANY_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=24)
NAME = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,10}", fullmatch=True)


@st.composite
def config_documents(draw: st.DrawFn) -> str:
    """Config-like YAML text: real keys, arbitrary values, block and flow layouts."""
    indent = " " * draw(st.sampled_from([2, 4]))
    lines = ["# yaml-language-server: $schema=schemas/webhooks.schema.json"]
    if draw(st.booleans()):
        lines.append("---")
    lines += ["version: 1", f"owner: {draw(scalars(NAME))}"]
    if draw(st.booleans()):
        lines += ["defaults:", f"{indent}application: merchant", f"{indent}notifications: [mbway]"]
    lines.append("webhooks:" if draw(st.integers(0, 9)) else "webhooks: {}")
    if lines[-1] == "webhooks: {}":
        return "\n".join(lines) + "\n"
    for name in draw(st.lists(NAME, min_size=1, max_size=4, unique=True)):
        fields = {"type": draw(scalars(st.sampled_from(["url", "email", "URL"])))}
        if draw(st.booleans()):
            fields["url"] = draw(scalars(ANY_TEXT.map(lambda s: "https://x.example/" + s)))
        if draw(st.booleans()):
            fields["email"] = draw(scalars(st.sampled_from(["a@b.example", "x y@z"])))
        if draw(st.booleans()):
            fields["description"] = draw(scalars(ANY_TEXT))
        if draw(st.booleans()):
            fields["enabled"] = draw(st.sampled_from(["true", "false", "True", "FALSE"]))
        picked = draw(st.lists(st.sampled_from(NOTIFICATION_CODES), min_size=1, max_size=3))
        fields["notifications"] = "[" + ", ".join(picked) + "]"
        key = draw(st.sampled_from([name, f'"{name}"', f"'{name}'"]))
        if draw(st.integers(0, 4)) == 0:  # a flow mapping on one line
            body = ", ".join(f"{k}: {v}" for k, v in fields.items() if "\n" not in v)
            lines.append(f"{indent}{key}: {{{body}}}")
            continue
        lines.append(f"{indent}{key}:" + draw(st.sampled_from(["", "  # comment"])))
        lines += [f"{indent * 2}{k}: {v}" for k, v in fields.items()]
        if draw(st.booleans()):
            lines.append("")
    return "\n".join(lines) + draw(st.sampled_from(["\n", "", "\n\n"]))


def _text_keys(value: object) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _text_keys(v) for k, v in value.items())
    return all(_text_keys(v) for v in value) if isinstance(value, list) else True


@settings(max_examples=150, deadline=None)
@given(config_documents())
def test_fast_path_agrees_with_slow_path(text):
    if fast_path_allowed(text):
        try:
            fast = load_fast(text)
        except ValueError:  # yaml-rs refuses it: the slow path explains why
            fast = None
        if isinstance(fast, dict) and _text_keys(fast):
            slow = load_slow(text)
            assert slow.problems == [] and slow.value == fast
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "webhooks.yaml"
        path.write_text(text, encoding="utf-8")
        assert read_config(path) == read_config(path, fast=False)


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
FIELD_VALUES = {
    "type": st.sampled_from(["url", "email"]),
    "url": st.sampled_from(["https://x.example/a", "http://127.0.0.1:1/", "ftp://x/"]),
    "email": st.sampled_from(["a@b.example", "nope"]),
    "application": st.sampled_from(["merchant", "store:LIS-01", "shop"]),
    "notifications": st.lists(st.sampled_from([*NOTIFICATION_CODES, "mbwya"]), max_size=3),
    "description": st.text(max_size=20),
    "enabled": st.booleans(),
}


@st.composite
def config_shaped_values(draw: st.DrawFn) -> dict[str, object]:
    """Documents with the config's keys and, now and then, any value at all."""

    def value(key: str) -> object:
        strategy = FIELD_VALUES.get(key, JSONISH)
        return draw(JSONISH if draw(st.integers(0, 5)) == 0 else strategy)

    webhooks = {
        draw(NAME): {
            key: value(key)
            for key in draw(
                st.lists(
                    st.sampled_from([*FIELD_VALUES, "secret", "bogus"]), max_size=6, unique=True
                )
            )
        }
        for _ in range(draw(st.integers(0, 3)))
    }
    doc: dict[str, object] = {"version": 1, "owner": "team", "webhooks": webhooks}
    if draw(st.booleans()):
        doc["defaults"] = {"application": "merchant", "notifications": ["mbway"]}
    if draw(st.integers(0, 4)) == 0:
        doc[draw(st.sampled_from(["version", "owner", "webhooks", "extra"]))] = draw(JSONISH)
    return doc


@settings(max_examples=100, deadline=None)
@given(config_shaped_values(), st.booleans())
def test_any_document_gives_problems_never_an_exception(doc, flow):
    text = yaml.safe_dump(doc, default_flow_style=flow, allow_unicode=True, sort_keys=False)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "webhooks.yaml"
        path.write_text(text, encoding="utf-8")
        fast, slow = (
            read_config(path, secrets="optional"),
            read_config(path, secrets="optional", fast=False),
        )
        assert fast == slow
        assert (fast.config is None) == bool(fast.errors)
        for problem in fast.problems:
            assert problem.line >= 1 and problem.col >= 1 and problem.message
        if fast.config is not None:  # what was written is what was read
            assert isinstance(doc["webhooks"], dict)
            for name, spec in fast.config.webhooks.items():
                assert spec.description == doc["webhooks"][name].get("description", "")


def test_references_resolve_in_exactly_the_documented_fields(tmp_path, monkeypatch):
    # Only where the value is sensitive everywhere: secret and url. Elsewhere a reference
    # is refused with its place, and what it would read is never quoted.
    assert REFERENCE_FIELDS == ("secret", "url")
    values = {
        "V_URL": "https://x.example/",
        "V_MAIL": "a@b.example",
        "V_DESC": "d",
        "V_SECRET": SIBS_SECRET,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    good = """\
          u:
            type: url
            url: ${env:V_URL}
            application: merchant
            notifications: [mbway]
            secret: ${env:V_SECRET}
    """
    config = load_config(write(tmp_path, HEADER + good))
    url = config.webhooks["u"]
    assert url.url == "https://x.example/" and url.url_source == "${env:V_URL}"
    assert url.secret is not None and url.secret.value == SIBS_SECRET
    bad = """\
          e:
            type: email
            email: ${env:V_MAIL}
            application: merchant
            notifications: [mbway]
            support_email: ${env:V_MAIL}
            description: ${env:V_DESC}
    """
    found = problems(write(tmp_path, HEADER + bad))
    assert [p.split(": ")[1] for p in found] == [
        "webhooks.e.email", "webhooks.e.support_email", "webhooks.e.description"]
    assert all("are allowed only in a webhook's secret and url" in p for p in found)
    assert not any(v in "".join(found) for v in ("a@b.example", ": d"))
