"""--no-repeat-ngram-size for --task unilm_seq2seq: the blocking rule on hand-written histories,
and fairseq's SequenceGenerator (as task.build_generator builds it) decoding a fake model whose
greedy path is worked out by hand. The pinned fairseq's CPU blocker bans nothing (it compares
the padded tail of the token buffer, upstream issue 5206); trained-model checks are in
test_generation_cli.py."""
import argparse

import pytest
import torch
from fairseq.data import Dictionary
from fairseq.models import FairseqDecoder, FairseqEncoder, FairseqEncoderDecoderModel

from fairseq_unilmv2.generation.ngram import banned_ngram_completions
from fairseq_unilmv2.tasks.unilm_seq2seq import UniLMSeq2SeqConfig, UniLMSeq2SeqTask

# The fake task's dictionary: 0 <s>, 1 <pad>, 2 </s>, 3 <unk>, 4..9 w1..w6,
# 10 madeupword0000, 11 madeupword0001 (fairseq-preprocess fillers), 12 <mask>, 13 <pseudo>.
W = {f"w{i}": 3 + i for i in range(1, 7)}
EOS, MADEUP0, MADEUP1, MASK, PSEUDO, V = 2, 10, 11, 12, 13, 14


def bans(generated, n, ignore=None):
    """The rule's bans as a set of (hypothesis, token) pairs."""
    g = torch.tensor(generated, dtype=torch.long).view(len(generated), -1)
    ign = None if ignore is None else torch.tensor(ignore, dtype=torch.long)
    hyp, tok = banned_ngram_completions(g, n, ign)
    return set(zip(hyp.tolist(), tok.tolist()))


# ---- the pure rule ----------------------------------------------------------------------------

def test_bigrams_ban_what_followed_the_last_token_before():
    # row 0: 5 6 7 5 6 -> last token 6 was followed by 7 once: ban 7
    # row 1: 4 5 4 6 4 -> last token 4 was followed by 5 and by 6: ban both
    # row 2: 4 5 6 7 8 -> 8 never seen before: nothing
    assert bans([[5, 6, 7, 5, 6], [4, 5, 4, 6, 4], [4, 5, 6, 7, 8]], 2) == {(0, 7), (1, 5), (1, 6)}


def test_trigrams_match_the_last_two_tokens():
    # row 0: 5 6 7 5 6 -> "5 6" was followed by 7: ban 7
    # row 1: 4 5 4 6 4 -> "6 4" never seen before: nothing (4 alone was, but n = 3)
    # row 2: 4 4 4 4   -> "4 4" followed by 4 (twice): ban 4
    assert bans([[5, 6, 7, 5, 6], [4, 5, 4, 6, 4], [9, 4, 4, 4, 4]], 3) == {(0, 7), (2, 4)}


def test_no_ban_before_a_complete_ngram_and_unigrams_ban_every_earlier_token():
    assert bans([[5, 6]], 3) == set()
    assert bans([[5]], 2) == set()
    assert bans(torch.zeros(2, 0, dtype=torch.long).tolist() or [[], []], 2) == set()
    assert bans([[5, 6, 5]], 1) == {(0, 5), (0, 6)}
    assert bans([[5, 6, 5]], 1, ignore=[5]) == {(0, 6)}


def test_ignore_words_exempt_completions_and_prefixes_as_in_s2s_ft():
    # s2s-ft get_dup_ngram_candidates: no ban when the last n-1 tokens hold an ignore word;
    # an ignore word as completion is never banned.
    # row 0, n=2, ". a . " history "7 5 7": last token 7 (.) is ignored -> nothing banned
    assert bans([[7, 5, 7]], 2, ignore=[7]) == set()
    # row 0, n=2, "5 7 5": 5 was followed by 7 (ignored completion) -> nothing banned
    assert bans([[5, 7, 5]], 2, ignore=[7]) == set()
    # without the ignore word both are bans
    assert bans([[7, 5, 7], [5, 7, 5]], 2) == {(0, 5), (1, 7)}
    # n=3, history "5 7 6 9 5 7 6 8 5 7": "5 7" was followed by 6 twice; 7 is in the prefix -> nothing
    assert bans([[5, 7, 6, 9, 5, 7, 6, 8, 5, 7]], 3, ignore=[7]) == set()
    # n=3, history "5 6 7 9 5 6 8 5 6": "5 6" was followed by 7 (ignored) and 8 -> ban 8 only
    assert bans([[5, 6, 7, 9, 5, 6, 8, 5, 6]], 3, ignore=[7]) == {(0, 8)}
    # rows are independent: the exemption of row 0 does not lift row 1's ban
    assert bans([[7, 5, 7], [4, 5, 4]], 2, ignore=[7]) == {(1, 5)}


def test_rule_rejects_bad_arguments():
    with pytest.raises(ValueError, match="n-gram size"):
        bans([[4, 5]], 0)
    with pytest.raises(ValueError, match="hypotheses, length"):
        banned_ngram_completions(torch.tensor([4, 5]), 2)


# ---- fairseq's SequenceGenerator, built by the task -------------------------------------------

class _Encoder(FairseqEncoder):
    def forward(self, src_tokens, src_lengths=None, **unused):
        return {"src_tokens": [src_tokens]}

    def reorder_encoder_out(self, encoder_out, new_order):
        return {"src_tokens": [encoder_out["src_tokens"][0].index_select(0, new_order)]}


class _FixedLogits(FairseqDecoder):
    """The same next-token logits whatever the prefix (so only the bans shape the output)."""

    def __init__(self, dictionary, logits):
        super().__init__(dictionary)
        self.logits = logits

    def forward(self, prev_output_tokens, encoder_out=None, **unused):
        b, t = prev_output_tokens.shape
        return self.logits.to(torch.float).expand(b, t, -1).clone(), {"attn": [None]}


def fake_task(ignore=""):
    d = Dictionary()
    for w in W:
        d.add_symbol(w)
    d.add_symbol("madeupword0000")
    d.add_symbol("madeupword0001")
    task = UniLMSeq2SeqTask(UniLMSeq2SeqConfig(data="unused", no_repeat_ngram_ignore=ignore), d)
    assert (task.mask_idx, task.pseudo_idx, task.random_high, len(d)) == (MASK, PSEUDO, MADEUP0, V)
    return task


def fake_model(task, logits):
    return FairseqEncoderDecoderModel(_Encoder(task.dictionary), _FixedLogits(task.dictionary, logits)).eval()


def gen_args(**kw):
    args = dict(beam=1, nbest=1, max_len_a=0, max_len_b=7, min_len=1, unnormalized=False, lenpen=1, unkpen=0,
                temperature=1.0, no_repeat_ngram_size=0, sampling=False, sampling_topk=-1, sampling_topp=-1.0)
    args.update(kw)
    return argparse.Namespace(**args)


def sources(task, n):
    """``n`` one-word sources (the fake model ignores them)."""
    src = torch.tensor([[task.dictionary.bos(), W["w1"], EOS]] * n)
    return {"id": torch.arange(n), "net_input": {"src_tokens": src, "src_lengths": torch.full((n,), 3)}}


def decode(task, logits, **kw):
    model = fake_model(task, logits)
    generator = task.build_generator([model], gen_args(**kw))
    hypos = generator.generate([model], sources(task, kw.pop("batch", 3)))
    return [[task.dictionary.string(h["tokens"]).split() for h in sent] for sent in hypos]


def ranked_logits():
    """w1 > w2 > ... > w6 >> </s>; everything else (specials, fillers, [M], [P]) far below."""
    logits = torch.full((V,), -20.0)
    for i in range(1, 7):
        logits[W[f"w{i}"]] = -float(i)
    logits[EOS] = -10.0
    return logits


def test_greedy_bigram_blocking_in_the_generator():
    # Hand-run greedy decoding (max 7 tokens), n=2, always taking the best unbanned word:
    # w1 | w1 (no bigram yet) | w2 (w1 w1 seen) | w1 | w3 (w1 w1, w1 w2 seen) | w1 | w4
    task = fake_task()
    expected = "w1 w1 w2 w1 w3 w1 w4".split()
    assert decode(task, ranked_logits(), no_repeat_ngram_size=2, batch=3) == [[expected]] * 3
    # and the control: without the flag the model repeats w1
    assert decode(task, ranked_logits(), batch=1) == [[["w1"] * 7]]


def test_greedy_trigram_blocking_in_the_generator():
    # n=3: w1 w1 | w1 ("w1 w1" has no trigram before) | "w1 w1" -> w1 seen: w2 | "w1 w2" new: w1 |
    # "w2 w1" new: w1 | "w1 w1" -> w1, w2 seen: w3
    task = fake_task()
    assert decode(task, ranked_logits(), no_repeat_ngram_size=3, batch=2) == [["w1 w1 w1 w2 w1 w1 w3".split()]] * 2


def test_ignore_word_may_repeat_in_the_generator():
    # ignore w2, n=2: w1 w1 | w2 (w1 w1 seen) | w1 (prefix w2 ignored) | "w1" -> w1 seen, w1 w2's
    # completion is ignored: w2 | w1 | w2
    task = fake_task(ignore="w2")
    assert decode(task, ranked_logits(), no_repeat_ngram_size=2, batch=1) == [["w1 w1 w2 w1 w2 w1 w2".split()]]
    # ignore w1: every bigram has w1 as prefix or completion, nothing is ever banned
    task = fake_task(ignore="w1")
    assert decode(task, ranked_logits(), no_repeat_ngram_size=2, batch=1) == [[["w1"] * 7]]


def test_beam_search_hypotheses_never_repeat_a_bigram():
    # beam 4, 2 sentences, 4 best each: all 8 hypotheses are free of repeated bigrams
    task = fake_task()
    out = decode(task, ranked_logits(), no_repeat_ngram_size=2, beam=4, nbest=4, batch=2)
    assert len(out) == 2 and all(len(sent) == 4 for sent in out)
    for sent in out:
        for hyp in sent:
            bigrams = list(zip(hyp, hyp[1:]))
            assert len(bigrams) == len(set(bigrams)), hyp


def test_unknown_ignore_symbol_is_an_error_naming_it():
    task = fake_task(ignore="w1 nosuchword")
    with pytest.raises(ValueError, match="'nosuchword' is not in the dictionary"):
        task.build_generator([fake_model(task, ranked_logits())], gen_args(no_repeat_ngram_size=2))


def test_blocker_reads_the_generated_tokens_of_fairseqs_buffer():
    # fairseq's buffer at step 4: BOS (= </s>) in column 0, 4 generated tokens, pad after.
    # row 0: w1 w2 w3 w1 -> w1 was followed by w2: ban w2
    # row 1: w2 </s> w4 w2 -> w2 was followed by </s> (a finished sampling row keeps going):
    #        </s> is never banned (it may be the only token left at the length limit)
    # every row: <s> (0) and the internal symbols 10..13 banned; pad/unk untouched by the blocker
    task = fake_task()
    generator = task.build_generator([fake_model(task, ranked_logits())], gen_args(no_repeat_ngram_size=2))
    w1, w2, w3, w4 = (W[f"w{i}"] for i in range(1, 5))
    tokens = torch.tensor([[EOS, w1, w2, w3, w1, 1, 1], [EOS, w2, EOS, w4, w2, 1, 1]])
    lprobs = torch.zeros(2, V)
    out = generator.repeat_ngram_blocker(tokens, lprobs, 2, 1, 4)
    banned = {(r, t) for r, t in zip(*torch.isinf(out).nonzero(as_tuple=True)) for r, t in [(r.item(), t.item())]}
    internal = {(r, t) for r in (0, 1) for t in (0, MADEUP0, MADEUP1, MASK, PSEUDO)}
    assert banned == internal | {(0, w2)}


def test_sampling_with_blocking_keeps_drawing_after_rows_finish():
    # w1, w2 and </s> equally likely: sampled rows finish early, fairseq keeps decoding them, and
    # their bigrams run out; the length limit then leaves </s> alone, which must stay allowed
    logits = torch.full((V,), -20.0)
    logits[[W["w1"], W["w2"], EOS]] = 0.0
    torch.manual_seed(0)
    task = fake_task()
    out = decode(task, logits, sampling=True, beam=20, nbest=20, no_repeat_ngram_size=2, batch=2)
    hyps = [h for sent in out for h in sent]
    assert len(out) == 2 and all(out)
    for hyp in hyps:
        bigrams = list(zip(hyp, hyp[1:]))
        assert len(bigrams) == len(set(bigrams)) and len(hyp) <= 5, hyp  # 4 distinct bigrams at most


def test_diverse_beam_groups_is_refused_with_the_alternative():
    task = fake_task()
    with pytest.raises(ValueError, match="--diversity-rate"):
        task.build_generator([fake_model(task, ranked_logits())], gen_args(beam=4, diverse_beam_groups=2))


@pytest.mark.parametrize("search", [dict(beam=1), dict(beam=3, nbest=3), dict(sampling=True, beam=4, nbest=4)],
                         ids=["greedy", "beam", "sampling"])
def test_hypothesis_left_without_any_token_ends_with_the_models_eos_score(search):
    # n=1 bans every word once used: after w1..w6 and <unk> nothing but </s> is left, which
    # --min-len 10 bans too. The hypothesis ends there (fairseq asserted "step < max_len"
    # in beam search; sampling drew from a row of zeros), scored with the model's own </s>.
    task = fake_task()
    logits = ranked_logits()
    torch.manual_seed(0)
    model = fake_model(task, logits)
    generator = task.build_generator([model], gen_args(no_repeat_ngram_size=1, min_len=10, max_len_b=12, **search))
    out = generator.generate([model], sources(task, 2))
    eos_score = torch.log_softmax(logits.float(), -1)[EOS]
    for sent in out:
        assert len(sent) == search.get("nbest", 1)
        for h in sent:
            words = task.dictionary.string(h["tokens"]).split()
            assert len(words) == len(set(words)) and len(words) <= 7, words
            assert h["tokens"][-1] == EOS and torch.isfinite(h["positional_scores"]).all()
            if len(words) == 7:  # every word used: </s> was the only way out
                assert h["positional_scores"][-1] == pytest.approx(eos_score.item(), abs=1e-5)
    if search["beam"] == 1:  # greedy; beam search ties every order of the same 7 tokens
        assert [task.dictionary.string(s[0]["tokens"]).split() for s in out] == [
            ["w1", "w2", "w3", "w4", "w5", "w6", "<unk>"]] * 2


def test_min_len_no_hypothesis_can_reach_is_refused_naming_the_flags():
    task = fake_task()
    model = fake_model(task, ranked_logits())
    with pytest.raises(ValueError, match=r"--min-len 9 is longer than any hypothesis may be: 7 tokens at most"):
        task.build_generator([model], gen_args(min_len=9, max_len_b=7))
    task.build_generator([model], gen_args(min_len=7, max_len_b=7))  # the longest allowed: accepted
