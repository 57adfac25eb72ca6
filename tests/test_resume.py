"""Exact resume: a 2-process job killed with SIGKILL mid-training, then the same command, resumes
from checkpoint_last.pt and reproduces the uninterrupted run update for update (every objective,
unilm_seq2seq; mid-epoch and at an epoch boundary); every checkpoint left on disk loads.

The uninterrupted run is 1 process with ``--update-freq 2``, so each case also shows that 2
processes train as 1 (same losses, same batches, same parameters after 10 updates). Runs go
through test_distributed's training server (forked ``fairseq-train``; see there).
"""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .test_distributed import (
    UPDATES_PER_EPOCH, assert_same_parameters, assert_same_updates, rank_argvs, rows_by_update, train_args,
    workspace,
)

# (task, objective, killed after update K, resumes at update R, extra flags). Checkpoints are
# written every 4 updates and at each epoch end (6 updates): after K = 9 the last is update 8
# (mid-epoch 2), after K = 7 it is the end of epoch 1 (update 6), after K = 5 update 4 (mid-epoch 1).
CASES = [
    ("pmlm", "pmlm", 9, 8, []),
    ("pmlm", "mlm", 7, 6, []),
    ("pmlm", "mpnet", 5, 4, []),
    ("pmlm", "maelm", 9, 8, []),
    ("unilm_seq2seq", None, 9, 8, ["--num-workers", "2"]),  # the data also from 2 worker processes
]


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    return workspace(tmp_path_factory)


@pytest.mark.parametrize("task, objective, killed_after, resumes_at, extra", CASES,
                         ids=[c[1] or c[0] for c in CASES])
def test_two_processes_killed_then_resumed_equal_one_uninterrupted_process(ws, task, objective, killed_after,
                                                                            resumes_at, extra):
    reference, ref_save = ws.reference(task, objective)
    save = ws.save_dir(f"resume-{objective or task}")
    ranks = rank_argvs(train_args(task, objective, "--save-dir", str(save), *extra))
    codes, out = ws.server.run(ranks, ws.root, die_after=killed_after)
    assert codes == [-9, -9], out[-3000:]  # both ranks died of SIGKILL
    assert_same_updates(rows_by_update(out), reference, range(1, killed_after + 1))
    assert_every_checkpoint_loads(save, last_update=resumes_at)

    codes, out = ws.server.run(ranks, ws.root)  # the same command
    assert codes == [0, 0], out[-3000:]
    epoch = resumes_at // UPDATES_PER_EPOCH + 1  # an epoch-end checkpoint resumes at the next epoch's start
    assert f"Loaded checkpoint {save}/checkpoint_last.pt (epoch {epoch} @ {resumes_at} updates)" in out
    assert_same_updates(rows_by_update(out), reference, range(resumes_at + 1, 11))
    assert_same_parameters(save, ref_save)


def assert_every_checkpoint_loads(save, last_update):
    """Each .pt file in ``save`` loads with fairseq's loader and holds the update its name says."""
    import fairseq_unilmv2  # noqa: F401  (the safe checkpoint loader)
    from fairseq import checkpoint_utils

    names = sorted(p.name for p in Path(save).glob("*.pt"))
    assert "checkpoint_last.pt" in names and not list(Path(save).glob("*.tmp")), names
    for name in names:
        state = checkpoint_utils.load_checkpoint_to_cpu(str(Path(save) / name))
        updates = state["optimizer_history"][-1]["num_updates"]
        match = re.fullmatch(r"checkpoint_\d+_(\d+)\.pt", name)
        if match:
            assert updates == int(match.group(1)), name
        if name == "checkpoint_last.pt":
            assert updates == last_update


def test_a_checkpoint_copy_killed_half_way_leaves_the_previous_checkpoint_last(ws, tmp_path, monkeypatch):
    """fairseq writes a save's first checkpoint atomically but copies it to checkpoint_last.pt
    (and _best) in place: a kill during that copy left a truncated checkpoint_last.pt, which the
    next run could not load. The tasks make the copy write a temporary file and rename it."""
    from fairseq.file_io import PathManager
    from omegaconf import OmegaConf

    from fairseq_unilmv2.tasks.pmlm import PMLMTask, PMLMTaskConfig

    cfg = OmegaConf.structured(PMLMTaskConfig(data=str(ws.root / "bin"), seed=1, train_subset="train"))
    PMLMTask.setup_task(cfg)  # what fairseq-train does first
    new, last = tmp_path / "checkpoint_2_8.pt", tmp_path / "checkpoint_last.pt"
    new.write_bytes(b"new checkpoint " * 1000)
    last.write_bytes(b"previous checkpoint")

    def killed_half_way(src, dst, *args, **kwargs):
        Path(dst).write_bytes(Path(src).read_bytes()[:500])
        raise KeyboardInterrupt  # stands for the process dying here

    monkeypatch.setattr(shutil, "copyfile", killed_half_way)
    with pytest.raises(KeyboardInterrupt):
        PathManager.copy(str(new), str(last), overwrite=True)
    assert last.read_bytes() == b"previous checkpoint"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint_2_8.pt", "checkpoint_last.pt"]
    monkeypatch.undo()
    # a copy killed with SIGKILL leaves its temporary file: the next copy removes it (its process
    # is gone), not one of a process still running
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f"checkpoint_last.pt.{dead.pid}.tmp"
    alive = tmp_path / f"checkpoint_last.pt.{os.getppid()}.tmp"
    stale.write_bytes(b"partial")
    alive.write_bytes(b"being written")
    assert PathManager.copy(str(new), str(last), overwrite=True)
    assert last.read_bytes() == new.read_bytes()
    assert not stale.exists() and alive.exists()
