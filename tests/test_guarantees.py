"""Guarantees that only slow CLI tests (or none) held, each as a fast unit test: pseudo-mode
fine-tuning trains on the noised input, the noise differs between the examples of an epoch,
a converted vocabulary's specials are never generated, the incremental-decoding softmax runs in
float32, the batching remainder is trained on, the position limits come from the checkpoint, and
ROUGE lowercases ASCII only."""
import logging

import numpy as np
import pytest
import torch
from fairseq.data import Dictionary, ListDataset
from omegaconf import OmegaConf

import fairseq_unilmv2  # noqa: F401  (registers the tasks)
from fairseq_unilmv2 import vocab_ids
from fairseq_unilmv2.data.seq2seq_dataset import Seq2SeqDataset, TargetNoise
from fairseq_unilmv2.modules.transformer import _segmented_attention
from fairseq_unilmv2.scoring.perl_tokenizer import PerlRougeTokenizer
from fairseq_unilmv2.tasks.dictionary import VocabDictionary
from fairseq_unilmv2.tasks.unilm_seq2seq import UniLMSeq2SeqConfig, UniLMSeq2SeqTask


def _toy_dictionary(words=30):
    d = Dictionary()
    for i in range(words):
        d.add_symbol(f"w{i}")
    return d


def _dataset(n, target_length=8, noise=True):
    """``n`` pairs with the same target (so only the noise can tell them apart)."""
    d = _toy_dictionary()
    pseudo = d.add_symbol("<pseudo>")
    src = ListDataset([torch.tensor([4 + i % 20, d.eos()]) for i in range(n)], [2] * n)
    target = torch.tensor(list(range(5, 5 + target_length - 1)) + [d.eos()])
    tgt = ListDataset([target.clone() for _ in range(n)], [target_length] * n)
    noise = TargetNoise(pseudo, d.nspecial, len(d) - 1, target_mask_prob=0.5) if noise else None
    return Seq2SeqDataset(src, tgt, d, 16, 16, noise, seed=3, name="toy")


# ---- train_step trains on the noised input ----------------------------------------------------

class _Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(()))

    def set_num_updates(self, num_updates):
        pass


class _Criterion:
    """Records the net_input each training step was computed from."""

    def __init__(self):
        self.seen = []

    def __call__(self, model, sample):
        self.seen.append(sample["net_input"])
        return model.w * 1.0, 1, {}


class _Optimizer:
    def backward(self, loss):
        loss.backward()


@pytest.mark.parametrize("mode", ["pseudo", "causal"])
def test_train_step_reads_the_noised_input_in_pseudo_mode(mode):
    """s2s-ft's word-drop noise reaches the model only if train_step swaps train_net_input in:
    the criterion reads net_input, which is the clean input in every batch."""
    ds = _dataset(4)
    batch = ds.collater([ds[i] for i in range(4)])
    assert not torch.equal(batch["train_net_input"]["prev_output_tokens"], batch["net_input"]["prev_output_tokens"])
    task = UniLMSeq2SeqTask(UniLMSeq2SeqConfig(data="unused"), _toy_dictionary())
    task.seq2seq_mode = mode
    criterion = _Criterion()
    task.train_step(batch, _Model(), criterion, _Optimizer(), update_num=0)
    expected = batch["train_net_input"] if mode == "pseudo" else batch["net_input"]
    assert criterion.seen == [expected]


# ---- noise seeded by (seed, epoch, index) ------------------------------------------------------

def test_noise_differs_between_the_examples_of_an_epoch():
    """Identical targets at different indices get different noise (a (seed, epoch) seed alone
    would give every example of an epoch the same pattern), reproducibly."""
    ds = _dataset(12, target_length=12)
    first = [ds[i]["target_input"] for i in range(12)]
    patterns = {tuple(x.tolist()) for x in first}
    assert len(patterns) >= 10, f"{len(patterns)} noise patterns for 12 examples"
    assert all(torch.equal(x, ds[i]["target_input"]) for i, x in enumerate(first))  # deterministic
    ds.set_epoch(2)
    assert sum(torch.equal(x, ds[i]["target_input"]) for i, x in enumerate(first)) <= 2  # new epoch, new noise


# ---- a converted vocabulary's specials are never generated -------------------------------------

def test_converted_vocabulary_specials_are_banned_in_generation(tmp_path):
    from fairseq_unilmv2.generation import internal_symbol_ids

    symbols = ["[PAD]", "[unused0]", "[unused1]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "c"]
    vocab_ids.write(str(tmp_path / "dict.txt"), symbols,
                    {"bos": "[CLS]", "pad": "[PAD]", "eos": "[SEP]", "unk": "[UNK]", "mask": "[MASK]"})
    d = VocabDictionary.load(str(tmp_path / "dict.txt"))
    task = UniLMSeq2SeqTask(UniLMSeq2SeqConfig(data="unused"), d)
    banned = {d[i] for i in internal_symbol_ids(d, task.mask_idx, task.pseudo_idx, task.random_high)}
    assert banned == {"[unused0]", "[unused1]", "[CLS]", "[MASK]", "<pseudo>"}
    # what the generator applies at every step
    from fairseq_unilmv2.generation.blocker import TokenBlocker

    blocker = TokenBlocker(internal_symbol_ids(d, task.mask_idx, task.pseudo_idx, task.random_high), eos=d.eos())
    out = blocker(torch.full((2, 3), d.eos()), torch.zeros(2, len(d)), 2, 1, 2)
    assert {d[i] for i in torch.isinf(out[0]).nonzero().flatten().tolist()} == banned
    assert torch.isinf(out).sum() == 2 * len(banned)


# ---- incremental-decoding softmax in float32 ---------------------------------------------------

class _SoftmaxDtypes(torch.overrides.TorchFunctionMode):
    def __init__(self):
        super().__init__()
        self.dtypes = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") == "softmax":
            self.dtypes.append(args[0].dtype)
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_incremental_attention_softmax_runs_in_float32(dtype):
    """A decoding step attends over the cached segments with its own softmax: it must run in
    float32 in half precision (as SDPA's kernels accumulate it), and the output must be as close
    to float64 attention as the half-precision inputs allow."""
    g = torch.Generator().manual_seed(0)
    b, heads, dim = 2, 2, 16
    q = torch.randn(b, heads, 2, dim, generator=g) * 3
    segments = [(torch.randn(b, heads, n, dim, generator=g) * 3, torch.randn(b, heads, n, dim, generator=g))
                for n in (300, 2)]
    mask = torch.zeros(1, 1, 2, 302)
    mask[..., 0, -1] = float("-inf")
    with _SoftmaxDtypes() as seen:
        out = _segmented_attention(q.to(dtype), [(k.to(dtype), v.to(dtype)) for k, v in segments], mask.to(dtype))
    assert seen.dtypes == [torch.float32] and out.dtype == dtype
    keys = torch.cat([k for k, _ in segments], 2).to(dtype).double()
    values = torch.cat([v for _, v in segments], 2).to(dtype).double()
    scores = q.to(dtype).double() @ keys.transpose(-1, -2) / dim ** 0.5 + mask.double()
    reference = scores.softmax(-1) @ values
    assert (out.double() - reference).abs().max() < 0.05


# ---- the batching remainder is trained on ------------------------------------------------------

@pytest.mark.parametrize("n,batch,multiple", [(21, 8, 8), (100, 16, 8), (5, 16, 8), (16, 8, 8)])
def test_every_example_is_batched_whatever_the_remainder(n, batch, multiple):
    """fairseq drops a last batch that is not a multiple of --required-batch-size-multiple;
    every example must still be in exactly one batch, and only the last batch may break the
    multiple."""
    ds = _dataset(n, noise=False)
    indices = ds.ordered_indices()
    batches = ds.batch_by_size(indices, max_sentences=batch, required_batch_size_multiple=multiple)
    assert sorted(np.concatenate(batches).tolist()) == list(range(n))
    assert all(len(b) % multiple == 0 for b in batches[:-1])


# ---- position limits read from the checkpoint --------------------------------------------------

def _decoding_task(**given):
    return UniLMSeq2SeqTask(UniLMSeq2SeqConfig(data="unused", **given), _toy_dictionary())


def test_decoding_uses_the_checkpoints_position_limits(caplog):
    recorded = OmegaConf.create({"fine_tuned_max_source_positions": 100, "fine_tuned_max_target_positions": 30})
    task = _decoding_task()
    task._limits_from_checkpoint(recorded)
    assert task.max_positions() == (100, 30)
    with caplog.at_level(logging.WARNING):
        task = _decoding_task(max_target_positions=20)
        task._limits_from_checkpoint(recorded)
    assert task.max_positions() == (100, 20)  # the user's value wins, with a warning
    assert "--max-target-positions 20 is below the 30 the model was fine-tuned with: hypotheses are cut at 19" \
        in caplog.text
    task = _decoding_task(max_source_positions=200)  # larger than trained: used, no warning
    task._limits_from_checkpoint(recorded)
    assert task.max_positions() == (200, 30)


# ---- ROUGE lowercases ASCII only ---------------------------------------------------------------

def test_rouge_tokenizer_drops_non_ascii_before_lowercasing():
    """ROUGE-1.5.5.pl reads bytes and lowercases with tr/A-Z/a-z/: every non-ASCII character is
    dropped. Python's str.lower would make U+0130 'İ' an 'i' + U+0307 and U+212A (Kelvin) a 'k'
    first, and count them."""
    tokens = PerlRougeTokenizer(stem=False).tokenize("İstanbul \u212aelvin ÉCOLE Straße ĞÜ-Ab")
    assert tokens == ["stanbul", "elvin", "cole", "stra", "e", "ab"]
