"""What a killed command leaves running: every process it started, at any depth, found by a
tag in its environment (inherited through fork and exec, also by processes the command's death
reparented), so that a test kills a command and checks that nothing it started survives."""
import os
import signal
import time
import uuid
from pathlib import Path

_VAR = "UNILMV2_TEST_PROCESS_TAG"


def tagged(env=None):
    """``(env, tag)``: a copy of ``env`` (default ``os.environ``) carrying a fresh tag."""
    tag = uuid.uuid4().hex
    return dict(os.environ if env is None else env, **{_VAR: tag}), tag


def alive(tag):
    """``{pid: command line}`` of the live (not zombie) processes carrying ``tag``."""
    found, needle = {}, f"{_VAR}={tag}".encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if needle not in (proc / "environ").read_bytes().split(b"\0"):
                continue
            if (proc / "stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                continue
            found[int(proc.name)] = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # ended meanwhile, or another user's
            continue
    return found


def assert_none_survive(tag, within=15.0):
    """Fail, naming them, when processes carrying ``tag`` are still alive after ``within``
    seconds (they are then killed, so that one failure does not leave them behind)."""
    deadline = time.monotonic() + within
    while (left := alive(tag)) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert not left, f"{len(left)} process(es) outlived the command that started them: {left}"
