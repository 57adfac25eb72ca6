"""fairseq's checkpoint loader works under torch's weights_only default, and stays safe."""
import argparse
import pickle

import numpy as np
import pytest
import torch

import fairseq_unilmv2  # noqa: F401  (installs the safe loader)
from fairseq import checkpoint_utils


class _RunsCode:
    """Unpickling this calls a function chosen by the file's author."""

    def __reduce__(self):
        return (exec, ("import pathlib; pathlib.Path(__file__ if False else TARGET).write_text('pwned')",
                       {"TARGET": str(_RunsCode.target)}))


def _legacy_checkpoint(path):
    """What fairseq checkpoints contain beyond tensors: an argparse Namespace and numpy data."""
    state = {
        "args": argparse.Namespace(arch="unilmv2_tiny", task="pmlm", lr=[1e-4]),
        "cfg": None,
        "model": {"w": torch.ones(2)},
        "extra_state": {"best": np.float64(3.25), "rng": np.random.RandomState(0).get_state(),
                        "counts": np.arange(4, dtype=np.int32)},
        "optimizer_history": [{"criterion_name": "PMLMCriterion", "optimizer_name": "Adam",
                               "lr_scheduler_state": {"best": np.float64(3.25)}, "num_updates": 7}],
    }
    torch.save(state, path)


def test_fairseq_loader_reads_namespace_and_numpy(tmp_path):
    path = tmp_path / "legacy.pt"
    _legacy_checkpoint(path)
    state = checkpoint_utils.load_checkpoint_to_cpu(str(path))
    assert state["args"].arch == "unilmv2_tiny"
    assert state["extra_state"]["best"] == 3.25
    assert state["extra_state"]["counts"].tolist() == [0, 1, 2, 3]


def test_safety_stays_on_outside_the_loader(tmp_path):
    path = tmp_path / "legacy.pt"
    _legacy_checkpoint(path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path)  # plain torch.load keeps weights_only=True


@pytest.mark.parametrize("where", ["top", "nested"])
def test_malicious_checkpoint_is_refused_and_runs_nothing(tmp_path, where):
    _RunsCode.target = tmp_path / "pwned.txt"
    payload = _RunsCode()
    state = {"model": {}, "args": None, "cfg": None}
    if where == "top":
        state["extra_state"] = payload
    else:
        state["args"] = argparse.Namespace(evil=payload)  # hidden inside an allowed class
    path = tmp_path / "evil.pt"
    torch.save(state, path)
    # Sanity: the payload does run when safety is off, so "nothing ran" below means something.
    torch.load(path, weights_only=False)
    assert _RunsCode.target.read_text() == "pwned"
    _RunsCode.target.unlink()

    with pytest.raises(pickle.UnpicklingError):
        checkpoint_utils.load_checkpoint_to_cpu(str(path))
    assert not _RunsCode.target.exists()
