"""The background-callback cache survives its directory being deleted while the app runs."""

from __future__ import annotations

import shutil
import threading

from dashapp.callback_cache import SelfHealingCache


def test_deleted_directory_is_rebuilt_and_every_thread_uses_the_new_file(tmp_path):
    directory = tmp_path / "callbacks"
    cache = SelfHealingCache(str(directory))
    cache.set("before", 1)
    seen_in_thread = []
    other = threading.Thread(target=lambda: seen_in_thread.append(cache.get("before")))
    other.start()
    other.join()
    assert seen_in_thread == [1]

    shutil.rmtree(directory)
    cache.set("after", 2)  # a plain diskcache.Cache writes on into the deleted file, which no new process sees
    assert cache.get("after") == 2
    assert cache.get("before") is None  # a fresh cache, not the deleted one
    assert (directory / "cache.db").exists()

    # A thread that had a connection to the deleted file now reads the new one.
    seen_after = []
    other = threading.Thread(target=lambda: seen_after.append(cache.get("after")))
    other.start()
    other.join()
    assert seen_after == [2]
    cache.close()
