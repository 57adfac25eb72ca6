"""``--criterion pmlm``'s numbers against a hand count: a fake model gives each prediction a known
probability of its target, so every logged value is a sum of log2 of powers of two."""
import math

import numpy as np
import pytest
import torch
from fairseq import metrics

from fairseq_unilmv2.criterions.pmlm import PMLMCriterion
from fairseq_unilmv2.masking import roles
from fairseq_unilmv2.masking.pmlm import pack_pmlm

from .test_pmlm_corruption import make_task

M, P, PAD = 16, 17, 1  # make_task's [M], [P], <pad>


class KnownProbabilities(torch.nn.Module):
    """Stands in for UniLMv2Model: at each predicted slot, probability ``prob[b, slot]`` on the
    slot's target and the rest spread evenly over the other ids."""

    def __init__(self, target, prob, vocab_size):
        super().__init__()
        self.target, self.prob, self.vocab_size = target, prob, vocab_size

    def forward(self, src_tokens, positions, attn_mask, segments=None, masked_tokens=None):
        assert attn_mask.shape == (*src_tokens.shape, src_tokens.size(1))
        p = self.prob[masked_tokens].double()
        rest = ((1 - p) / (self.vocab_size - 1)).unsqueeze(1)
        dist = rest.repeat(1, self.vocab_size)
        dist.scatter_(1, self.target[masked_tokens].unsqueeze(1), p.unsqueeze(1))
        return dist.log()


def _sample(examples, probs):
    """Collate packed examples (right padding) with a probability per slot (dict slot -> p)."""
    length = max(len(e.tokens) for e in examples)

    def pad(values, fill):
        out = torch.full((len(examples), length), fill, dtype=torch.long)
        for i, v in enumerate(values):
            out[i, : len(v)] = torch.as_tensor(np.asarray(v))
        return out

    target = pad([e.target for e in examples], PAD)
    prob = torch.ones(target.shape, dtype=torch.float64)
    for b, table in enumerate(probs):
        for slot, p in table.items():
            assert target[b, slot] != PAD, f"slot {slot} of example {b} predicts nothing"
            prob[b, slot] = p
    sample = {
        "ntokens": 0, "nsentences": len(examples), "target": target,
        "net_input": {"src_tokens": pad([e.tokens for e in examples], PAD),
                      "positions": pad([e.positions for e in examples], 0),
                      "kind": pad([e.kind for e in examples], roles.PAD),
                      "step": pad([e.step for e in examples], -1)},
    }
    return sample, prob


def _logged(logging_output):
    with metrics.aggregate() as agg:
        PMLMCriterion.reduce_metrics([logging_output])
        return {k: v for k, v in agg.get_smoothed_values().items()}


def _pmlm_batch():
    # example 0: <s> 5 6 7 </s>, spans {1} then {3}:  <s> [M] 6 [M] </s> | [P]1 5 | [P]3 7
    #   slots: [M] 1, [M] 3, [P] 5 (step 0, predicts 5), [P] 7 (step 1, predicts 7)
    ex0 = pack_pmlm(np.array([0, 5, 6, 7, 2]), np.array([0, M, 6, M, 2]), np.array([1, 3]), np.array([0, 1]), P, PAD)
    # example 1: <s> 8 9 </s>, one span {1, 2}:  <s> [M] [M] </s> | [P] [P] 8 9
    #   slots: [M] 1, [M] 2, [P] 4 and [P] 5 (predict 8, 9)
    ex1 = pack_pmlm(np.array([0, 8, 9, 2]), np.array([0, M, M, 2]), np.array([1, 2]), np.array([0, 0]), P, PAD)
    assert ex0.kind.tolist()[5] == roles.PSEUDO and ex1.kind.tolist()[4:6] == [roles.PSEUDO] * 2
    # AE ([M]) probabilities 1/2, 1/4, 1/2, 1/8; PAR ([P]) probabilities 1/16, 1/4, 1/32, 1/2
    probs = [{1: 1 / 2, 3: 1 / 4, 5: 1 / 16, 7: 1 / 4}, {1: 1 / 2, 2: 1 / 8, 4: 1 / 32, 5: 1 / 2}]
    return _sample([ex0, ex1], probs)


def test_pmlm_losses_by_hand(tmp_path):
    task = make_task(tmp_path)
    sample, prob = _pmlm_batch()
    model = KnownProbabilities(sample["target"], prob, len(task.dictionary))
    loss, sample_size, log = PMLMCriterion(task)(model, sample)
    # 4 masked text tokens ([M] count), each predicted twice (AE on [M], PAR on [P])
    assert sample_size == 4
    # AE bits: 1 + 2 + 1 + 3 = 7; PAR bits: 4 + 2 + 5 + 1 = 12; loss in nats = 19 ln 2
    assert loss.item() == pytest.approx(19 * math.log(2))
    logged = _logged(log)
    assert logged["ae_loss"] == pytest.approx(7 / 4)  # bits per masked token
    assert logged["par_loss"] == pytest.approx(12 / 4)
    assert logged["loss"] == pytest.approx(19 / 4)


def test_kept_tokens_are_ae_only_and_par_loss_is_per_par_prediction(tmp_path):
    """<s> 5 6 7 </s>, 5 masked (step 0), 7 kept: AE predicts 5 at its [M] and 7 in its own slot,
    PAR predicts 5 alone; par_loss is per PAR prediction, ae_loss and loss per chosen token."""
    ex = pack_pmlm(np.array([0, 5, 6, 7, 2]), np.array([0, M, 6, 7, 2]), np.array([1]), np.array([0]), P, PAD)
    ex.target[3] = 7  # what build_pmlm_example adds for a kept token
    assert ex.tokens.tolist() == [0, M, 6, 7, 2, P, 5]  # no [P] and no appended original for 7
    sample, prob = _sample([ex], [{1: 1 / 2, 3: 1 / 8, 5: 1 / 4}])
    task = make_task(tmp_path)
    model = KnownProbabilities(sample["target"], prob, len(task.dictionary))
    loss, sample_size, log = PMLMCriterion(task)(model, sample)
    assert sample_size == 2  # two chosen tokens, the AE term's predictions
    assert loss.item() == pytest.approx((1 + 3 + 2) * math.log(2))
    logged = _logged(log)
    assert logged["ae_loss"] == pytest.approx(4 / 2)
    assert logged["par_loss"] == pytest.approx(2 / 1)  # one PAR prediction, not two
    assert logged["loss"] == pytest.approx(6 / 2)


def test_pmlm_weights_scale_the_loss_not_the_logged_terms(tmp_path):
    task = make_task(tmp_path)
    sample, prob = _pmlm_batch()
    model = KnownProbabilities(sample["target"], prob, len(task.dictionary))
    loss, sample_size, log = PMLMCriterion(task, ae_weight=2.0, par_weight=0.5)(model, sample)
    assert sample_size == 4
    assert loss.item() == pytest.approx((2 * 7 + 0.5 * 12) * math.log(2))  # 20 bits
    logged = _logged(log)
    assert (logged["ae_loss"], logged["par_loss"], logged["loss"]) == pytest.approx((7 / 4, 12 / 4, 20 / 4))


def test_other_objectives_normalise_by_their_predictions(tmp_path):
    """mlm: <s> [M] 6 [M] </s> with targets 5 and 7 at probabilities 1/4 and 1/8: 5 bits / 2."""
    task = make_task(tmp_path, objective="mlm")
    from fairseq_unilmv2.masking.example import PackedExample

    ex = PackedExample(tokens=np.array([0, M, 6, M, 2]), positions=np.arange(5), kind=np.zeros(5, dtype=np.int64),
                       step=np.full(5, -1), target=np.array([PAD, 5, PAD, 7, PAD]))
    short = PackedExample(tokens=np.array([0, M, 2]), positions=np.arange(3), kind=np.zeros(3, dtype=np.int64),
                          step=np.full(3, -1), target=np.array([PAD, 9, PAD]))
    sample, prob = _sample([ex, short], [{1: 1 / 4, 3: 1 / 8}, {1: 1 / 2}])
    model = KnownProbabilities(sample["target"], prob, len(task.dictionary))
    loss, sample_size, log = PMLMCriterion(task)(model, sample)
    assert sample_size == 3  # the padding slot of the short example is not a prediction
    logged = _logged(log)
    assert logged["loss"] == pytest.approx(6 / 3) and "ae_loss" not in logged and "par_loss" not in logged
