"""`webhooks apply` of N creates over HTTP against a bare httpx request loop, in one run.

    .venv/bin/python bench/apply.py [--creates 1000] [--parallelism 1,8,32] [--repeat 3]
    .venv/bin/python bench/apply.py --postgres --parallelism 8   # SQLite and PostgreSQL

For each repeat and parallelism, two whole processes, each against its own freshly started
`webhooks serve` on a fresh copy of one empty database (free to run on any CPU unless
--server-cpu / --client-cpu pin them): (a) `webhooks apply --auto-approve --parallelism P`,
(b) bench/bare_client.py POSTing the very bodies and Idempotency-Keys apply sends (built
with reconciler.plan.payload from the same plan) with P workers on one httpx.AsyncClient.
The server's access log counts the requests each made. Prints medians, the ratio
apply/bare (budget: at most 1.2x), the client's CPU time (user + system: less noisy
than wall time on a shared machine), and peak RSS of client and server.

With --postgres, every case runs twice, interleaved: `webhooks serve` on SQLite as above,
and on a fresh database of a throwaway PostgreSQL (bench/postgres.py: started for the run,
removed after; each run's database copied from one seeded template); ratios are then
also given against apply on SQLite.
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import shutil
import statistics
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from harness import (
    REPO,
    Run,
    backoffice_server,
    clean_env,
    config_text,
    record,
    run_process,
    seeded,
)
from postgres import Cluster, throwaway_cluster

from contract.fingerprints import Fingerprints
from reconciler import __version__
from reconciler.config import load_config
from reconciler.plan import build_plan
from reconciler.plan.payload import create_body, idempotency_key

WRITES = ("POST", "PATCH", "DELETE")


def bare_requests(config_path: Path, token: str) -> list[dict[str, object]]:
    """The requests apply sends for an empty backoffice: same bodies, keys and headers."""
    config = load_config(config_path, secrets="require")
    # The key only fingerprints the plan's view; the request bodies do not depend on it.
    plan = build_plan(config, [], fingerprints=Fingerprints(bytes(32)))
    run_id = secrets.token_hex(16)  # fresh per run, as Applier makes it
    out: list[dict[str, object]] = []
    for change in plan.changes:
        assert change.spec is not None
        body = create_body(change.spec, plan.owner)
        out.append({
            "path": "/v1/webhooks",
            # httpx's json= encoding, so the bytes on the wire are the same.
            "body": json.dumps(body, ensure_ascii=False, separators=(",", ":"),
                               allow_nan=False),
            "headers": {
                "Authorization": f"Bearer {token}", "Accept": "application/json",
                "User-Agent": f"webhooks-reconciler/{__version__}",
                "Content-Type": "application/json",
                "Idempotency-Key": idempotency_key(plan.config_digest, change, run_id),
            },
        })
    return out


@dataclass
class Sample:
    run: Run
    writes: int  # POST/PATCH/DELETE answered 2xx
    requests: int  # all, 503s included
    busy: int  # answered 503 "database busy" (or 429), then retried by the client
    server_rss_mb: float


@dataclass(frozen=True)
class Database:
    """Where one run's server keeps its data: a SQLite copy, or a PostgreSQL copy."""

    backend: str  # "sqlite" or "postgresql"
    cluster: Cluster | None = None
    template: str | None = None  # the seeded PostgreSQL database's name


def one(template: Path, work: Path, argv: list[str], token: str,
        cpus: tuple[str | None, str | None], database: Database = Database("sqlite")) -> Sample:
    """A fresh database copy, a fresh server, one client process; the access log counts."""
    folder = Path(tempfile.mkdtemp(dir=work))
    for name in ("bo.db", "server.key"):
        shutil.copy(template / name, folder / name)
    db: Path | str = folder / "bo.db"
    if database.cluster is not None:
        db = database.cluster.create_database(database.template)
    env = clean_env(WEBHOOKS_DATA_DIR=str(folder))  # the template's server key
    with backoffice_server(db, cpus=cpus[0], env=env) as served:
        env = clean_env(WEBHOOKS_API_URL=served.url, WEBHOOKS_API_TOKEN=token)
        argv = [a.replace("{url}", served.url) for a in argv]
        run = run_process(argv, env=env, cpus=cpus[1])
        if run.returncode != 0:
            raise RuntimeError(f"client exited {run.returncode}: {run.stderr[-800:]}"
                               f"{run.stdout[-400:]}")
    writes = sum(1 for line in served.log_lines() for m in WRITES
                 if re.search(rf"backoffice\.access: {m} \S+ 2\d\d ", line))
    busy = sum(1 for line in served.log_lines()
               if re.search(r"backoffice\.access: \S+ \S+ (503|429) ", line))
    requests = sum(1 for line in served.log_lines() if "backoffice.access:" in line)
    requests -= served.count("GET", "/healthz ")  # our own readiness probes
    shutil.rmtree(folder, ignore_errors=True)
    return Sample(run, writes, requests, busy, served.max_rss_mb)


def postgres_template(cluster: Cluster, template: Path) -> str:
    """A PostgreSQL database holding what the SQLite template holds (the demo merchant and
    the token), sealed with the same server key; its name."""
    from backoffice.db.copy import copy_database
    from backoffice.db.engine import Database as Db

    url = cluster.create_database()
    src, dst = Db.open(f"sqlite:///{template / 'bo.db'}"), Db.open(url)
    try:
        copy_database(src, dst)
    finally:
        src.close()
        dst.close()
    return url.rsplit("/", 1)[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--creates", type=int, default=1000)
    parser.add_argument("--parallelism", default="1,8,32")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--server-cpu", help="pin the server (taskset -c); default: free")
    parser.add_argument("--client-cpu", help="pin the client; default: free")
    parser.add_argument("--postgres", action="store_true",
                        help="also against webhooks serve on a throwaway PostgreSQL")
    args = parser.parse_args()
    cpus = (args.server_cpu, args.client_cpu)
    py = sys.executable
    levels = [int(p) for p in args.parallelism.split(",")]
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        work = Path(tmp)
        template = work / "template"
        token = seeded(template, 0)
        databases = [Database("sqlite")]
        if args.postgres:
            cluster = stack.enter_context(throwaway_cluster())
            databases.append(Database("postgresql", cluster,
                                      postgres_template(cluster, template)))
        cfg = work / "webhooks.yaml"
        cfg.write_text(config_text(args.creates))
        requests = work / "requests.json"
        requests.write_text(json.dumps(bare_requests(cfg, token)))
        samples: dict[tuple[str, int], list[Sample]] = {}
        # Interleaved (apply, bare, apply, bare...; SQLite, PostgreSQL), so a burst of
        # load elsewhere on the machine hits every case alike.
        for _ in range(args.repeat):
            for level in levels:
                apply_argv = [py, "-m", "reconciler", "--no-color", "apply", "--auto-approve",
                              "--parallelism", str(level), "-f", str(cfg)]
                bare_argv = [py, str(REPO / "bench" / "bare_client.py"), "posts",
                             str(requests), "{url}", str(level)]
                for database in databases:
                    suffix = "" if database.backend == "sqlite" else " (PostgreSQL)"
                    for kind, argv in (("apply", apply_argv), ("bare", bare_argv)):
                        samples.setdefault((kind + suffix, level), []).append(
                            one(template, work, argv, token, cpus, database))
    print(f"{args.creates} creates, median of {args.repeat}; server on CPU "
          f"{args.server_cpu or 'any'}, client on CPU {args.client_cpu or 'any'}")
    print(f"{'P':>3} {'case':<22} {'median s':>9} {'creates/s':>10} {'x bare':>7} "
          f"{'client CPU s':>13} {'writes':>7} {'requests':>9} {'busy':>5} "
          f"{'client RSS MB':>14} {'server RSS MB':>14}")
    cases = [("bare", "bare httpx POST loop"), ("apply", "webhooks apply")]
    if args.postgres:
        cases += [("bare (PostgreSQL)", "bare loop, PostgreSQL"),
                  ("apply (PostgreSQL)", "apply, PostgreSQL")]
    for level in levels:
        for kind, label in cases:
            base_kind = "bare (PostgreSQL)" if "PostgreSQL" in kind else "bare"
            bare = statistics.median(s.run.seconds for s in samples[(base_kind, level)])
            on_sqlite = statistics.median(s.run.seconds for s in samples[("apply", level)])
            got = samples[(kind, level)]
            seconds = statistics.median(s.run.seconds for s in got)
            row = {
                "seconds": seconds, "ratio": seconds / bare,
                "cpu_seconds": statistics.median(s.run.cpu_seconds for s in got),
                "writes": max(s.writes for s in got), "requests": max(s.requests for s in got),
                "busy": max(s.busy for s in got), "rss_mb": max(s.run.max_rss_mb for s in got),
                "server_rss_mb": max(s.server_rss_mb for s in got),
            }
            against = f" {seconds / on_sqlite:>6.2f}x apply on SQLite" if args.postgres else ""
            print(f"{level:>3} {label:<22} {seconds:>9.3f} {args.creates / seconds:>10.0f} "
                  f"{row['ratio']:>7.2f} {row['cpu_seconds']:>13.2f} {row['writes']:>7} "
                  f"{row['requests']:>9} {row['busy']:>5} {row['rss_mb']:>14.1f} "
                  f"{row['server_rss_mb']:>14.1f}{against}", flush=True)
            record("apply", parallelism=level, case=label, creates=args.creates, **row)

if __name__ == "__main__":
    main()
