"""``--num-workers 2`` gives the batches and masks of ``--num-workers 0``: every epoch, and after
a mid-epoch resume; and an epoch's worker processes end with the epoch. The batches come from the
task's ``get_batch_iterator`` and fairseq's ``EpochBatchIterator`` as ``fairseq-train`` builds them
(a new iterator each epoch, ``--data-buffer-size 10``, DataLoader workers forked from this process)."""
import multiprocessing
import time

import pytest
import torch
from omegaconf import OmegaConf

from fairseq_unilmv2.tasks.pmlm import PMLMTask, PMLMTaskConfig
from fairseq_unilmv2.tasks.unilm_seq2seq import UniLMSeq2SeqConfig, UniLMSeq2SeqTask

from .test_distributed import workspace

BATCHES = 11  # 87 blocks / 88 pairs in batches of 8 (test_distributed's corpus)


@pytest.fixture(scope="module")
def tasks(tmp_path_factory):
    root = workspace(tmp_path_factory).root
    pmlm = PMLMTask.setup_task(OmegaConf.structured(PMLMTaskConfig(
        data=str(root / "bin"), tokens_per_sample=64, seed=7, train_subset="train")))
    seq2seq = UniLMSeq2SeqTask.setup_task(OmegaConf.structured(UniLMSeq2SeqConfig(
        data=str(root / "bin_s2s"), max_source_positions=40, max_target_positions=16, seed=7,
        train_subset="train")))
    for task in (pmlm, seq2seq):
        task.load_dataset("train")
    return {"pmlm": pmlm, "unilm_seq2seq": seq2seq}


def epoch_batches(task, epoch, num_workers, skip=0):
    """The training batches of ``epoch`` as fairseq-train draws them; ``skip``: resume after that
    many batches (the iterator state a mid-epoch checkpoint holds)."""
    itr = task.get_batch_iterator(task.dataset("train"), max_sentences=8, seed=7, epoch=epoch,
                                  num_workers=num_workers, required_batch_size_multiple=8, data_buffer_size=10)
    if skip:
        itr.load_state_dict({"version": 2, "epoch": epoch, "iterations_in_epoch": skip, "shuffle": True})
    batches = list(itr.next_epoch_itr(shuffle=True))
    # The drained epoch's workers end (the buffer's thread ends them after the last batch). Kept
    # alive (fairseq's persistent_workers default), they stalled training 5 s each when the
    # finished iterator was garbage-collected.
    deadline = time.monotonic() + 3
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert multiprocessing.active_children() == []
    return batches


def assert_equal(a, b, where=""):
    assert type(a) is type(b), where
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            assert_equal(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_equal(x, y, f"{where}[{i}]")
    elif torch.is_tensor(a):
        assert torch.equal(a, b), where
    else:
        assert a == b, where


@pytest.mark.parametrize("name, noised", [("pmlm", "net_input"), ("unilm_seq2seq", "train_net_input")])
def test_two_workers_give_the_batches_and_masks_of_none(tasks, name, noised):
    task = tasks[name]
    epochs = {}
    for epoch in (1, 2):
        alone = epoch_batches(task, epoch, 0)
        workers = epoch_batches(task, epoch, 2)
        assert len(alone) == BATCHES
        assert_equal(workers, alone, f"epoch {epoch}")
        # resumed after 4 batches with workers: the rest of the same epoch
        assert_equal(epoch_batches(task, epoch, 2, skip=4), alone[4:], f"epoch {epoch} resumed")
        epochs[epoch] = alone
    # the comparison is about masks: each epoch draws new ones for the same batches (built once,
    # their order shuffled per epoch)
    key = "src_tokens" if name == "pmlm" else "prev_output_tokens"
    second = {tuple(b["id"].tolist()): b[noised][key] for b in epochs[2]}
    for batch in epochs[1]:
        assert not torch.equal(batch[noised][key], second[tuple(batch["id"].tolist())])
