"""``--mask-whole-words``: word starts from both vocabularies, spans that never start or end
inside a word for every objective, the token budget, seeded reproducibility, and PMLM's
attention and leakage guarantees with it on.

The text is real (the Lee corpus), cut into subwords of at most 3 letters and written in each
vocabulary's notation (SentencePiece ``▁new s``, WordPiece ``new ##s``), so that words of 1 to
6 subwords occur without training a tokenizer.
"""
import numpy as np
import pytest
import torch
from fairseq.data import Dictionary

from fairseq_unilmv2.data.objective_dataset import ObjectiveDataset
from fairseq_unilmv2.masking import roles
from fairseq_unilmv2.masking.attention import role_attention_mask
from fairseq_unilmv2.masking.spans import SpanConfig, sample_word_spans
from fairseq_unilmv2.masking.words import SENTENCEPIECE, WORDPIECE, word_start_table
from fairseq_unilmv2.tasks.pmlm import PMLMTask, PMLMTaskConfig

from .helpers import lee_corpus_lines
from .test_pmlm_leak import leaks

OBJECTIVES = ["pmlm", "mlm", "mpnet", "maelm"]
PAD = 1


def _pieces(word, scheme):
    parts = [word[i : i + 3] for i in range(0, len(word), 3)]
    if scheme == SENTENCEPIECE:
        return ["\u2581" + parts[0]] + parts[1:]
    return parts[:1] + ["##" + p for p in parts[1:]]


def _corpus(tmp_path, scheme, lines=60):
    """A dict.txt of the Lee corpus in ``scheme``'s notation, and its first ``lines`` documents as
    id arrays (<s> ... </s>), each with the true word start of every token."""
    docs = [[_pieces(w, scheme) for w in line.split()] for line in lee_corpus_lines()[:lines]]
    d = Dictionary()
    for doc in docs:
        for word in doc:
            for piece in word:
                d.add_symbol(piece)
    d.finalize(padding_factor=8)
    d.save(str(tmp_path / "dict.txt"))
    d = Dictionary.load(str(tmp_path / "dict.txt"))
    encoded = []
    for doc in docs[:lines]:
        ids = [d.index(p) for word in doc for p in word][:126]
        starts = [i == 0 for word in doc for i in range(len(word))][:126]
        encoded.append((np.array([d.bos()] + ids + [d.eos()]), np.array([True] + starts + [True])))
    return encoded


class _Blocks(list):
    @property
    def sizes(self):
        return np.array([len(t) for t in self])


def _task(tmp_path, **options):
    return PMLMTask.setup_task(PMLMTaskConfig(data=str(tmp_path), seed=1, train_subset="train", **options))


def _predicted(ex, n, objective, steps=False):
    """The text positions predicted, as PMLM's steps (one span each; ``steps``) or as runs of
    consecutive chosen positions (masked or kept)."""
    if steps:
        pseudo = np.flatnonzero(ex.kind == roles.PSEUDO)
        return [ex.positions[pseudo[ex.step[pseudo] == s]] for s in np.unique(ex.step[pseudo])]
    if objective == "mpnet":
        chosen = np.sort(ex.positions[ex.kind == roles.QUERY])
    else:
        chosen = np.flatnonzero(ex.target[:n] != PAD)
    return np.split(chosen, np.flatnonzero(np.diff(chosen) != 1) + 1) if len(chosen) else []


@pytest.mark.parametrize("scheme", [SENTENCEPIECE, WORDPIECE])
def test_word_starts_read_from_either_vocabulary(tmp_path, scheme):
    docs = _corpus(tmp_path, scheme, lines=5)
    task = _task(tmp_path, mask_whole_words=True)
    table, found = word_start_table(task.dictionary.symbols, (task.dictionary.nspecial, task.random_high))
    assert found == scheme
    for ids, starts in docs:
        assert np.array_equal(task.word_starts[ids], starts)
    # specials, fillers, [M] and [P] are starts, so no word runs across them
    assert task.word_starts[[0, 1, 2, 3, task.mask_idx, task.pseudo_idx, task.random_high]].all()


def test_a_vocabulary_without_word_marks_is_one_clear_error(tmp_path):
    d = Dictionary()
    for i in range(20):  # GPT-2 BPE data-bins list byte-pair ids, not pieces
        d.add_symbol(str(1000 + i))
    d.save(str(tmp_path / "dict.txt"))
    with pytest.raises(ValueError, match=r"--mask-whole-words: .*dict\.txt: none of the .* word starts are unknown"):
        _task(tmp_path, mask_whole_words=True)
    assert _task(tmp_path).word_starts is None  # the flag off needs no word marks


@pytest.mark.parametrize("scheme", [SENTENCEPIECE, WORDPIECE])
@pytest.mark.parametrize("objective", OBJECTIVES)
def test_spans_cover_whole_words_for_every_objective(tmp_path, scheme, objective):
    docs = _corpus(tmp_path, scheme)
    pack = _task(tmp_path, objective=objective, mask_whole_words=True).packer()
    pack_tokens = _task(tmp_path, objective=objective).packer()
    # PMLM's kept tokens join no step (masking/pmlm.py): without them every step is a whole span
    pack_steps = _task(tmp_path, mask_whole_words=True, leave_unmasked_prob=0.0).packer()
    inside_without = 0
    for i, (ids, starts) in enumerate(docs):
        n = len(ids)
        word_of = np.cumsum(starts)  # word index of every token (specials are words of their own)
        for group in _predicted(pack(ids, np.random.default_rng([3, i])), n, objective):
            # a whole word: starts at a word start, the next token starts a word, every word complete
            assert starts[group.min()] and (group.max() + 1 == n or starts[group.max() + 1]), (objective, group)
            words = np.unique(word_of[group])
            assert np.isin(np.flatnonzero(np.isin(word_of, words)), group).all()
        if objective == "pmlm":
            for group in _predicted(pack_steps(ids, np.random.default_rng([3, i])), n, objective, steps=True):
                assert starts[group.min()] and (group.max() + 1 == n or starts[group.max() + 1]), group
                assert np.array_equal(group, np.arange(group.min(), group.max() + 1))  # one contiguous span
        for group in _predicted(pack_tokens(ids, np.random.default_rng([3, i])), n, objective):
            inside_without += int(not starts[group.min()])
    assert inside_without > 20  # without the flag spans do start inside words on this text


def test_budget_is_counted_in_tokens_and_lengths_in_words(tmp_path):
    docs = _corpus(tmp_path, SENTENCEPIECE)
    cfg = SpanConfig()  # pmlm's: 15%, 40% n-grams of 2..6
    lengths, subword_lengths, masked, total = [], [], 0, 0
    for seed in range(10):
        for i, (ids, starts) in enumerate(docs):
            first = np.flatnonzero(starts[1:-1])
            sizes = np.diff(np.append(first, len(ids) - 2))  # subwords of each word
            word_starts, word_lengths = sample_word_spans(sizes, cfg, np.random.default_rng([seed, i]))
            cum = np.concatenate([[0], np.cumsum(sizes)])
            got = int((cum[word_starts + word_lengths] - cum[word_starts]).sum())
            # num_to_mask's budget (15% of the tokens, rounded at random), plus less than one word
            assert cfg.mask_prob * sizes.sum() - 1 < got < cfg.mask_prob * sizes.sum() + sizes.max()
            taken = np.zeros(len(sizes), int)
            for s, l in zip(word_starts, word_lengths):
                taken[s : s + l] += 1
            assert taken.max() <= 1  # spans never overlap
            lengths += list(word_lengths)
            subword_lengths += list(cum[word_starts + word_lengths] - cum[word_starts])
            masked, total = masked + got, total + int(sizes.sum())
    assert 0.150 <= masked / total < 0.165
    lengths, subword_lengths = np.array(lengths), np.array(subword_lengths)
    # n-grams of 2..6 words 40% of the time (a little less: the last span is cut to the budget)
    assert 0.33 < (lengths >= 2).mean() < 0.41 and lengths.max() == 6
    for n in range(2, 7):
        assert 0.03 < (lengths == n).mean() < 0.11, n  # long ones cut most often in 128-token texts
    assert subword_lengths.max() > 6  # 6 words are longer than 6 tokens: lengths are counted in words


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_seeded_masks_are_reproducible_and_new_each_epoch(tmp_path, objective):
    docs = _corpus(tmp_path, WORDPIECE, lines=8)

    def batch(epoch):
        blocks = _Blocks([torch.from_numpy(ids) for ids, _ in docs])
        ds = ObjectiveDataset(blocks, _task(tmp_path, objective=objective, mask_whole_words=True).packer(),
                              pad_idx=PAD, seed=5, length_factor=1.3)
        ds.set_epoch(epoch)
        return ds.collater([ds[i] for i in range(len(docs))])

    a, b, c = batch(1), batch(1), batch(2)
    assert all(torch.equal(a["net_input"][k], b["net_input"][k]) for k in a["net_input"])
    assert not torch.equal(a["target"], c["target"])


def test_pmlm_attention_and_leakage_guarantees_hold_with_whole_words(tmp_path):
    docs = _corpus(tmp_path, SENTENCEPIECE)
    task = _task(tmp_path, mask_whole_words=True)
    pack = task.packer()
    multi_token_steps = 0
    for i, (ids, _) in enumerate(docs):
        ex = pack(ids, np.random.default_rng([9, i]))
        assert leaks(ex) == 0
        kind, step = torch.from_numpy(ex.kind)[None], torch.from_numpy(ex.step)[None]
        allowed = role_attention_mask(kind, step)[0].numpy()
        n = len(ids)
        pseudo, original = ex.kind == roles.PSEUDO, ex.kind == roles.ORIGINAL
        assert not allowed[:n, n:].any()  # context and [M] never see what is appended
        for s in np.unique(ex.step[pseudo]):
            q = pseudo & (ex.step == s)
            multi_token_steps += int(q.sum() > 1)
            seen = allowed[q]
            assert not seen[:, original & (ex.step >= s)].any()  # no original of its own or a later step
            assert not seen[:, pseudo & (ex.step != s)].any()
            assert seen[:, original & (ex.step < s)].all() and seen[:, :n].all()
    assert multi_token_steps > 100
