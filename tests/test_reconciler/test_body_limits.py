"""Body caps hold while the body is read: a chunked POST of 400 MiB (made lazily, never held
by the test) to a real `webhooks listen` and a real `webhooks serve` gets 413 (or the
connection closes after it), and neither process's peak memory comes near the body size."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.env import clean_env
from tests.support.processes import Process, Processes, free_port
from tests.support.secrets import SIBS_SECRET
from tests.support.serve import Server, seed

pytestmark = pytest.mark.slow

MIB = 1 << 20
BODY = 400 * MIB
CHUNK = 64 * 1024
PEAK_LIMIT = 150 * MIB  # far below the body: the body was never held


def chunks(sent: list[int]) -> Iterator[bytes]:
    """BODY bytes, a chunk at a time, counting what was taken."""
    block = b"A" * CHUNK
    for _ in range(BODY // CHUNK):
        sent[0] += CHUNK
        yield block


def peak_rss(pid: int) -> int:
    """The process's peak resident memory (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/<pid>/status")


def post_huge(url: str, headers: dict[str, str] | None = None) -> tuple[int | None, int]:
    """(the status, or None when the connection closed first; bytes the client produced)."""
    sent = [0]
    try:
        with httpx.Client(timeout=120) as client:
            response = client.post(url, content=chunks(sent), headers=headers)
    except (httpx.RemoteProtocolError, httpx.WriteError, httpx.ReadError):
        return None, sent[0]
    assert "content-length" not in response.request.headers  # chunked: no size announced
    return response.status_code, sent[0]


def test_listen_refuses_a_huge_chunked_body_while_reading(tmp_path: Path,
                                                          processes: Processes) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/hooks"
    listener = Process(processes, tmp_path, "listen", ["listen", "--port", str(port)],
                       clean_env(WEBHOOKS_LISTEN_SECRET=SIBS_SECRET), url)
    before = peak_rss(listener.process.pid)
    status, sent = post_huge(url, {"Content-Type": "text/plain"})
    peak = peak_rss(listener.process.pid)
    print(f"\nlisten: peak RSS {peak / MIB:.1f} MiB (before {before / MIB:.1f} MiB); "
          f"the client produced {sent / MIB:.1f} of {BODY / MIB:.0f} MiB; status {status}")
    assert status in (413, None)
    assert peak < PEAK_LIMIT < BODY
    assert sent < BODY // 2  # it stopped reading and closed: the rest was never sent
    assert httpx.get(url, timeout=10).status_code == 200  # still serving
    listener.stop()
    assert "too large" in listener.err


def test_serve_refuses_a_huge_chunked_body_while_reading(tmp_path: Path,
                                                         processes: Processes) -> None:
    db = tmp_path / "bo.db"
    token, _ = seed(db)
    server = Server(processes, db, tmp_path)
    before = peak_rss(server.process.pid)
    status, sent = post_huge(server.base + "/v1/webhooks",
                             {"Authorization": f"Bearer {token}",
                              "Content-Type": "application/json"})
    peak = peak_rss(server.process.pid)
    print(f"\nserve: peak RSS {peak / MIB:.1f} MiB (before {before / MIB:.1f} MiB); "
          f"the client produced {sent / MIB:.1f} of {BODY / MIB:.0f} MiB; status {status}")
    assert status in (413, None)
    assert peak < PEAK_LIMIT < BODY
    assert sent < BODY // 2  # it stopped reading and closed: the rest was never sent
    assert httpx.get(server.base + "/healthz", timeout=10).status_code == 200
    assert "POST /v1/webhooks 413 " in server.log_text()


def test_listen_says_one_line_when_a_client_goes_away_mid_body(tmp_path: Path,
                                                                processes: Processes) -> None:
    import socket
    import time

    port = free_port()
    url = f"http://127.0.0.1:{port}/hooks"
    listener = Process(processes, tmp_path, "listen", ["listen", "--port", str(port)],
                       clean_env(WEBHOOKS_LISTEN_SECRET=SIBS_SECRET), url)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"POST /hooks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n"
                     b"Content-Type: text/plain\r\n\r\nhello")
        time.sleep(0.2)  # let the receiver start reading before the client goes away
    assert httpx.get(url, timeout=10).status_code == 200  # still serving
    listener.stop()
    assert "Traceback" not in listener.err and "ClientDisconnect" not in listener.err
