"""PMLM's PAR term never sees its answers, checked on token values (issue 10, fault 4).

A leak, precisely: a [P] of step k may attend (by the real attention rule) to a slot that stands
for the text position p of a masked token of step k or later (``positions == p``) and whose input
id equals the original id x[p]. A context word that merely equals some target elsewhere is not a
leak: only the slot of the very token being hidden counts. Examples come from the task's own
packer (``PMLMTask.packer()``) on a fairseq-preprocess style dictionary.
"""
import logging

import numpy as np
import pytest
import torch

from fairseq_unilmv2.masking import roles
from fairseq_unilmv2.masking.attention import role_attention_mask
from fairseq_unilmv2.masking.pmlm import pack_pmlm

from .test_pmlm_corruption import make_task


def leaks(ex):
    """Count (query [P], leaking slot) pairs of one packed example (see the module docstring)."""
    kind, step = torch.from_numpy(ex.kind)[None], torch.from_numpy(ex.step)[None]
    allowed = role_attention_mask(kind, step)[0].numpy()
    pseudo = np.flatnonzero(ex.kind == roles.PSEUDO)
    count = 0
    for q in pseudo:
        # answers hidden from q: (position, original id) of every span token of step >= step(q)
        hidden = {(int(ex.positions[r]), int(ex.target[r])) for r in pseudo if ex.step[r] >= ex.step[q]}
        seen = np.flatnonzero(allowed[q])
        count += sum((int(ex.positions[j]), int(ex.tokens[j])) in hidden for j in seen)
    return count


def sample(task, n_examples, length=40, seed=0):
    pack = task.packer()
    text_rng = np.random.default_rng(seed)
    bos, eos, unk = task.dictionary.bos(), task.dictionary.eos(), task.dictionary.unk()
    for i in range(n_examples):
        words = text_rng.integers(4, 14, size=length - 2)  # w0..w9 are ids 4..13
        words[text_rng.random(length - 2) < 0.05] = unk  # <unk> is maskable too
        yield pack(np.concatenate([[bos], words, [eos]]), np.random.default_rng([seed, i]))


def test_the_issue_example_is_counted(tmp_path):
    """tokens 10..15, spans {13,14} then {11}, 11 kept: the [P] predicting 11 reads it at position 1,
    and so do both [P]s of the earlier step (11 is a later step's answer): 3 leaks, by hand."""
    x = np.array([10, 11, 12, 13, 14, 15])
    M, P = 44, 45
    context = np.array([10, 11, 12, M, M, 15])  # 11 kept in its [M] slot
    ex = pack_pmlm(x, context, masked_pos=np.array([3, 4, 1]), step_of=np.array([0, 0, 1]), pseudo_idx=P, pad_idx=1)
    assert leaks(ex) == 3
    hidden = pack_pmlm(x, np.array([10, M, 12, M, M, 15]), np.array([3, 4, 1]), np.array([0, 0, 1]), P, 1)
    assert leaks(hidden) == 0


def test_default_pmlm_never_shows_a_par_prediction_its_answer(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        task = make_task(tmp_path)
    total, random_slots, kept_slots, chosen = 0, 0, 0, 0
    for ex in sample(task, 400):
        total += leaks(ex)
        n = int((ex.kind == roles.CONTEXT).sum())
        slot = ex.target[:n] != task.dictionary.pad()
        chosen += int(slot.sum())
        kept = slot & (ex.tokens[:n] == ex.target[:n])
        kept_slots += int(kept.sum())
        random_slots += int((slot & ~kept & (ex.tokens[:n] != task.mask_idx)).sum())
    assert total == 0
    assert task.corruption == (0.1, 0.1)  # BERT's 80/10/10, as for mlm and mpnet
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    # the random and the kept 10% are both there (so the draws that could hit the original were exercised)
    assert chosen > 2000 and 0.07 < random_slots / chosen < 0.13 and 0.07 < kept_slots / chosen < 0.13


@pytest.mark.parametrize("keep", [0.1, 0.5])
def test_kept_tokens_are_predicted_in_place_and_join_no_par_step(tmp_path, keep):
    """A kept token is not masked: the AE loss predicts it in its own slot (BERT's 10%), it gets
    no [P] and no appended original, and no [P] reads an answer however many are kept."""
    task = make_task(tmp_path, leave_unmasked_prob=keep, random_token_prob=0.0)
    kept_total = 0
    for ex in sample(task, 200):
        assert leaks(ex) == 0
        n = int((ex.kind == roles.CONTEXT).sum())
        slot = ex.target[:n] != task.dictionary.pad()
        kept = np.flatnonzero(slot & (ex.tokens[:n] == ex.target[:n]))
        masked = np.flatnonzero(slot & (ex.tokens[:n] == task.mask_idx))
        assert len(kept) + len(masked) == int(slot.sum())  # no random tokens asked for
        kept_total += len(kept)
        appended = ex.positions[n:][ex.kind[n:] == roles.PSEUDO]
        assert sorted(appended.tolist()) == masked.tolist()  # one [P] per masked token, none for kept ones
        originals = ex.kind[n:] == roles.ORIGINAL
        assert sorted(ex.positions[n:][originals].tolist()) == masked.tolist()
        # PAR targets are the masked tokens' originals
        assert (ex.target[n:][ex.kind[n:] == roles.PSEUDO] != task.dictionary.pad()).all()
    assert kept_total > 100


@pytest.mark.parametrize("objective", ["mlm", "mpnet"])
def test_no_pmlm_warning_for_other_objectives(tmp_path, caplog, objective):
    with caplog.at_level(logging.WARNING):
        task = make_task(tmp_path, objective=objective)
    assert task.corruption == (0.1, 0.1)  # BERT's and the official MPNet code's 80/10/10
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
