"""OUT_DIR handling shared by unilmv2-convert-hf and unilmv2-export-hf: refuse to overwrite without
``--force`` or to replace the input's own folder, fill a temporary folder beside OUT_DIR, rename it
onto OUT_DIR when complete (so OUT_DIR is either whole or untouched)."""
import os
import shutil
import sys
import tempfile
from typing import Callable, Tuple, TypeVar

T = TypeVar("T")


def write_out_dir(prog: str, out_dir: str, input_dir: str, what: str, force: bool,
                  fill: Callable[[str], T]) -> Tuple[int, T]:
    """Run ``fill(tmp)`` and put ``tmp`` in place of ``out_dir``. Returns ``(status, fill's result)``:
    status 2 (message printed, nothing written) for a non-empty ``out_dir`` without ``force``, an
    ``out_dir`` that is or holds ``input_dir`` (``what`` names it), or an error ``fill`` raises
    (FormatError, FileNotFoundError, ValueError)."""
    out = os.path.abspath(out_dir)
    if os.path.exists(out) and os.listdir(out) and not force:
        print(f"{prog}: {out} exists and is not empty: pass --force to replace it, or another OUT_DIR", file=sys.stderr)
        return 2, None
    source, real_out = os.path.realpath(input_dir), os.path.realpath(out)
    if real_out == source or source.startswith(real_out + os.sep):
        print(f"{prog}: OUT_DIR {out} is (or holds) {what} {source}: --force would delete it; pick another OUT_DIR",
              file=sys.stderr)
        return 2, None
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(out)}.", dir=parent)
    try:
        try:
            result = fill(tmp)
        except (ValueError, FileNotFoundError) as e:  # FormatError is a ValueError
            print(f"{prog}: {e}", file=sys.stderr)
            return 2, None
        os.chmod(tmp, 0o755)  # mkdtemp's folder is private
        if os.path.exists(out):
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp)
    return 0, result
