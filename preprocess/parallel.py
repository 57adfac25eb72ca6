"""Ordered parallel map over a stream with a bounded number of items in flight."""
import multiprocessing as mp
from collections import deque


def ordered_map(fn, items, workers, initializer=None, initargs=(), max_in_flight=None):
    """Yield ``fn(item)`` for each item, in input order, computed by ``workers`` processes.

    Unlike ``Pool.imap`` (whose feeder thread reads the whole input ahead), at most
    ``max_in_flight`` items (default ``2 * workers``) are read and not yet yielded, so memory is
    bounded by the item size, not the stream length. ``workers <= 1`` runs in this process.
    """
    if workers <= 1:
        if initializer is not None:
            initializer(*initargs)
        yield from map(fn, items)
        return
    max_in_flight = max_in_flight or 2 * workers
    pool = mp.get_context("fork").Pool(workers, initializer, initargs)
    try:
        pending = deque()
        for item in items:
            pending.append(pool.apply_async(fn, (item,)))
            if len(pending) >= max_in_flight:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()
        pool.close()
        pool.join()  # waited-for workers count in RUSAGE_CHILDREN (peak memory reports)
    finally:
        pool.terminate()
