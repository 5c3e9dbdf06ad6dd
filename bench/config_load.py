"""Load + validate time of a generated config, fast path against slow path and the floor.

    .venv/bin/python bench/config_load.py [--webhooks 10000] [--repeat 5]

The floor is the work no implementation can skip: a bare yaml-rs parse and a bare
jsonschema Draft 2020-12 validation of schemas/webhooks.schema.json (compiled once). The
loader validates against the same schema with its $refs inlined, which jsonschema
evaluates faster; the second floor row uses that copy.
Times are the best of --repeat runs, in one process.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml_rs
from jsonschema import Draft202012Validator

from reconciler import config as validate
from reconciler.config import read_config, yamlload

NOTIFICATIONS = ["mbway", "mb-reference", "key-enter-token", "qr-code", "authorised-payment"]


def generate(count: int) -> str:
    """A config of ``count`` URL webhooks, five lines each."""
    lines = [
        "# yaml-language-server: $schema=schemas/webhooks.schema.json",
        "version: 1",
        "owner: bench-team",
        "defaults:",
        "  application: merchant",
        "  support_email: oncall@shop.example",
        "webhooks:",
    ]
    for i in range(count):
        picked = ", ".join(NOTIFICATIONS[: 1 + i % len(NOTIFICATIONS)])
        lines += [
            f"  hook-{i:05d}:",
            "    type: url",
            f"    url: https://hooks.shop.example/w/{i:05d}",
            f"    notifications: [{picked}]",
            f"    description: Webhook number {i}",
        ]
    return "\n".join(lines) + "\n"


def best(repeat: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--webhooks", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    text = generate(args.webhooks)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "webhooks.yaml"
        path.write_text(text, encoding="utf-8")
        bare = Draft202012Validator(validate.schema())

        def floor() -> None:
            bare.validate(yaml_rs.loads(path.read_text(encoding="utf-8"), parse_datetime=False))

        def fast() -> None:
            assert read_config(path).config is not None

        def slow() -> None:
            assert read_config(path, fast=False).config is not None

        fast()  # warm the schema cache, as a long-lived process would be
        doc = yamlload.load_fast(text)
        inlined = validate.validator()  # the loader's: the same schema, $refs inlined

        def floor_inlined() -> None:
            inlined.validate(yaml_rs.loads(path.read_text(encoding="utf-8"), parse_datetime=False))

        rows = [
            ("floor: yaml_rs.loads + Draft202012Validator.validate", best(args.repeat, floor)),
            ("floor, with the loader's $ref-inlined schema", best(args.repeat, floor_inlined)),
            ("fast path: read_config (load + validate + build)", best(args.repeat, fast)),
            ("slow path: read_config(fast=False)", best(args.repeat, slow)),
            (
                "  part: screen of the raw text",
                best(args.repeat, lambda: yamlload.fast_path_allowed(text)),
            ),
            ("  part: yaml_rs.loads", best(args.repeat, lambda: yamlload.load_fast(text))),
            ("  part: schema iter_errors", best(args.repeat, lambda: list(bare.iter_errors(doc)))),
            (
                "  part: libyaml compose + positions",
                best(args.repeat, lambda: yamlload.load_slow(text)),
            ),
        ]
    print(f"{args.webhooks:,} webhooks, {len(text) / 1024:.0f} KiB, best of {args.repeat}")
    floor_time = rows[0][1]
    for label, seconds in rows:
        print(f"{label:58} {seconds * 1000:8.1f} ms  {seconds / floor_time:5.2f}x floor")


if __name__ == "__main__":
    main()
