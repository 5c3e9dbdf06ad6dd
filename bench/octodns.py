"""The closest peer on comparable work: octoDNS planning 10,000 records from YAML against a
YAML target, beside `webhooks plan` of 10,000 webhooks on the embedded backoffice, both
as whole processes, in one run.

    python3 -m venv /tmp/octodns-venv && /tmp/octodns-venv/bin/pip install octodns
    .venv/bin/python bench/octodns.py [--records 10000] [--repeat 3] [--venv /tmp/octodns-venv]

octoDNS stays in its own venv (it is not a dependency of this project). In a temp dir:
a YamlProvider source and a YamlProvider target holding the same N A records, five lines
each (like our webhooks), zone example.com.; `octodns-sync` without --doit plans (no
changes; then 1% changed in the source). Ours: N webhooks of five lines each, the
embedded backoffice holding the same N (no changes; then 1% changed in the config).
Prints medians, the ratio to octoDNS on the same case, and peak RSS.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from harness import Run, clean_env, config_text, record, run_process, seeded

OCTO_CONFIG = """\
providers:
  config:
    class: octodns.provider.yaml.YamlProvider
    directory: ./config
  target:
    class: octodns.provider.yaml.YamlProvider
    directory: ./target
zones:
  example.com.:
    sources: [config]
    targets: [target]
"""


def zone_text(count: int, *, changed: int = 0) -> str:
    """``count`` A records of five lines each, sorted (YamlProvider enforces the order)."""
    lines = ["---"]
    for i in range(count):
        value = "192.0.2.1" if i < changed else f"10.{i // 65536}.{i // 256 % 256}.{i % 256}"
        lines += [f"host-{i:05d}:", "  ttl: 300", "  type: A", "  values:", f"  - {value}"]
    return "\n".join(lines) + "\n"


def octodns_dir(root: Path, count: int, changed: int) -> Path:
    """An octoDNS config dir: source with ``changed`` records differing from the target."""
    root.mkdir(parents=True)
    (root / "config.yaml").write_text(OCTO_CONFIG)
    for sub, n in (("config", changed), ("target", 0)):
        (root / sub).mkdir()
        (root / sub / "example.com.yaml").write_text(zone_text(count, changed=n))
    return root


def check_octo(run: Run, changed: int) -> None:
    found = re.search(r"Creates=(\d+), Updates=(\d+), Deletes=(\d+)", run.stderr)
    updates = int(found.group(2)) if found else -1
    if run.returncode != 0 or (changed and updates != changed) or (
            not changed and "No changes were planned" not in run.stderr):
        raise RuntimeError(f"octodns-sync: exit {run.returncode}, {updates} updates: "
                           f"{run.stderr[-500:]}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--venv", default="/tmp/octodns-venv")
    args = parser.parse_args()
    sync = Path(args.venv) / "bin" / "octodns-sync"
    if not sync.exists():
        print(f"octoDNS not found at {sync}: python3 -m venv {args.venv} && "
              f"{args.venv}/bin/pip install octodns")
        record("octodns", skipped=True)
        return
    n, changed = args.records, args.records // 100
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ours = work / "ours"
        seeded(ours / ".webhooks", n)  # the embedded backoffice beside the config
        shutil.move(ours / ".webhooks" / "bo.db", ours / ".webhooks" / "backoffice.db")
        (ours / "same.yaml").write_text(config_text(n))
        (ours / "changed.yaml").write_text(config_text(n, changed=changed))
        octo = {0: octodns_dir(work / "octo-same", n, 0),
                changed: octodns_dir(work / "octo-changed", n, changed)}
        runs: dict[tuple[str, int], list[Run]] = {}
        for _ in range(args.repeat):
            for diff in (0, changed):
                run = run_process([str(sync), "--config-file=config.yaml"], env=clean_env(),
                                  cwd=octo[diff])
                check_octo(run, diff)
                runs.setdefault(("octodns", diff), []).append(run)
                cfg = ours / ("changed.yaml" if diff else "same.yaml")
                run = run_process([sys.executable, "-m", "reconciler", "--no-color", "plan",
                                   "--detailed-exitcode", "-f", str(cfg)], env=clean_env())
                if run.returncode != (2 if diff else 0):
                    raise RuntimeError(f"webhooks plan exited {run.returncode}: "
                                       f"{run.stderr[-500:]}")
                runs.setdefault(("ours", diff), []).append(run)
    print(f"{n:,} records / webhooks of five lines each, median of {args.repeat}, "
          "whole processes")
    print(f"{'case':<50} {'median s':>9} {'x octoDNS':>10} {'peak RSS MB':>12}")
    for diff, label in ((0, "no changes"), (changed, "1% changed")):
        peer = statistics.median(r.seconds for r in runs[("octodns", diff)])
        for side, name in (("octodns", "octodns-sync (YAML -> YAML), "),
                           ("ours", "webhooks plan (embedded), ")):
            got = runs[(side, diff)]
            seconds = statistics.median(r.seconds for r in got)
            rss = max(r.max_rss_mb for r in got)
            print(f"{name + label:<50} {seconds:>9.3f} {seconds / peer:>10.2f} {rss:>12.1f}",
                  flush=True)
            record("octodns", case=name + label, seconds=seconds, ratio=seconds / peer,
                   rss_mb=rss, records=n)


if __name__ == "__main__":
    main()
