#!/usr/bin/env python
"""Processes that end when the process that started them dies, however it dies.

A worker blocked on a pipe outlives a parent killed with SIGKILL (no clean-up runs in the
parent): its siblings hold the pipe's other end, so it never reads end-of-file. On Linux the
kernel can send a signal instead (``prctl(PR_SET_PDEATHSIG)``, prctl(2)); it is delivered when
the *thread* that forked the process ends, it is cleared in a forked child and kept across
``execve``. So each process sets it for itself, right after it starts, and then checks that its
parent has not already died in between (its parent id then differs).

    python preprocess/lifetime.py PARENT_PID MODULE ARG ...

runs ``python -m MODULE ARG ...`` (here: fairseq_cli.preprocess) bound to process PARENT_PID, and
every process it forks (fairseq-preprocess's multiprocessing workers) bound to its own parent,
so that none of them outlives a killed binarize.py. Elsewhere than Linux this is a no-op.
"""
import ctypes
import os
import runpy
import signal
import sys

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent(parent_pid):
    """Have the kernel SIGKILL this process when ``parent_pid`` (its parent: the process that
    forked it, whose forking thread must live as long as it) ends; exit at once if it has ended
    already. SIGKILL: a process that ignores or handles SIGTERM must not survive either."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)


def bind_forks():
    """Bind every process this one forks from now on to it (``die_with_parent``)."""
    parent = []

    def before():
        parent[:] = [os.getpid()]

    os.register_at_fork(before=before, after_in_child=lambda: die_with_parent(parent[0]))


def command(module, args):
    """The command line that runs ``python -m module *args`` bound to this process."""
    return [sys.executable, os.path.abspath(__file__), str(os.getpid()), module, *map(str, args)]


def main():
    parent, module, args = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    die_with_parent(parent)
    bind_forks()
    sys.path.pop(0)  # this folder: its modules must not shadow the ones MODULE imports
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
