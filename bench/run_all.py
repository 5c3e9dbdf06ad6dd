"""The whole benchmark suite in one command, then one table against DESIGN section 5.

    .venv/bin/python bench/run_all.py [--quick]

Runs plan.py, plan_engine.py, apply.py, backoffice_api.py, delivery.py and octodns.py
one after the other (each prints its own table as it goes), sharing one cache of seeded
databases, and ends with a summary: every figure beside its baseline and the budget.
Sized to finish in under ten minutes on 2 cores; --quick runs smaller sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent

SUITE: list[tuple[str, list[str], list[str]]] = [
    # script, its arguments, and with --quick
    ("plan.py", ["--sizes", "1000,10000", "--repeat", "3"], ["--sizes", "2000", "--repeat", "1"]),
    ("plan_engine.py", [], ["2000"]),
    ("apply.py", ["--creates", "1000", "--repeat", "3"], ["--creates", "200", "--repeat", "1"]),
    ("backoffice_api.py", ["--webhooks", "1000", "--seconds", "1.5", "--repeat", "3"],
     ["--webhooks", "1000", "--seconds", "1", "--repeat", "1"]),
    ("delivery.py", ["--deliveries", "1000", "--repeat", "3"],
     ["--deliveries", "200", "--repeat", "1"]),
    ("octodns.py", ["--records", "10000", "--repeat", "3"], ["--records", "2000", "--repeat", "1"]),
]


def machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{os.cpu_count()} CPUs ({model or platform.machine()}), {platform.system()} "
            f"{platform.release()}, Python {platform.python_version()}; load average {load}")


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISS"


def summary(rows: list[dict[str, Any]]) -> list[str]:
    out = ["| figure | ours | baseline | ratio | budget | |", "|---|---|---|---|---|---|"]

    def add(figure: str, ours: str, base: str, ratio: float, budget: str, ok: bool | None) -> None:
        mark = "" if ok is None else verdict(ok)
        out.append(f"| {figure} | {ours} | {base} | {ratio:.2f}x | {budget} | {mark} |")

    plan = [r for r in rows if r["bench"] == "plan"]
    for size in sorted({r["size"] for r in plan}):
        at = {r["case"]: r for r in plan if r["size"] == size}
        floor = next(r for name, r in at.items() if name.startswith("floor"))
        for name, r in at.items():
            if r is floor:
                continue
            big = size >= 10_000 and "HTTP, no changes" in name
            add(f"plan {size:,}: {name}", f"{r['seconds']:.3f} s",
                f"floor {floor['seconds']:.3f} s", r["ratio"], "<= 1.3x floor" if big else "",
                r["ratio"] <= 1.3 if big else None)
            if size >= 10_000:
                add(f"plan {size:,}: {name}, peak RSS", f"{r['rss_mb']:.0f} MB",
                    f"floor {floor['rss_mb']:.0f} MB", r["rss_mb"] / floor["rss_mb"], "< 150 MB",
                    r["rss_mb"] < 150)
    for r in (r for r in rows if r["bench"] == "plan_engine"):
        add(f"planner alone, {r['webhooks']:,} unchanged pairs", f"{r['unchanged_ms']:.1f} ms",
            f"all differing {r['differing_ms']:.0f} ms", r["unchanged_ms"] / r["differing_ms"],
            "near zero", r["unchanged_ms"] < 100)
    apply = [r for r in rows if r["bench"] == "apply"]
    for level in sorted({r["parallelism"] for r in apply}):
        at = {r["case"]: r for r in apply if r["parallelism"] == level}
        mine, bare = at["webhooks apply"], at["bare httpx POST loop"]
        add(f"apply {mine['creates']:,} creates, parallelism {level}",
            f"{mine['seconds']:.2f} s, {mine['rss_mb']:.0f} MB",
            f"bare loop {bare['seconds']:.2f} s, {bare['rss_mb']:.0f} MB", mine["ratio"],
            "<= 1.2x", mine["ratio"] <= 1.2)
        add(f"apply {mine['creates']:,} creates, parallelism {level}: write requests",
            str(mine["writes"]), f"{mine['creates']} changes", mine["writes"] / mine["creates"],
            "1 per change", mine["writes"] == mine["creates"])
    for r in (r for r in rows if r["bench"] == "backoffice"):
        if r.get("skipped"):
            out.append(f"| backoffice {r['case']} | not measured | | | | |")
            continue
        add(f"backoffice on one core: {r['case']} (x = time per request)",
            f"{r['ours_rps']:.0f}/s, {r['server_rss_mb']:.0f} MB",
            f"bare FastAPI {r['bare_rps']:.0f}/s, {r['bare_rss_mb']:.0f} MB", r["ratio"], "", None)
    for r in (r for r in rows if r["bench"] == "delivery"):
        add(f"delivery to a loopback receiver, {r['deliveries']:,} deliveries",
            f"{r['ours_dps']:.0f}/s, {r['server_rss_mb']:.0f} MB",
            f"bare httpx loop {r['bare_dps']:.0f}/s", r["ratio"], "", None)
    octo = [r for r in rows if r["bench"] == "octodns" and not r.get("skipped")]
    for r in octo:
        if r["case"].startswith("webhooks plan"):
            peer = next(p for p in octo if p["case"].startswith("octodns")
                        and p["case"].split(", ")[-1] == r["case"].split(", ")[-1])
            goal = r["records"] >= 10_000  # DESIGN's goal is stated at 10,000
            add(f"{r['records']:,}: {r['case']} vs octoDNS",
                f"{r['seconds']:.2f} s, {r['rss_mb']:.0f} MB",
                f"octoDNS {peer['seconds']:.2f} s, {peer['rss_mb']:.0f} MB", r["ratio"],
                "<= 0.25x (4x faster)" if goal else "", r["ratio"] <= 0.25 if goal else None)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller sizes, one repeat")
    parser.add_argument("--only", help="comma-separated script names to run")
    args = parser.parse_args()
    only = set(args.only.split(",")) if args.only else None
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} on {machine()}", flush=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        results = Path(tmp) / "results.jsonl"
        results.touch()
        env = {**os.environ, "BENCH_CACHE": os.environ.get("BENCH_CACHE") or str(Path(tmp)),
               "BENCH_RESULTS": str(results)}
        for script, full, quick in SUITE:
            if only and script not in only and script.removesuffix(".py") not in only:
                continue
            argv = [sys.executable, str(BENCH / script), *(quick if args.quick else full)]
            print(f"\n## {script} {' '.join(argv[2:])}", flush=True)
            t0 = time.perf_counter()
            code = subprocess.call(argv, env=env)
            print(f"({script}: {time.perf_counter() - t0:.0f} s, exit {code})", flush=True)
        rows = [json.loads(line) for line in results.read_text().splitlines() if line]
    print(f"\n## Summary ({time.perf_counter() - started:.0f} s in all; load average now "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())})\n")
    print("\n".join(summary(rows)))


if __name__ == "__main__":
    main()
