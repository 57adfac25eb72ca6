"""Ordered parallel map over a stream with a bounded number of items in flight."""
import concurrent.futures
import multiprocessing as mp
import signal
from collections import deque
from concurrent.futures.process import BrokenProcessPool

__all__ = ["BrokenProcessPool", "ordered_map"]


def ordered_map(fn, items, workers, initializer=None, initargs=(), max_in_flight=None):
    """Yield ``fn(item)`` for each item, in input order, computed by ``workers`` processes.

    Unlike ``Pool.imap`` (whose feeder thread reads the whole input ahead), at most
    ``max_in_flight`` items (default ``2 * workers``) are read and not yet yielded, so memory is
    bounded by the item size, not the stream length. ``workers <= 1`` runs in this process.
    A worker that dies (killed, out of memory, an initializer that fails) raises
    ``BrokenProcessPool`` here instead of hanging, and the other workers are stopped.
    """
    if workers <= 1:
        if initializer is not None:
            initializer(*initargs)
        yield from map(fn, items)
        return
    max_in_flight = max_in_flight or 2 * workers
    pool = concurrent.futures.ProcessPoolExecutor(workers, mp.get_context("fork"), _init, (initializer, initargs))
    pending = deque()
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= max_in_flight:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
        pool.shutdown(wait=True)  # waited-for workers count in RUSAGE_CHILDREN (peak memory reports)
    finally:
        for future in pending:
            future.cancel()
        # After a worker died, the executor's own clean-up can block for good (a queue lock the
        # dead worker held; seen under load): do not wait for it. The caller then exits with
        # os._exit (encode.py), which also skips concurrent.futures' join at interpreter exit.
        pool.shutdown(wait=not getattr(pool, "_broken", False), cancel_futures=True)


def _init(initializer, initargs):
    # a forked worker must not inherit the parent's SIGTERM handler: the executor stops workers
    # with SIGTERM when one of them died, and a worker that survives it hangs the executor
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if initializer is not None:
        initializer(*initargs)
