"""Batching that trains on every example, with each epoch's masks, every epoch, without stalls
between epochs when the data comes from DataLoader workers (``--num-workers``).

fairseq ``main`` (``data_utils.batch_by_size``, which ``fairseq-fixed`` packages) drops the last
batch when its size is not a multiple of ``--required-batch-size-multiple`` (default 8). Batches
are built once from a length-sorted order, so the same longest examples are never trained on
(e.g. 100 pairs, ``--batch-size 16``: 6 batches of 16 and 4 examples never seen). Every other
batch stays a multiple, as the flag intends; only the remainder is given back as one last batch.

Workers: fairseq's ``get_batch_iterator`` gives each epoch a new ``EpochBatchIterator`` here (see
``can_reuse_epoch_itr_across_epochs``), whose DataLoader keeps its worker processes alive after
the epoch unless the task's config says ``persistent_workers: false``. The finished iterator
sits in a reference cycle (its ``FrozenBatchSampler`` holds a bound method of it), so Python frees
it only in a garbage collection, where torch's shutdown of the kept workers waits 5 s per worker
for an answer that never comes (its queues are already finalized): with ``--num-workers 2``, 40
epochs of 6 updates took 127.7 s instead of 3.7 s with ``--num-workers 0`` (measured; 10 s stalls
every other epoch). Without persistent workers the DataLoader ends them itself when the epoch's
batches are drained, before anything is garbage, so the tasks default to that.
"""
from dataclasses import field
from typing import List

import numpy as np
from fairseq.data import FairseqDataset


def persistent_workers_field():
    """The ``persistent_workers`` task option that fairseq's ``get_batch_iterator`` reads from the
    task config (``getattr(self.cfg, "persistent_workers", True)``); default False, see above."""
    return field(
        default=False,
        metadata={"help": "keep the --num-workers DataLoader processes of an epoch alive after it (fairseq's "
                  "default). Off here: every epoch gets a new iterator (its masks need it), and the kept "
                  "workers of a finished one stall training 5 s each when Python frees them"},
    )


def restore_dropped_examples(batches: List[np.ndarray], indices: np.ndarray) -> List[np.ndarray]:
    """Append, as one last batch, the ``indices`` that ``batches`` lost (in ``indices``' order).

    ``batches``: index arrays from fairseq's ``batch_by_size``; ``indices``: what it was given.
    Returns ``batches`` itself when nothing was dropped.
    """
    batched = sum(len(b) for b in batches)
    if batched == len(indices):
        return batches
    # fairseq cuts batches from ``indices`` in order and drops only the last one
    head = np.concatenate(batches) if batches else np.empty(0, dtype=np.int64)
    if not np.array_equal(head, np.asarray(indices[:batched])):
        raise AssertionError("batch_by_size reordered the indices; cannot tell which ones it dropped")
    return list(batches) + [np.asarray(indices[batched:], dtype=np.int64)]


class EveryExampleDataset(FairseqDataset):
    """A ``FairseqDataset`` whose batches cover all the indices given to ``batch_by_size``, and
    whose items depend on the epoch (masks and noise drawn from (seed, epoch, index))."""

    @property
    def can_reuse_epoch_itr_across_epochs(self):
        # No: fairseq would then keep one DataLoader, whose persistent worker processes hold
        # their own copy of the dataset, and ``set_epoch`` reaches only the main process's copy:
        # with --num-workers >= 1 every epoch would repeat epoch 1's masks. A new iterator per
        # epoch starts its workers after ``set_epoch`` (batches are rebuilt, from the same order).
        return False

    def batch_by_size(self, indices, max_tokens=None, max_sentences=None, required_batch_size_multiple=1):
        batches = super().batch_by_size(indices, max_tokens, max_sentences, required_batch_size_multiple)
        return restore_dropped_examples(batches, indices)
