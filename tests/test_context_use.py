"""Pre-training and fine-tuning can use context: the leakage tests prove what a model cannot see,
these prove that it sees what it must (issue 21).

Pre-training data are chains of a fixed bigram: x_{t+1} = f(x_t) for a fixed random permutation f
of 16 words, from a uniform random start. Each token is uniform over the 16 words on its own
(4 bits: the unigram entropy, the best a context-free model can do), and determined by either
neighbour. For every objective, a tiny model trained for a few CPU seconds through the task's
own packer, collater and criterion must reach a loss far below 4 bits, and the same model on the
same held-out batch with its context destroyed (``masking/context.py``: every unmasked text token
random) must lose most of that: the context gap. Seq2seq: the target is a copy of the source, so
it is predictable from the source only; the gap is loss with a random source minus loss.

An attention rule that hides the context (every key masked but the query's own position, in
``masking/attention.py``) fails every test here: the model then stays at the unigram entropy.
"""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from fairseq.data import Dictionary

from fairseq_unilmv2.criterions.pmlm import PMLMCriterion
from fairseq_unilmv2.data.objective_dataset import ObjectiveDataset
from fairseq_unilmv2.masking.context import ordinary, pretraining_context, with_random_context
from fairseq_unilmv2.models.seq2seq import UniLMSeq2SeqModel
from fairseq_unilmv2.models.unilmv2 import UniLMv2Config, UniLMv2Model
from fairseq_unilmv2.modules.transformer import UniLMTransformer
from fairseq_unilmv2.tasks.dictionary import add_special_symbols
from fairseq_unilmv2.tasks.pmlm import PMLMTask, PMLMTaskConfig

WORDS = 16
UNIGRAM_BITS = math.log2(WORDS)
LENGTH = 30  # text tokens of a chain, between <s> and </s>
UPDATES = 200  # about 4 CPU-seconds an objective, one thread
# MAE-LM's decoder has learned absolute positions only (no relative bias, as the official one), so
# the neighbour rule takes it longer: 3.3-3.8 bits after 200 updates at 3e-3, 1.7 after 400 at 1e-3.
SCHEDULE = {"maelm": (400, 1e-3)}


def _dictionary(tmp_path):
    d = Dictionary()
    for i in range(WORDS):
        d.add_symbol(f"w{i}", n=1000 - i)
    d.save(str(tmp_path / "dict.txt"))
    return Dictionary.load(str(tmp_path / "dict.txt"))  # w0..w15 = ids 4..19


def _chains(n, seed):
    """``n`` bigram chains of ``LENGTH`` word ids (4..19) under one fixed permutation."""
    f = np.random.default_rng(12345).permutation(WORDS)
    rng = np.random.default_rng(seed)
    out = np.empty((n, LENGTH), dtype=np.int64)
    out[:, 0] = rng.integers(WORDS, size=n)
    for t in range(1, LENGTH):
        out[:, t] = f[out[:, t - 1]]
    return out + 4


class _Blocks(list):
    @property
    def sizes(self):
        return np.array([len(t) for t in self])


def _batches(task, seed, n_batches, batch_size=32):
    d = task.dictionary
    text = _chains(n_batches * batch_size, seed)
    blocks = _Blocks(torch.from_numpy(np.concatenate([[d.bos()], t, [d.eos()]])) for t in text)
    ds = ObjectiveDataset(blocks, task.packer(), pad_idx=d.pad(), seed=seed, length_factor=1.3)
    return [ds.collater([ds[i] for i in range(b * batch_size, (b + 1) * batch_size)]) for b in range(n_batches)]


def _tiny_config(**overrides):
    return UniLMv2Config(encoder_layers=2, encoder_embed_dim=64, encoder_ffn_embed_dim=128, encoder_attention_heads=2,
                         max_positions=64, dropout=0.0, attention_dropout=0.0, mae_decoder_layers=1, **overrides)


def _bits(criterion, model, batch):
    with torch.no_grad():
        loss, sample_size, _ = criterion(model, batch)
    return float(loss) / sample_size / math.log(2)


def _train(model, loss_fn, batches, steps, lr=3e-3):
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for step in range(steps):
        loss = loss_fn(batches[step % len(batches)])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()


def _random_context(task, batch, seed=0):
    d = task.dictionary
    context = pretraining_context(batch["net_input"], batch["target"], d.pad(), d.nspecial, task.random_high)
    assert context.float().mean() > 0.5  # most of the text is context (15% is masked)
    return {**batch, "net_input": with_random_context(batch["net_input"], context, d.nspecial, task.random_high, seed)}


@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread: on shared cores torch's default (one per core) is many times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("objective", ["pmlm", "mlm", "mpnet", "maelm"])
def test_pretraining_uses_context(tmp_path, objective):
    _dictionary(tmp_path)
    task = PMLMTask.setup_task(PMLMTaskConfig(data=str(tmp_path), seed=1, train_subset="train", objective=objective,
                                              tokens_per_sample=LENGTH + 2))
    torch.manual_seed(0)
    model = UniLMv2Model(_tiny_config(), task.dictionary, mae_decoder=objective == "maelm")
    criterion = PMLMCriterion(task, no_context_gap=True)

    def mean_loss(batch):
        loss, sample_size, _ = criterion(model, batch)
        return loss / sample_size

    _train(model, mean_loss, _batches(task, 1, 8), *SCHEDULE.get(objective, (UPDATES, 3e-3)))
    valid = _batches(task, 2, 1, batch_size=64)[0]
    true, destroyed = _bits(criterion, model, valid), _bits(criterion, model, _random_context(task, valid))
    # pmlm's loss sums AE and PAR: two predictions a masked token, so its unigram loss is 8 bits
    unigram = UNIGRAM_BITS * (2 if objective == "pmlm" else 1)
    print(f"{objective}: {true:.2f} bits with its context, {destroyed:.2f} with random context (unigram {unigram:.0f})")
    assert true < 0.5 * unigram, f"{objective} does not use its context: {true:.2f} bits (unigram entropy {unigram:.0f})"
    assert destroyed - true > 0.5 * unigram, f"{objective}: context gap only {destroyed - true:.2f} bits"


def test_seq2seq_reads_its_source(tmp_path):
    """UniLM seq2seq (pseudo-mask fine-tuning layout): the target is a copy of the source, so
    only the source can predict it; the target alone (teacher forcing) cannot."""
    d = _dictionary(tmp_path)
    mask_idx, pseudo_idx, random_high = add_special_symbols(d)
    cfg = _tiny_config()
    torch.manual_seed(0)
    model = UniLMSeq2SeqModel(cfg, UniLMv2Model(cfg, d).transformer, d, "pseudo", pseudo_idx, 16, 16)
    rng = np.random.default_rng(3)

    def batch(n):
        words = torch.from_numpy(rng.integers(d.nspecial, random_high, size=(n, 8)))
        eos = torch.full((n, 1), d.eos())
        src = torch.cat([words, eos], 1)
        return {"src_tokens": src, "src_lengths": torch.full((n,), src.size(1)),
                "prev_output_tokens": torch.cat([eos, words], 1)}, src  # target = the source

    def nll_bits(net_input, target):
        logits, _ = model(**net_input)
        return F.cross_entropy(logits.float().flatten(0, 1), target.flatten()) / math.log(2)

    batches = [batch(32) for _ in range(8)]
    _train(model, lambda b: nll_bits(*b), batches, UPDATES)
    net_input, target = batch(64)
    source = ordinary(net_input["src_tokens"], d.nspecial, random_high)
    noisy = with_random_context(net_input, source, d.nspecial, random_high, seed=0)
    with torch.no_grad():
        true, destroyed = float(nll_bits(net_input, target)), float(nll_bits(noisy, target))
    print(f"seq2seq: {true:.2f} bits with its source, {destroyed:.2f} with a random source (unigram {UNIGRAM_BITS:.0f})")
    assert true < 0.5 * UNIGRAM_BITS, f"seq2seq does not read its source: {true:.2f} bits"
    assert destroyed - true > 0.5 * UNIGRAM_BITS, f"seq2seq: source gap only {destroyed - true:.2f} bits"
