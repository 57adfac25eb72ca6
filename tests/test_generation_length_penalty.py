"""--length-penalty-formula gnmt: s2s-ft's final ranking, ((5 + length) / 6) ** alpha (GNMT),
against fairseq's length ** lenpen, on a beam worked out by hand."""
import math

import pytest
import torch
from fairseq.models import FairseqDecoder, FairseqEncoderDecoderModel

from fairseq_unilmv2.generation.length_penalty import gnmt_penalty, rerank_gnmt

from .test_generation_ngram import EOS, V, W, _Encoder, fake_task, gen_args, sources


def test_gnmt_penalty_values():
    assert gnmt_penalty(1, 1.0) == 1.0  # (5 + 1) / 6
    assert gnmt_penalty(7, 1.0) == 2.0
    assert gnmt_penalty(7, 0.0) == 1.0  # alpha 0: the raw sum
    assert gnmt_penalty(13, 0.5) == pytest.approx(math.sqrt(3.0))


def test_rerank_divides_the_summed_log_probability_and_sorts():
    # A: 2 tokens, sum -1.0 -> -1 / (7/6) = -0.857; B: 4 tokens, sum -1.6 -> -1.6 / 1.5 = -1.067
    a = {"tokens": torch.tensor([4, 2]), "score": torch.tensor(-1.0)}
    b = {"tokens": torch.tensor([4, 4, 4, 2]), "score": torch.tensor(-1.6)}
    out = rerank_gnmt([[b, a]], alpha=1.0)
    assert [h["tokens"].numel() for h in out[0]] == [2, 4]
    assert float(out[0][0]["score"]) == pytest.approx(-6 / 7)
    assert float(out[0][1]["score"]) == pytest.approx(-1.6 / 1.5)


class _StepLogits(FairseqDecoder):
    """Next-token log-probabilities that depend on the step only (row t for the (t+1)-th token)."""

    def __init__(self, dictionary, rows):
        super().__init__(dictionary)
        self.rows = rows

    def forward(self, prev_output_tokens, encoder_out=None, **unused):
        b, t = prev_output_tokens.shape
        out = torch.stack([self.rows[min(i, len(self.rows) - 1)] for i in range(t)])
        return out.unsqueeze(0).expand(b, t, -1).clone(), {"attn": [None]}


def _row(**logprobs):
    r = torch.full((V,), -30.0)
    for k, v in logprobs.items():
        r[EOS if k == "eos" else W[k]] = v
    return r


# Beam 2, worked by hand (log-probabilities; every other symbol at -30 changes them by < 1e-11):
#   step 0: w1 -0.313, w2 -1.313 (</s> banned: min_len 1)        -> beams [w1] -0.313, [w2] -1.313
#   step 1: </s> -0.687, w1 -0.799, w2 -3.058: best candidate [w1 </s>] -1.000 is finished (A);
#           beams [w1 w1] -1.112, [w2 w1] -2.112
#   step 2: w1 -0.488, w2 -0.970, </s> -4.96: beams [w1 w1 w1] -1.600, [w1 w1 w2] -2.082
#   step 3: </s> ~0: [w1 w1 w1 </s>] -1.600 finishes (B), the second finished hypothesis: done.
# fairseq, lenpen 1: A -1.0 / 2 = -0.500, B -1.6 / 4 = -0.400 -> B first.
# GNMT, alpha 1:     A -1.0 / (7/6) = -0.857, B -1.6 / (9/6) = -1.067 -> A first.
ROWS = [_row(w1=-0.313, w2=-1.313), _row(eos=-0.687, w1=-0.799, w2=-3.058),
        _row(w1=-0.488, w2=-0.970, eos=-4.96), _row(eos=5.0)]


@pytest.mark.parametrize("formula,expected", [
    ("fairseq", [("w1 w1 w1", -0.400), ("w1", -0.500)]),
    ("gnmt", [("w1", -1.0 / (7 / 6)), ("w1 w1 w1", -1.6 / 1.5)]),
])
def test_beam_search_ranks_by_the_chosen_formula(formula, expected):
    task = fake_task()
    task.cfg.length_penalty_formula = formula
    model = FairseqEncoderDecoderModel(_Encoder(task.dictionary), _StepLogits(task.dictionary, ROWS)).eval()
    generator = task.build_generator([model], gen_args(beam=2, nbest=2, lenpen=1.0, max_len_b=6))
    hypos = generator.generate([model], sources(task, 1))[0]
    got = [(task.dictionary.string(h["tokens"]), float(h["score"])) for h in hypos]
    assert [g[0] for g in got] == [e[0] for e in expected]
    for (_, score), (_, want) in zip(got, expected):
        assert score == pytest.approx(want, abs=2e-3)
