"""Beam search with the cached decoder, through fairseq's SequenceGenerator: a sentence decoded
alone equals the same sentence in a padded batch (target positions count from the true source
length; finished sentences leave the batch, which reorders the encoder states), and every
hypothesis' per-token scores equal a full forward pass over it (beam reordering of the cache)."""
import pytest
import torch
from fairseq.sequence_generator import SequenceGenerator

from .test_seq2seq_decoding import _model

EOS_BIAS = 0.3
SOURCES = [[0, 5, 9, 12, 7, 2], [0, 30, 31, 4, 8, 8, 21, 17, 6, 2], [0, 11, 2], [0, 19, 25, 33, 2]]


def _generate(model, d, sources, beam):
    src = torch.full((len(sources), max(map(len, sources))), d.pad())
    for i, s in enumerate(sources):
        src[i, : len(s)] = torch.tensor(s)
    sample = {"net_input": {"src_tokens": src, "src_lengths": src.ne(d.pad()).sum(1)}}
    gen = SequenceGenerator([model], d, beam_size=beam, max_len_a=0, max_len_b=12, min_len=2)
    with torch.no_grad():
        return gen.generate([model], sample)


def _full_scores(model, d, source, hypo_tokens):
    """Log-probabilities of ``hypo_tokens`` (ending in </s>) under teacher forcing."""
    src = torch.tensor([source])
    prev = torch.cat([torch.tensor([d.eos()]), hypo_tokens[:-1]]).unsqueeze(0)
    with torch.no_grad():
        logits = model(src, torch.tensor([len(source)]), prev)[0]
    lprobs = model.get_normalized_probs((logits, None), log_probs=True)[0]
    return lprobs.gather(1, hypo_tokens.unsqueeze(1)).squeeze(1)


@pytest.mark.parametrize("mode", ["pseudo", "causal"])
def test_alone_equals_in_padded_batch_and_scores_equal_full_pass(mode):
    model, d = _model(mode, seed=5)
    with torch.no_grad():  # make </s> likely enough that sentences finish at different steps
        model.transformer.lm_head.bias[d.eos()] = EOS_BIAS
    beam = 4
    batched = _generate(model, d, SOURCES, beam)
    lengths = set()
    for i, source in enumerate(SOURCES):
        alone = _generate(model, d, [source], beam)[0]
        assert [h["tokens"].tolist() for h in batched[i]] == [h["tokens"].tolist() for h in alone]
        for h, a in zip(batched[i], alone):
            torch.testing.assert_close(h["positional_scores"], a["positional_scores"], atol=1e-9, rtol=0)
            lengths.add(len(h["tokens"]))
            torch.testing.assert_close(h["positional_scores"], _full_scores(model, d, source, h["tokens"]),
                                       atol=1e-5, rtol=0)  # the generator keeps float32 scores
    assert len(lengths) > 1  # sentences finished at different steps: the batch shrank mid-search
