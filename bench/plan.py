"""`webhooks plan` over HTTP and embedded, against the bare floor, in one run.

    .venv/bin/python bench/plan.py [--sizes 1000,10000] [--repeat 3]

For each size: a backoffice seeded with N webhooks that match the config; then, as
whole processes, (a) the floor (bench/plan_floor.py), (b) `webhooks plan` over HTTP
with no change, (c) the same with 1% changed, (d) `webhooks plan` on the embedded
backoffice. Prints medians, the ratio to the floor, peak RSS, and the requests each
made over HTTP (from the server's access log).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from harness import (
    REPO,
    Run,
    Served,
    backoffice_server,
    clean_env,
    config_text,
    median_run,
    record,
    seeded,
)


def api_requests(served: Served) -> int:
    """Requests the server has logged so far, our readiness probes aside."""
    time.sleep(0.1)  # the access log line is written just after the response is sent
    return served.count("GET", "/v1/") + served.count("POST") + served.count("PATCH")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    py = sys.executable
    print(f"{'case':<40} {'median s':>9} {'x floor':>8} {'peak RSS MB':>12} {'requests':>9}")
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            cfg = work / "webhooks.yaml"
            cfg.write_text(config_text(size))
            changed = work / "changed.yaml"
            changed.write_text(config_text(size, changed=size // 100))
            db = work / "bo.db"
            token = seeded(work, size)
            # The embedded provider reads .webhooks/backoffice.db beside the config.
            (work / ".webhooks").mkdir()
            shutil.copy(db, work / ".webhooks" / "backoffice.db")
            shutil.copy(work / "server.key", work / ".webhooks" / "server.key")
            embedded_env = clean_env()
            with backoffice_server(db) as served:
                url = served.url
                env = clean_env(WEBHOOKS_API_URL=url, WEBHOOKS_API_TOKEN=token)
                cases = [
                    ("floor (CSafeLoader+jsonschema+pages)",
                     [py, str(REPO / "bench" / "plan_floor.py"), str(cfg), url, token], env),
                    ("plan over HTTP, no changes",
                     [py, "-m", "reconciler", "plan", "-f", str(cfg)], env),
                    ("plan over HTTP, 1% changed",
                     [py, "-m", "reconciler", "plan", "-f", str(changed)], env),
                    ("plan embedded, no changes",
                     [py, "-m", "reconciler", "plan", "-f", str(cfg)], embedded_env),
                ]
                # Interleaved, one run of each case per round, so load elsewhere on the
                # machine falls on every case alike.
                runs: dict[str, list[Run]] = {name: [] for name, _, _ in cases}
                requests: dict[str, int] = {}
                for _ in range(args.repeat):
                    for name, argv, case_env in cases:
                        before = api_requests(served)
                        runs[name].append(median_run(argv, env=case_env, repeat=1))
                        requests[name] = api_requests(served) - before
            rows = [(name, Run(statistics.median(r.seconds for r in got),
                               max(r.max_rss_mb for r in got), 0))
                    for name, got in runs.items()]
            floor = rows[0][1]
            for name, run in rows:
                ratio = run.seconds / floor.seconds
                reqs = str(requests.get(name) or "-")
                print(f"{size:>6} {name:<33} {run.seconds:>9.3f} {ratio:>8.2f} "
                      f"{run.max_rss_mb:>12.1f} {reqs:>9}", flush=True)
                record("plan", size=size, case=name, seconds=run.seconds, ratio=ratio,
                       rss_mb=run.max_rss_mb, requests=requests.get(name))


if __name__ == "__main__":
    main()
