"""Planner CPU: 10,000 unchanged pairs (and, for scale, 10,000 changed ones).

Not a test: prints numbers. Run: .venv/bin/python bench/plan_engine.py [N]
The budget: unchanged pairs cost near zero; 10,000 well under 100 ms (bench/README.md).
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
import tracemalloc
from dataclasses import replace
from pathlib import Path

from harness import record

from contract.fingerprints import Fingerprints
from reconciler.model import Config, RemoteWebhook, Secret, WebhookSpec
from reconciler.plan import build_plan
from reconciler.plan.normalize import desired_labels

OWNER = "payments-team"
KINDS = ("mbway", "mb-reference", "key-enter-token", "qr-code", "authorised-payment", "xpay")


# The merchant's fingerprint key, as the provider would fetch it (any 32 bytes here).
FINGERPRINTS = Fingerprints(bytes(32))

def make(n: int, loose: int = 10) -> tuple[Config, list[RemoteWebhook]]:
    """n webhooks in sync; 1 in ``loose`` is spelled loosely in the config (host case...)."""
    specs: dict[str, WebhookSpec] = {}
    remotes: list[RemoteWebhook] = []
    for i in range(n):
        name = f"hook-{i:05d}"
        notes = (KINDS[i % 6], KINDS[(i + 2) % 6], KINDS[(i + 3) % 6])
        is_url = i % 4 != 0
        secret = Secret("env:HOOK_SECRET", f"secret-{i}") if is_url and i % 2 else None
        spec = WebhookSpec(
            name=name,
            type="url" if is_url else "email",
            application="merchant" if i % 3 else "store:LIS-01",
            # The config spells things loosely; the backoffice returns them canonical.
            notifications=notes + notes[:1] if i % loose == 0 else tuple(sorted(notes)),
            url=(f"HTTPS://API.shop.example:443/hooks/{i}" if i % loose == 0
                 else f"https://api.shop.example/hooks/{i}") if is_url else None,
            email=None if is_url else f"ops{i}@{'Shop' if i % loose == 0 else 'shop'}.example",
            secret=secret,
            support_email="oncall@shop.example" if i % 5 == 0 else None,
            description=f"webhook {i}" if i % 7 == 0 else "",
            prevent_destroy=i % 11 == 0,
        )
        specs[name] = spec
        remotes.append(RemoteWebhook(
            id=f"wh_{i:08x}",
            name=name,
            type=spec.type,
            url=f"https://api.shop.example/hooks/{i}" if is_url else None,
            email=None if is_url else f"ops{i}@shop.example",
            application=spec.application,
            notifications=tuple(sorted(set(notes))),
            support_email=spec.support_email,
            description=spec.description,
            secret_fingerprint=(secret.fingerprint(FINGERPRINTS) if secret
                                else f"sha256:{i:016x}"),
            labels=desired_labels(OWNER, spec.prevent_destroy),
            version=3,
        ))
    config = Config(Path("webhooks.yaml"), 1, OWNER, specs, "sha256:" + "0" * 64)
    return config, remotes


def timeit(label: str, fn: object, repeat: int = 15) -> float:
    assert callable(fn)
    times = []
    gc.collect()
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    best, median = min(times) * 1000, statistics.median(times) * 1000
    print(f"{label:<58} best {best:7.1f} ms   median {median:7.1f} ms")
    return median


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    config, remotes = make(n)
    t0 = time.perf_counter()
    plan = build_plan(config, remotes, fingerprints=FINGERPRINTS)
    first = (time.perf_counter() - t0) * 1000
    assert not plan.has_changes and plan.unchanged == n, plan.summary_line()
    print(f"python {sys.version.split()[0]}, {n} webhooks")
    print(f"{'build_plan, first call in the process':<58} {first:7.1f} ms")
    unchanged = timeit(f"build_plan, {n} unchanged pairs (1 in 10 loosely spelled)",
                       lambda: build_plan(config, remotes, fingerprints=FINGERPRINTS))
    loose_config, loose_remotes = make(n, loose=1)
    assert not build_plan(loose_config, loose_remotes, fingerprints=FINGERPRINTS).has_changes
    timeit(f"build_plan, {n} unchanged pairs (all loosely spelled)",
           lambda: build_plan(loose_config, loose_remotes, fingerprints=FINGERPRINTS))
    # The floor: building the two name indexes and a dict compare per pair, nothing else.
    by_name = {r.name: r for r in remotes}
    timeit("floor: index + one dict lookup per pair",
           lambda: [by_name.get(name) for name in config.webhooks])

    changed = [replace(r, notifications=r.notifications[:1], version=4) for r in remotes]
    plan = build_plan(config, changed, fingerprints=FINGERPRINTS)
    assert plan.summary.update == n
    differing = timeit(f"build_plan, {n} pairs all differing (explained)",
                       lambda: build_plan(config, changed, fingerprints=FINGERPRINTS), repeat=5)
    record("plan_engine", webhooks=n, unchanged_ms=unchanged, differing_ms=differing)
    timeit(f"build_plan, {n} creates (empty backoffice)",
           lambda: build_plan(config, [], fingerprints=FINGERPRINTS), repeat=5)
    for label, actual in (("unchanged", remotes), ("all differing", changed)):
        tracemalloc.start()
        kept = build_plan(config, actual, fingerprints=FINGERPRINTS)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"{'peak memory allocated by build_plan, ' + label:<58} {peak / 2**20:7.1f} MiB")
        del kept


if __name__ == "__main__":
    main()
