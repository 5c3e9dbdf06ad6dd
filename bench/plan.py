"""`webhooks plan` over HTTP and embedded, against the bare floor, in one run.

    .venv/bin/python bench/plan.py [--sizes 1000,10000] [--repeat 3]

For each size: a backoffice seeded with N webhooks that match the config; then, as
whole processes, (a) the floor (bench/plan_floor.py), (b) `webhooks plan` over HTTP
with no change, (c) the same with 1% changed, (d) `webhooks plan` on the embedded
backoffice. Prints medians, the ratio to the floor, and peak RSS.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from harness import REPO, clean_env, config_text, median_run, seed, server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    py = sys.executable
    print(f"{'case':<40} {'median s':>9} {'x floor':>8} {'peak RSS MB':>12}")
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            cfg = work / "webhooks.yaml"
            cfg.write_text(config_text(size))
            changed = work / "changed.yaml"
            changed.write_text(config_text(size, changed=size // 100))
            db = work / "bo.db"
            token = seed(db, size)
            # The embedded provider reads .webhooks/backoffice.db beside the config.
            (work / ".webhooks").mkdir()
            shutil.copy(db, work / ".webhooks" / "backoffice.db")
            shutil.copy(work / "server.key", work / ".webhooks" / "server.key")
            with server(db) as url:
                env = clean_env(WEBHOOKS_API_URL=url, WEBHOOKS_API_TOKEN=token)
                floor = median_run([py, str(REPO / "bench" / "plan_floor.py"), str(cfg), url,
                                    token], env=env, repeat=args.repeat)
                rows = [
                    ("floor (CSafeLoader+jsonschema+pages)", floor),
                    ("plan over HTTP, no changes", median_run(
                        [py, "-m", "reconciler", "plan", "-f", str(cfg)], env=env,
                        repeat=args.repeat)),
                    ("plan over HTTP, 1% changed", median_run(
                        [py, "-m", "reconciler", "plan", "-f", str(changed)], env=env,
                        repeat=args.repeat)),
                ]
            rows.append(("plan embedded, no changes", median_run(
                [py, "-m", "reconciler", "plan", "-f", str(cfg)], env=clean_env(),
                repeat=args.repeat)))
            for name, run in rows:
                ratio = run.seconds / floor.seconds
                print(f"{size:>6} {name:<33} {run.seconds:>9.3f} {ratio:>8.2f} "
                      f"{run.max_rss_mb:>12.1f}", flush=True)


if __name__ == "__main__":
    main()
