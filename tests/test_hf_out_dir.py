"""OUT_DIR of unilmv2-convert-hf / unilmv2-export-hf under kills (issue 20, item 13): a run killed
with SIGKILL leaves OUT_DIR whole (untouched, or complete), and the next run over the same OUT_DIR
removes what the killed one left beside it (it used to leave an empty hidden folder for good)."""
import fcntl
import os
import signal
import subprocess
import time
import zipfile

import pytest

transformers = pytest.importorskip("transformers")

from fairseq_unilmv2.hf import out_dir as od  # noqa: E402

from .test_hf_convert import TINY, _randomise, _save_hf  # noqa: E402

FILES = {"model.pt", "dict.txt", "train_flags.txt", "vocab.txt"}


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory):
    hf = _randomise(transformers.BertForMaskedLM(transformers.BertConfig(**TINY)), 31)
    return _save_hf(hf, tmp_path_factory.mktemp("hf_kill"))


def _hidden(parent):
    return sorted(p for p in os.listdir(parent) if p.startswith("."))


def _whole(out):
    """OUT_DIR is a complete conversion: every file, model.pt a complete zip archive."""
    assert FILES <= set(os.listdir(out)), os.listdir(out)
    assert zipfile.is_zipfile(out / "model.pt")
    assert (out / "dict.txt").read_text().startswith("#unilmv2:vocab-ids")


def _start(hf_dir, out, *flags):
    return subprocess.Popen(["unilmv2-convert-hf", str(hf_dir), str(out), *flags],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _kill_when_writing(proc, parent, name, extra_delay=0.0, timeout=120):
    """SIGKILL ``proc`` once its temporary folder beside OUT_DIR exists (plus ``extra_delay``).
    Returns False if it finished first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if any(p.startswith(f".{name}.{od.TMP_MARK}") for p in os.listdir(parent)):
            time.sleep(extra_delay)
            if proc.poll() is not None:
                return False
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.005)
    proc.kill()
    raise AssertionError("no temporary folder appeared")


def test_sigkill_mid_run_then_rerun_cleans_up(hf_dir, tmp_path):
    parent = tmp_path / "work"
    parent.mkdir()
    out = parent / "out"
    # a folder an earlier version left (mkdtemp's name, private, empty) and a user's own folder
    legacy = parent / ".out.k2j4x9_q"
    legacy.mkdir(mode=0o700)
    os.chmod(legacy, 0o700)
    mine = parent / ".out.backup12"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    assert _kill_when_writing(_start(hf_dir, out), parent, "out")
    assert not out.exists()  # untouched: it did not exist
    left = _hidden(parent)
    assert any(p.startswith(f".out.{od.TMP_MARK}") for p in left), left  # what a kill leaves...
    done = subprocess.run(["unilmv2-convert-hf", str(hf_dir), str(out)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    _whole(out)
    assert _hidden(parent) == [".out.backup12"]  # ...the rerun removes; the user's folder stays
    assert (mine / "notes.txt").read_text() == "mine"


def test_sigkill_with_force_leaves_the_old_out_dir_or_the_new_one(hf_dir, tmp_path):
    out = tmp_path / "out"
    done = subprocess.run(["unilmv2-convert-hf", str(hf_dir), str(out)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    (out / "marker").write_text("old")  # tells the old OUT_DIR from the new one
    outcomes = set()
    for delay in (0.0, 0.5, 2.0):
        killed = _kill_when_writing(_start(hf_dir, out, "--force"), tmp_path, "out", delay)
        _whole(out)  # whole at every kill point: the old one or the new one
        old = (out / "marker").exists()
        outcomes.add((killed, old))
        if not old:
            (out / "marker").write_text("old")
    assert (True, True) in outcomes, outcomes  # at least one kill came before the swap
    done = subprocess.run(["unilmv2-convert-hf", str(hf_dir), str(out), "--force"], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    _whole(out)
    assert not (out / "marker").exists()
    assert _hidden(tmp_path) == []


def test_a_second_run_on_the_same_out_dir_is_refused(tmp_path, capsys):
    out = tmp_path / "out"
    fd = os.open(tmp_path / f".out.{od.LOCK_MARK}", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        status, _ = od.write_out_dir("prog", str(out), str(tmp_path / "in"), "the input", False,
                                     lambda tmp: open(os.path.join(tmp, "f"), "w").close())
    finally:
        os.close(fd)
    assert status == 2 and "another run is writing" in capsys.readouterr().err
    assert not out.exists()
    status, _ = od.write_out_dir("prog", str(out), str(tmp_path / "in"), "the input", False,
                                 lambda tmp: open(os.path.join(tmp, "f"), "w").close())
    assert status == 0 and os.listdir(out) == ["f"] and _hidden(tmp_path) == []


def _filled(folder, text):
    folder.mkdir()
    (folder / "f").write_text(text)
    return folder


def test_replacement_without_rename_exchange_keeps_both_copies_at_every_step(tmp_path, monkeypatch):
    """Where renameat2(RENAME_EXCHANGE) is missing, OUT_DIR is renamed aside, then the new folder in:
    a crash between the two leaves both complete folders under names the next run removes."""
    out = _filled(tmp_path / "out", "old")
    monkeypatch.setattr(od, "exchange", lambda a, b: False)
    renames = []
    real_rename = os.rename

    def crash_on_second(a, b):
        renames.append((a, b))
        if len(renames) == 2:
            raise KeyboardInterrupt  # the process dies here
        real_rename(a, b)

    monkeypatch.setattr(od.os, "rename", crash_on_second)
    tmp = _filled(tmp_path / f".out.{od.TMP_MARK}new", "new")
    with pytest.raises(KeyboardInterrupt):
        od.put_in_place(str(tmp), str(out))
    monkeypatch.setattr(od.os, "rename", real_rename)
    aside = renames[0][1]
    assert os.path.basename(aside).startswith(f".out.{od.TMP_MARK}old-")
    assert open(os.path.join(aside, "f")).read() == "old" and (tmp / "f").read_text() == "new"
    assert sorted(od.remove_stale(str(tmp_path), "out")) == sorted([os.path.basename(aside), tmp.name])
    assert _hidden(tmp_path) == []


def test_replacement_is_one_atomic_exchange(tmp_path, monkeypatch):
    a, b = _filled(tmp_path / "a", "a"), _filled(tmp_path / "b", "b")
    if not od.exchange(str(a), str(b)):
        pytest.skip("renameat2(RENAME_EXCHANGE) is not available on this system")
    assert (a / "f").read_text() == "b" and (b / "f").read_text() == "a"
    out = _filled(tmp_path / "out", "old")
    tmp = _filled(tmp_path / f".out.{od.TMP_MARK}new", "new")
    calls = []
    real = od.exchange
    monkeypatch.setattr(od, "exchange", lambda x, y: calls.append((x, y)) or real(x, y))
    monkeypatch.setattr(od.os, "rename", lambda *args: pytest.fail(f"renamed {args} instead of exchanging"))
    od.put_in_place(str(tmp), str(out))
    assert calls == [(str(tmp), str(out))]
    assert (out / "f").read_text() == "new" and not tmp.exists() and _hidden(tmp_path) == []
