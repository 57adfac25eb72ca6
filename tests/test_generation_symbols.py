"""Generation never emits the task's internal symbols (<pseudo>, <mask>, fairseq-preprocess's
madeupwordNNNN fillers), with beam search and with sampling, whatever the model prefers; <unk>
keeps fairseq's --unkpen semantics. A fake model that ranks the internal symbols first shows it
(trained-model checks are in test_generation_cli.py)."""
import torch

from .test_generation_ngram import EOS, MADEUP0, MADEUP1, MASK, PSEUDO, V, W, decode, fake_task

INTERNAL = {"<pseudo>", "<mask>", "madeupword0000", "madeupword0001"}


def internal_first_logits():
    """[P] > [M] > fillers > w1 > w2 > </s> > <unk>; what a model that never saw [P]/[M] as a
    target, or a fresh output layer, can well prefer."""
    logits = torch.full((V,), -20.0)
    logits[PSEUDO], logits[MASK], logits[MADEUP0], logits[MADEUP1] = 0.0, -0.5, -1.0, -1.0
    logits[W["w1"]], logits[W["w2"]], logits[EOS], logits[3] = -2.0, -2.5, -3.0, -3.5
    return logits


def test_beam_search_bans_internal_symbols_at_every_step():
    task = fake_task()
    out = decode(task, internal_first_logits(), beam=3, nbest=3, batch=2)
    # the best hypothesis is the best ordinary word at every step, up to the length limit
    assert [sent[0] for sent in out] == [["w1"] * 7] * 2
    for sent in out:
        for hyp in sent:
            assert not INTERNAL & set(hyp), hyp


def test_sampling_never_draws_internal_symbols():
    # 2 sentences x 20 draws x up to 7 tokens; the internal symbols hold ~80% of the mass,
    # so fairseq's stock generator draws them in nearly every token
    torch.manual_seed(0)
    task = fake_task()
    out = decode(task, internal_first_logits(), sampling=True, beam=20, nbest=20, batch=2)
    drawn = [tok for sent in out for hyp in sent for tok in hyp]
    assert len(drawn) >= 40
    assert not INTERNAL & set(drawn)
    assert {"w1", "w2"} <= set(drawn)  # the draws are still random among what is allowed


def test_unk_penalty_still_applies():
    # <unk> is not banned: with --unkpen -10 (a bonus) it wins every step, as in fairseq
    task = fake_task()
    assert decode(task, internal_first_logits(), unkpen=-10, batch=1) == [[["<unk>"] * 7]]
    assert decode(task, internal_first_logits(), unkpen=0, batch=1) == [[["w1"] * 7]]
