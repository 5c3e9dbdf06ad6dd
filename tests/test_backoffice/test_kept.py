"""The lists' kept values: bounded in number and bytes, starting over past either."""

from __future__ import annotations

import threading

from backoffice.kept import Kept


def test_past_the_entries_or_the_bytes_it_starts_over() -> None:
    kept: Kept[bytes] = Kept(max_entries=3, max_bytes=100)
    for key in "abc":
        assert kept.put(key, key.encode(), 10)
    assert len(kept) == 3 and kept.size == 30
    assert kept.put("d", b"d", 10)  # a fourth: starts over
    assert [kept.get(k) for k in "abcd"] == [None, None, None, b"d"] and kept.size == 10
    by_bytes: Kept[bytes] = Kept(max_entries=100, max_bytes=100)
    for key in "abc":
        by_bytes.put(key, key.encode(), 20)
    assert by_bytes.put("d", b"d", 25) and by_bytes.size == 85
    assert by_bytes.put("e", b"e", 20)  # 105 bytes with the others: starts over
    assert [by_bytes.get(k) for k in "abcde"] == [None, None, None, None, b"e"]
    assert by_bytes.size == 20


def test_a_value_over_its_share_of_the_bytes_is_never_kept() -> None:
    kept: Kept[bytes] = Kept(max_entries=10, max_bytes=100, share=4)
    assert not kept.put("big", b"x" * 26, 26)
    assert kept.get("big") is None and kept.size == 0
    assert kept.put("fits", b"x" * 25, 25)


def test_replacing_a_key_counts_its_bytes_once() -> None:
    kept: Kept[bytes] = Kept(max_entries=10, max_bytes=100)
    for _ in range(50):
        kept.put("same", b"v", 20)
    assert len(kept) == 1 and kept.size == 20


def test_puts_from_many_threads_keep_the_count_true() -> None:
    kept: Kept[int] = Kept(max_entries=50, max_bytes=10_000)

    def work(base: int) -> None:
        for i in range(2000):
            kept.put((base, i % 70), i, 7)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert kept.size == 7 * len(kept) and len(kept) <= 50
