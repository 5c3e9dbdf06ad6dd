"""The text rules, URLs and times of the contract."""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contract import fingerprints, rules, times, urls


@pytest.mark.parametrize("address", [
    "a@shop.example", "first.last+tag@mail.shop.example", "o'brien@x.io",
])
def test_good_addresses(address: str) -> None:
    assert rules.email_problem(address) is None


@pytest.mark.parametrize("address", [
    "nul\x00@shop.example", "a b@shop.example", "a@shop", "@shop.example", "a@@shop.example",
    "a@shop.example\n", "zé@shop.example", "a@-shop.example", "a..b@shop.example",
    "a@shop.example\u202e", "x" * 250 + "@shop.example",
])
def test_bad_addresses(address: str) -> None:
    assert rules.email_problem(address) is not None


def test_applications() -> None:
    assert rules.parse_application("merchant") == ("merchant", None)
    assert rules.parse_application("store:LIS-01") == ("store", "LIS-01")
    assert rules.parse_application("terminal:10001") == ("terminal", "10001")
    for bad in ("store:", "store:.x", "terminal:a b", "shop:1", "merchant:x", "store:" + "a" * 33):
        assert rules.parse_application(bad) is None


@pytest.mark.parametrize(("url", "redacted"), [
    ("https://user:pw@h.example/p?q=1", "https://user:***@h.example/p?***"),
    ("https://h.example/p?token=abc", "https://h.example/p?***"),  # a query: a credential
    ("https://h.example/p/q?", "https://h.example/p/q?"),  # an empty query hides nothing
    ("https://h.example/p?a=1#frag", "https://h.example/p?***#***"),  # stored by older ones
    ("https://TOKEN@127.0.0.1:9", "https://***@127.0.0.1:9"),
    ("https://TOKEN@[::1]:8080/x", "https://***@[::1]:8080/x"),
    ("http://u:p@[::1]", "http://u:***@[::1]"),
    ("https://:pw@h.example/", "https://***@h.example/"),
    ("https://sk_live_key:@h.example/", "https://***@h.example/"),  # key as the user
    ("https://tok@[::1]@h.example/", "https://***@h.example/"),
    ("https://we!rd:pw@h.example/", "https://***@h.example/"),
    ("https://h.example/a@b", "https://h.example/a@b"),
    ("https://h.example/", "https://h.example/"),
])
def test_redaction_hides_every_credential_and_keeps_the_rest(url: str, redacted: str) -> None:
    assert urls.redact_url(url) == redacted
    assert urls.has_credentials(url) is (url != redacted)


_USERINFO = st.text(st.sampled_from("abcXYZ09-._~%!$&'()*+,;="), min_size=1, max_size=8)


@given(_USERINFO, st.sampled_from(["h.example", "[::1]:9", "127.0.0.1", "H.EX:8443"]),
       st.sampled_from(["", "/", "/p?q=a@b", "#f"]))
def test_no_redacted_url_holds_its_credentials(userinfo: str, host: str, rest: str) -> None:
    url = f"https://{userinfo}@{host}{rest}"
    shown = urls.redact_url(url)
    secret_part = userinfo.partition(":")[2] or userinfo
    assert secret_part not in shown.split("@", 1)[0].removeprefix("https://").replace("***", "")
    hidden = rest.replace("?q=a@b", "?***").replace("#f", "#***")
    assert shown.endswith(f"@{host}{hidden}")


@given(st.text(st.sampled_from("abcXYZ09-._~%!$&'()*+,;=@/?:"), min_size=1, max_size=12),
       st.sampled_from(["", "/", "/a/b"]))
def test_no_redacted_url_holds_its_query(query: str, path: str) -> None:
    url = f"https://hooks.example{path}?{query}"
    shown = urls.redact_url(url)
    assert shown == f"https://hooks.example{path}?***"
    assert urls.has_credentials(url)


@pytest.mark.parametrize(("url", "ok"), [
    ("https://hooks.shop.example/sibs", True), ("http://127.0.0.1:9999/hooks", True),
    ("http://[::1]:9/", True), ("http://localhost/", True), ("http://shop.example/", False),
    ("ftp://shop.example/", False), ("https:///nohost", False), ("https://h.example/\u202e", False),
    ("https://h.example:99999/", False), ("https://h.example/a b", False),
    ("https://h.example/" + "a" * 2100, False), ("https://[v1.x]/", False),
    ("https://[::1]x/", False), ("https://[::1]:8443/", True), ("https://[fe80::1]/", True),
    ("https://h.example/p?token=abc", True), ("https://h.example/p#frag", False),
    ("https://h.example/p?t=1#", False), ("https://u:p@h.example:8443/p#f", False),
])
def test_the_url_rule(url: str, ok: bool) -> None:
    assert (urls.url_problem(url) is None) is ok


def test_plain_http_to_loopback_can_be_refused_too() -> None:
    assert urls.url_problem("http://127.0.0.1/", allow_http_loopback=False) == "must use https"


def test_a_fragment_is_refused_with_the_reason() -> None:
    problem = urls.url_problem("https://h.example/p#Frag-9x")
    assert problem is not None and "fragment" in problem and "Frag-9x" not in problem


def test_fingerprints_are_keyed_stable_and_prefixed() -> None:
    key, other = bytes(range(32)), bytes(range(1, 33))
    fp = fingerprints.Fingerprints(key)
    assert fp.secret("s") == fingerprints.Fingerprints(key).secret("s")
    assert fp.secret("s") != fp.secret("t")
    assert fp.secret("s") != fingerprints.Fingerprints(other).secret("s")  # another key
    assert re.fullmatch(fingerprints.PATTERN, fp.url("https://u:p@h/"))
    assert fp.url("https://u:p@h/") != fp.secret("https://u:p@h/")  # separate domains
    # The URL's canonical form: scheme, host and default port are spelling only.
    assert fp.url("HTTPS://H.example:443?t=1") == fp.url("https://h.example/?t=1")
    assert fp.url("https://h.example/?t=1") != fp.url("https://h.example/?t=2")
    # The construction, as documented (contract.fingerprints, the API, ARCHITECTURE.md).
    mac = hmac.new(key, b"webhooks-reconciler/secret/v2\x00s", hashlib.sha256).hexdigest()
    assert fp.secret("s") == "sha256:" + mac[:16]
    mac = hmac.new(key, b"webhooks-reconciler/url/v2\x00https://h.example/?t=1",
                   hashlib.sha256).hexdigest()
    assert fp.url("HTTPS://H.example?t=1") == "sha256:" + mac[:16]
    assert str(key) not in repr(fp) + str(fp) and key.hex() not in repr(fp)
    for bad in (b"short", "x" * 32):
        with pytest.raises(ValueError):
            fingerprints.Fingerprints(bad)  # type: ignore[arg-type]
    assert fingerprints.decode_key(fingerprints.encode_key(key)) == key
    for text in ("", "not base64!", fingerprints.encode_key(b"x" * 31), "é"):
        with pytest.raises(ValueError, match="fingerprint key") as caught:
            fingerprints.decode_key(text)
        assert text not in str(caught.value) or not text


@pytest.mark.parametrize(("text", "seconds"), [
    ("300", 300), ("2.5", 2.5), ("90s", 90), ("15m", 900), ("1h30m", 5400), ("7d", 604800),
    ("2w", 1209600), (" 1H ", 3600),
])
def test_durations(text: str, seconds: float) -> None:
    assert times.parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "h", "1x", "-5m", "1h 30m", "1e9", "nan", "99999999999w"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        times.parse_duration(text)


def test_moments() -> None:
    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    assert times.parse_moment("2h", now=now) == datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
    assert times.parse_moment("2026-11-28T10:00:00Z") == datetime(2026, 11, 28, 10, tzinfo=UTC)
    assert times.parse_moment("2026-11-28") == datetime(2026, 11, 28, tzinfo=UTC)
    with pytest.raises(ValueError, match="neither"):
        times.parse_moment("yesterday")
    assert times.iso_seconds(now) == "2026-11-29T12:00:00Z"
    assert times.iso_millis(now) == "2026-11-29T12:00:00.000Z"


def test_origin_names_the_server_and_nothing_else() -> None:
    assert urls.origin("https://tok@h.example:8443/p/tok?t=tok#tok") == "https://h.example:8443"
    assert urls.origin("http://[::1]:9") == "http://[::1]:9"


# --- the characters no field may hold; URLs to literal private addresses -------------------

CONTROL = ["\x00", "\x01", "\x08", "\x0b", "\x0d", "\x1b", "\x7f", "\x80", "\x85", "\x9f"]
BIDI = ["\u061c", "\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",
        "\u2066", "\u2067", "\u2068", "\u2069"]
UNSAFE = [*CONTROL, *BIDI, "\t", "\n", "\udcff"]


@pytest.mark.parametrize("char", UNSAFE, ids=[f"U+{ord(c):04X}" for c in UNSAFE])
def test_no_field_holds_a_control_or_bidirectional_character(char: str) -> None:
    problem = rules.unsafe_character_problem(f"ab{char}c")
    assert problem is not None and f"(U+{ord(char):04X} at character 3)" in problem
    assert rules.email_problem(f"ops{char}@shop.example") == problem.replace(
        "character 3", "character 4")
    assert urls.url_problem(f"https://hooks.shop.example/a{char}") is not None
    if char not in "\t\n":  # a description runs over lines: tab and line feed are fine
        assert rules.description_problem(f"ab{char}c") == problem
    else:
        assert rules.description_problem(f"ab{char}c") is None


@pytest.mark.parametrize("text", ["Order service", "Ünïcode — “quotes” 🎉", "a\u200bb",
                                  "עברית", "x" * 1000])
def test_ordinary_text_is_fine(text: str) -> None:
    assert rules.unsafe_character_problem(text) is None
    assert rules.description_problem(text) is None


@given(st.text(max_size=40))
def test_what_a_field_accepts_holds_no_unsafe_character(text: str) -> None:
    unsafe = {c for c in text if ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f
              or c in "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
              or 0xD800 <= ord(c) <= 0xDFFF}
    assert (rules.unsafe_character_problem(text) is None) is (not unsafe)
    if rules.description_problem(text) is None:
        assert unsafe <= {"\t", "\n"}
    if urls.url_problem(f"https://hooks.shop.example/{text}") is None:
        assert not unsafe


PRIVATE_LITERALS = [
    ("http://127.0.0.1:9999/hooks", "127.0.0.1 is loopback"),
    ("https://127.8.9.10/", "127.8.9.10 is loopback"),
    ("http://[::1]:8080/", "[::1] is loopback"),
    ("https://169.254.169.254/latest/meta-data", "169.254.169.254 is a cloud metadata address"),
    ("https://169.254.1.1/", "169.254.1.1 is link-local"),
    ("https://[fe80::1]/", "[fe80::1] is link-local"),
    ("https://10.0.0.1/", "10.0.0.1 is private"),
    ("https://172.16.5.4/", "172.16.5.4 is private"),
    ("https://192.168.1.10:8443/x", "192.168.1.10 is private"),
    ("https://[fc00::1]/", "[fc00::1] is private"),
    ("https://[fd12:3456::1]/", "[fd12:3456::1] is private"),
    ("https://0.0.0.0/", "0.0.0.0 is unspecified"),
    ("https://[::]/", "[::] is unspecified"),
    ("https://100.64.0.1/", "100.64.0.1 is carrier-grade NAT"),
    ("https://[::ffff:127.0.0.1]/", "an IPv4-mapped IPv6 address (of 127.0.0.1)"),
    ("https://[::ffff:a9fe:a9fe]/", "an IPv4-mapped IPv6 address (of 169.254.169.254)"),
    ("https://2130706433/", "2130706433 is 127.0.0.1, loopback"),
    ("https://0177.0.0.1/", "0177.0.0.1 is 127.0.0.1, loopback"),
    ("https://0x7f000001/", "0x7f000001 is 127.0.0.1, loopback"),
    ("https://0x7f.1/", "0x7f.1 is 127.0.0.1, loopback"),
    ("https://10.1/", "10.1 is 10.0.0.1, private"),
    ("https://192.168.1.1./", "192.168.1.1. is private"),
    ("https://ops:Pw-literal-1@10.1.2.3/x", "10.1.2.3 is private"),
]


@pytest.mark.parametrize(("url", "said"), PRIVATE_LITERALS)
def test_urls_to_literal_private_addresses_are_named(url: str, said: str) -> None:
    from contract.addresses import literal_target, literal_target_problem

    found = literal_target(url)
    assert found is not None and said in found
    problem = literal_target_problem(url)
    assert problem is not None and problem.startswith("must point at a public address: ")
    assert "Pw-literal-1" not in problem


@pytest.mark.parametrize("url", [
    "https://hooks.shop.example/x", "http://localhost:9/", "https://8.8.8.8/",
    "https://[2001:4860:4860::8888]/", "https://internal.corp/", "https://10.0.0.1.nip.io/",
])
def test_public_addresses_and_host_names_are_no_literal_target(url: str) -> None:
    # A name is never resolved when a webhook is written: the delivery checks it.
    from contract.addresses import literal_target

    assert literal_target(url) is None
