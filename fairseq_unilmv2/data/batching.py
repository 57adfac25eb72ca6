"""Batching that trains on every example, with each epoch's masks, every epoch.

fairseq ``main`` (``data_utils.batch_by_size``, which ``fairseq-fixed`` packages) drops the last
batch when its size is not a multiple of ``--required-batch-size-multiple`` (default 8). Batches
are built once from a length-sorted order, so the same longest examples are never trained on
(e.g. 100 pairs, ``--batch-size 16``: 6 batches of 16 and 4 examples never seen). Every other
batch stays a multiple, as the flag intends; only the remainder is given back as one last batch.
"""
from typing import List

import numpy as np
from fairseq.data import FairseqDataset


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
