"""OUT_DIR handling shared by unilmv2-convert-hf and unilmv2-export-hf: refuse to overwrite without
``--force`` or to replace the input's own folder, fill a temporary folder beside OUT_DIR, put it in
place of OUT_DIR when complete. A kill at any point (SIGKILL included) leaves OUT_DIR whole: the
old one, untouched, or the new one, complete.

- One run at a time per OUT_DIR: each holds an exclusive ``flock`` on ``.NAME.unilmv2-lock`` beside
  it (the kernel releases it when the process dies, however it dies); a second run is refused.
- Holding the lock, every temporary of this OUT_DIR (``.NAME.unilmv2-tmp-*``) belongs to an earlier
  run that was killed: they are removed first. So are the folders that versions before this one
  left (``.NAME.`` and 8 ``mkdtemp`` characters, private mode 0700, holding only files these
  commands write), whose names carried no marker.
- The complete temporary replaces OUT_DIR by one atomic exchange of the two names (Linux
  ``renameat2(RENAME_EXCHANGE)``), then the old contents, now under the temporary's name, are
  deleted. Where the exchange is not available (another OS, a file system without it), OUT_DIR is
  first renamed aside (``.NAME.unilmv2-tmp-old-*``) and the new folder renamed in: a kill between
  the two renames leaves OUT_DIR missing for that instant, with both folders complete beside it.
  An empty OUT_DIR is replaced by a plain rename, which POSIX makes atomic.
- The lock file is removed at the end; a kill leaves it (empty, hidden), and the next run over
  the same OUT_DIR removes it.
"""
import os
import re
import shutil
import sys
import tempfile
from typing import Callable, Tuple, TypeVar

T = TypeVar("T")

TMP_MARK = "unilmv2-tmp-"
LOCK_MARK = "unilmv2-lock"
# what these commands write into OUT_DIR (and its .tmp files): a legacy folder holding anything
# else is not ours to delete
_OUR_FILES = re.compile(r"^(model\.pt|dict\.txt|vocab\.txt|train_flags\.txt|config\.json|model\.safetensors|"
                        r"tokenizer_config\.json|special_tokens_map\.json|tokenizer\.json|added_tokens\.json)"
                        r"(\.tmp)?$")


class Busy(Exception):
    """Another run holds OUT_DIR's lock."""


def _lock(parent: str, name: str):
    """An open file descriptor holding the exclusive lock of OUT_DIR ``parent/name``, and its path.
    Raises Busy when another process holds it."""
    import fcntl

    path = os.path.join(parent, f".{name}.{LOCK_MARK}")
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise Busy(path) from None
        try:  # the file we locked must still be the one at `path` (a finishing run unlinks it)
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                return fd, path
        except FileNotFoundError:
            pass
        os.close(fd)


def _legacy_temporary(path: str) -> bool:
    """A folder ``tempfile.mkdtemp(prefix=".NAME.")`` made in earlier versions and a killed run
    left: private mode, only files these commands write."""
    try:
        st = os.lstat(path)
        if not os.path.isdir(path) or os.path.islink(path) or (st.st_mode & 0o777) != 0o700:
            return False
        return all(_OUR_FILES.match(entry) for entry in os.listdir(path))
    except OSError:
        return False


def remove_stale(parent: str, name: str):
    """Delete what killed runs over OUT_DIR ``parent/name`` left beside it. Call it holding the lock.
    Returns the names removed."""
    ours = f".{name}.{TMP_MARK}"
    legacy = re.compile(re.escape(f".{name}.") + r"[a-z0-9_]{8}")
    removed = []
    for entry in sorted(os.listdir(parent)):
        path = os.path.join(parent, entry)
        if entry.startswith(ours) or (legacy.fullmatch(entry) and _legacy_temporary(path)):
            try:
                _remove(path)
            except OSError:
                continue
            removed.append(entry)
    return removed


_RENAME_EXCHANGE = 2  # linux/fs.h


def exchange(a: str, b: str) -> bool:
    """Swap the names ``a`` and ``b`` atomically (Linux renameat2 RENAME_EXCHANGE). False where the
    system or file system cannot; raises OSError for other failures."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes
    import errno

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):  # no libc symbol (glibc < 2.28, musl)
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_fdcwd = -100
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
        return False
    raise OSError(err, os.strerror(err), a)


def put_in_place(tmp: str, out: str):
    """Make the complete folder ``tmp`` OUT_DIR ``out``, atomically where the system allows."""
    parent, name = os.path.split(out)
    if not os.path.lexists(out):
        os.rename(tmp, out)
        return
    if os.path.isdir(out) and not os.path.islink(out) and not os.listdir(out):
        os.rename(tmp, out)  # onto an empty folder: atomic
        return
    if exchange(tmp, out):
        _remove(tmp)  # the old OUT_DIR, now under the temporary's name
        return
    aside = tempfile.mkdtemp(prefix=f".{name}.{TMP_MARK}old-", dir=parent)
    os.rmdir(aside)
    os.rename(out, aside)
    os.rename(tmp, out)
    _remove(aside)


def _remove(path: str):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def write_out_dir(prog: str, out_dir: str, input_dir: str, what: str, force: bool,
                  fill: Callable[[str], T]) -> Tuple[int, T]:
    """Run ``fill(tmp)`` and put ``tmp`` in place of ``out_dir``. Returns ``(status, fill's result)``:
    status 2 (one line printed, nothing written) for a non-empty ``out_dir`` without ``force``, an
    ``out_dir`` that is or holds ``input_dir`` (``what`` names it), another run writing the same
    ``out_dir``, or an error ``fill`` raises (FormatError and the other ValueErrors, OSError)."""
    out = os.path.abspath(out_dir)
    if os.path.exists(out) and not os.path.isdir(out):
        print(f"{prog}: OUT_DIR {out} exists and is not a folder; pick another OUT_DIR", file=sys.stderr)
        return 2, None
    if os.path.exists(out) and os.listdir(out) and not force:
        print(f"{prog}: {out} exists and is not empty: pass --force to replace it, or another OUT_DIR", file=sys.stderr)
        return 2, None
    source, real_out = os.path.realpath(input_dir), os.path.realpath(out)
    if real_out == source or source.startswith(real_out + os.sep):
        print(f"{prog}: OUT_DIR {out} is (or holds) {what} {source}: --force would delete it; pick another OUT_DIR",
              file=sys.stderr)
        return 2, None
    parent, name = os.path.split(out)
    os.makedirs(parent, exist_ok=True)
    try:
        fd, lock_path = _lock(parent, name)
    except Busy as busy:
        print(f"{prog}: another run is writing {out} (it holds {busy}); wait for it to end, or pick another OUT_DIR",
              file=sys.stderr)
        return 2, None
    tmp = None
    try:
        remove_stale(parent, name)
        tmp = tempfile.mkdtemp(prefix=f".{name}.{TMP_MARK}", dir=parent)
        try:
            result = fill(tmp)
        except (ValueError, OSError) as e:  # FormatError is a ValueError
            message = " ".join(str(e).split()) or type(e).__name__
            print(f"{prog}: {message}", file=sys.stderr)
            return 2, None
        os.chmod(tmp, 0o755)  # mkdtemp's folder is private
        put_in_place(tmp, out)
    finally:
        if tmp is not None and os.path.lexists(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
        os.unlink(lock_path)
        os.close(fd)
    return 0, result
