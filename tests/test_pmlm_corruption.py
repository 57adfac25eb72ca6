"""What ``corrupt`` may put in a masked slot, through the task's real vocabulary: a random
replacement is an ordinary word, never a special symbol, [M]/[P], or a fairseq-preprocess
``madeupword`` filler; PMLM's random replacement is never the original token."""
import numpy as np
import pytest
from fairseq.data import Dictionary

from fairseq_unilmv2.masking import roles
from fairseq_unilmv2.masking.corruption import corrupt
from fairseq_unilmv2.tasks.pmlm import PMLMTask, PMLMTaskConfig

# make_task's dictionary, counted by hand: <s> <pad> </s> <unk> = 0..3, w0..w9 = 4..13,
# madeupword0000/0001 = 14, 15 (padding to a multiple of 8), then the task's <mask> 16, <pseudo> 17.
WORDS = list(range(4, 14))


def make_task(tmp_path, words=10, **options):
    """A PMLMTask over ``dict.txt`` holding w0..w{words-1} and the madeupword fillers that
    fairseq-preprocess --padding-factor 8 writes, loaded the way ``fairseq-train`` loads it."""
    d = Dictionary()
    for i in range(words):
        d.add_symbol(f"w{i}", n=1000 - i)
    d.finalize(padding_factor=8)
    d.save(str(tmp_path / "dict.txt"))
    return PMLMTask.setup_task(PMLMTaskConfig(data=str(tmp_path), seed=1, train_subset="train", **options))


def test_dictionary_layout_is_the_hand_count(tmp_path):
    task = make_task(tmp_path)
    symbols = task.dictionary.symbols
    assert [symbols[i] for i in WORDS] == [f"w{i}" for i in range(10)]
    assert symbols[14:16] == ["madeupword0000", "madeupword0001"]
    assert (task.mask_idx, task.pseudo_idx, len(task.dictionary)) == (16, 17, 18)


@pytest.mark.parametrize("objective", ["pmlm", "mlm", "mpnet"])
def test_random_replacements_are_ordinary_words_only(tmp_path, objective):
    """Every masked slot gets a random token (--random-token-prob 1): over ~1500 draws the drawn
    ids are exactly w0..w9, so neither a special, a filler, [M] nor [P] is ever drawn, and the
    whole ordinary range is reachable."""
    task = make_task(tmp_path, objective=objective, random_token_prob=1.0, leave_unmasked_prob=0.0)
    pack = task.packer()
    text_rng = np.random.default_rng(0)
    drawn = []
    for i in range(200):
        words = text_rng.choice(np.array(WORDS + [3]), size=48)  # <unk> (3) is maskable text too
        ex = pack(np.concatenate([[0], words, [2]]), np.random.default_rng([5, i]))
        if objective == "mpnet":
            slots = ex.kind == roles.MASK  # the corrupted copy (the query copy is the same one)
        else:
            slots = np.zeros(len(ex.tokens), dtype=bool)
            slots[:50] = ex.target[:50] != task.dictionary.pad()
        drawn.extend(ex.tokens[slots].tolist())
    assert len(drawn) > 1000
    assert sorted(set(drawn)) == WORDS


def test_pmlm_random_replacement_is_never_the_original_and_uniform_over_the_others():
    rng = np.random.default_rng(0)
    tokens = np.repeat(np.array([4, 7, 13, 3]), 5000)  # the ends of the range, a middle one, <unk>
    out = corrupt(tokens, 16, 4, 14, 1.0, 0.0, rng, random_differs=True)
    for original in (4, 7, 13):
        got = out[tokens == original]
        others = [w for w in WORDS if w != original]
        assert sorted(set(got.tolist())) == others
        freq = np.bincount(got, minlength=14)[others] / len(got)
        assert np.all(np.abs(freq - 1 / 9) < 0.02)  # uniform over the 9 others
    # <unk> is outside the range: every ordinary word can replace it
    assert sorted(set(out[tokens == 3].tolist())) == WORDS
    # the default draw (MLM, MPNet, seq2seq) is BERT's: uniform over all ten, the original included
    plain = corrupt(tokens, 16, 4, 14, 1.0, 0.0, np.random.default_rng(0))
    assert abs(np.mean(plain[tokens == 7] == 7) - 0.1) < 0.02


def test_a_range_with_nothing_to_draw_is_an_error():
    with pytest.raises(ValueError, match="too small"):
        corrupt(np.array([4, 4]), 16, 4, 5, 1.0, 0.0, np.random.default_rng(0), random_differs=True)
    # no random slot drawn: nothing to refuse
    assert corrupt(np.array([4]), 16, 4, 4, 0.0, 0.0, np.random.default_rng(0)).tolist() == [16]
