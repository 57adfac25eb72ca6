"""Ordered parallel map over a stream with a bounded number of items in flight."""
import concurrent.futures
import multiprocessing as mp
import os
import signal
from collections import deque
from concurrent.futures.process import BrokenProcessPool

from preprocess.lifetime import die_with_parent

__all__ = ["BrokenProcessPool", "ordered_map"]


def ordered_map(fn, items, workers, initializer=None, initargs=(), max_in_flight=None):
    """Yield ``fn(item)`` for each item, in input order, computed by ``workers`` processes.

    Unlike ``Pool.imap`` (whose feeder thread reads the whole input ahead), at most
    ``max_in_flight`` items (default ``2 * workers``) are read and not yet yielded, so memory is
    bounded by the item size, not the stream length. ``workers <= 1`` runs in this process.
    A worker that dies (killed, out of memory, an initializer that fails) raises
    ``BrokenProcessPool`` here instead of hanging, and the other workers are stopped. A worker
    dies with this process, also when it is killed with SIGKILL (``lifetime.die_with_parent``;
    the workers are forked by the calling thread, as ``submit`` starts them).
    """
    if workers <= 1:
        if initializer is not None:
            initializer(*initargs)
        yield from map(fn, items)
        return
    max_in_flight = max_in_flight or 2 * workers
    pool = concurrent.futures.ProcessPoolExecutor(workers, mp.get_context("fork"), _init,
                                                (os.getpid(), initializer, initargs))
    pending, broken = deque(), False
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= max_in_flight:
                yield _result(pending.popleft(), pool)
        while pending:
            yield _result(pending.popleft(), pool)
        pool.shutdown(wait=True)  # waited-for workers count in RUSAGE_CHILDREN (peak memory reports)
    except BrokenProcessPool:
        broken = True
        for process in list(pool._processes.values()):
            process.kill()  # a survivor may wait for good on a queue lock the dead worker held
        raise
    finally:
        for future in pending:
            future.cancel()
        # After a worker died, the executor's own clean-up can block for good (see _result): do
        # not wait for it. The caller then exits with os._exit (encode.py), which also skips
        # concurrent.futures' join at interpreter exit.
        pool.shutdown(wait=not (broken or getattr(pool, "_broken", False)), cancel_futures=True)


def _result(future, pool, poll_s=0.2):
    """``future.result()``, or BrokenProcessPool as soon as a worker of ``pool`` has died. The
    executor notices a dead worker itself, except when it died writing its result: its manager
    thread then blocks for good reading the half-written message (CPython 3.11; under load, 1
    in 5 killed workers here), so the workers' exit codes are watched too (``_processes``:
    the executor's own table, the only list of its workers)."""
    while True:
        try:
            return future.result(timeout=poll_s)
        except concurrent.futures.TimeoutError:
            dead = [p for p in list(pool._processes.values()) if p.exitcode is not None]
            if dead:
                raise BrokenProcessPool(f"a worker process died (exit code {dead[0].exitcode})") from None


def _init(parent_pid, initializer, initargs):
    die_with_parent(parent_pid)
    # a forked worker must not inherit the parent's SIGTERM handler: the executor stops workers
    # with SIGTERM when one of them died, and a worker that survives it hangs the executor
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if initializer is not None:
        initializer(*initargs)
