"""Run a command as the child of this small process; write its wall time and peak RSS.

    python -S bench/spawn.py RESULT_FILE CPUS|- ARGV...

Why a go-between: a child's ``ru_maxrss`` (from ``wait4``) starts from the RSS of the
process that forked it, because the kernel carries the old address space's high-water
mark across ``exec``. Forked straight from a benchmark that holds 100 MB, every child
"peaks" at 100 MB or more. Forked from this ~8 MB process, the figure is the child's own.
CPUS (e.g. ``1``) pins the child with ``sched_setaffinity``; ``-`` leaves it free.
Writes ``{"seconds", "max_rss_kb", "cpu_seconds"}`` as JSON; exits with the child's exit code.
"""

import json
import os
import sys
import time


def main() -> int:
    result, cpus, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            if cpus != "-":
                os.sched_setaffinity(0, {int(c) for c in cpus.split(",")})
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.perf_counter() - start
    with open(result, "w", encoding="utf-8") as fh:
        json.dump({"seconds": elapsed, "max_rss_kb": usage.ru_maxrss,
                   "cpu_seconds": usage.ru_utime + usage.ru_stime}, fh)
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
