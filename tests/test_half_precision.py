"""Half precision (--fp16/--bf16 on a GPU) tested on CPU through the model's numerics.

fairseq's --bf16 on a CPU-only machine takes its TPU path (xla_device), so these tests run the
model directly: converted to bfloat16 (what --bf16 does to the model) and under
torch.autocast("cpu", torch.bfloat16) (what --amp does, with bf16). They check that

- every objective's model path (pmlm, mlm, mpnet, maelm) and seq2seq training and cached
  decoding give finite outputs and gradients that agree with float32 within half precision;
- a query row with no allowed key stays finite (no NaN from softmax over -inf);
- the additive mask is built once per forward in the compute dtype (no per-layer cast);
- a forward and a decoding step run no float64 op and nothing that waits for the device
  (counted op by op with a TorchDispatchMode, plus the Python-level conversions).

Half precision here means the model converted to bfloat16 (what --bf16 does) or float16 (--fp16),
and float32 weights under torch.autocast("cpu", bfloat16) (--amp). Tolerances: bfloat16 keeps 8
significant bits (relative step 2**-8 = 0.4%); the losses of these small untrained models differ
from float32 by <= 1e-4 relative (measured), bound 1%; decoding log-probabilities by <= 0.003
(measured), bound 0.02. A trained model's sharper logits would need looser bounds.
"""
import copy
import math
import re
from contextlib import contextmanager

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

from fairseq_unilmv2.criterions.pmlm import prediction_losses
from fairseq_unilmv2.generation.blocker import TokenBlocker
from fairseq_unilmv2.masking.maelm import build_maelm_example
from fairseq_unilmv2.masking.mlm import build_mlm_example
from fairseq_unilmv2.masking.mpnet import build_mpnet_example
from fairseq_unilmv2.masking.spans import SpanConfig
from fairseq_unilmv2.models.unilmv2 import UniLMv2Config, UniLMv2Model
from fairseq_unilmv2.modules.transformer import _segmented_attention

from .helpers import (BOS, EOS, PAD, PRETRAIN, VOCAB, VOCAB_SIZE, batch_examples, check_cli, inner_logs, pmlm_example,
                      random_text)
from .test_seq2seq_decoding import _batch, _model

BF16_LOSS_RTOL = 0.01
BF16_LOGPROB_ATOL = 0.02


# ---- op accounting -----------------------------------------------------------------------------

# ATen ops that make the host wait for a CUDA device (their result's size or value goes to the
# host), or that carry host data to it (torch.tensor(...) inside a step).
SYNC_OPS = {"aten::_local_scalar_dense", "aten::nonzero", "aten::equal", "aten::is_nonzero",
            "aten::masked_select", "aten::lift_fresh", "aten::lift_fresh_copy", "aten::_unique2",
            "aten::unique_consecutive", "aten::repeat_interleave"}


class OpLog(TorchDispatchMode):
    """Every ATen op run inside, with its outputs' dtypes and sizes."""

    def __init__(self):
        super().__init__()
        self.ops = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        name = func._schema.name
        outs = out if isinstance(out, (tuple, list)) else (out,)
        tensors = [t for t in outs if isinstance(t, torch.Tensor)]
        if name == "aten::index" and any(isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in args[1]):
            name = "aten::index(bool mask)"  # boolean indexing: a nonzero inside
        self.ops.append((name, [t.dtype for t in tensors], [t.numel() for t in tensors]))
        return out

    def syncs(self):
        return [name for name, _, _ in self.ops if name in SYNC_OPS or name == "aten::index(bool mask)"]

    def float64(self):
        return [name for name, dtypes, _ in self.ops if torch.float64 in dtypes]


@contextmanager
def host_conversions():
    """Counts the Tensor methods that copy to the host without an ATen op on a CPU tensor."""
    calls = []
    originals = {name: getattr(torch.Tensor, name) for name in ("tolist", "numpy", "cpu", "item")}

    def wrap(name):
        def method(self, *args, **kwargs):
            calls.append(name)
            return originals[name](self, *args, **kwargs)
        return method

    for name in originals:
        setattr(torch.Tensor, name, wrap(name))
    try:
        yield calls
    finally:
        for name, fn in originals.items():
            setattr(torch.Tensor, name, fn)


# ---- tiny pre-training batches of every objective -----------------------------------------------

def _dictionary():
    from fairseq.data import Dictionary

    d = Dictionary()
    for i in range(VOCAB_SIZE - len(d)):
        d.add_symbol(f"w{i}")
    return d


def _pretraining_model(seed=0):
    cfg = UniLMv2Config(encoder_layers=2, encoder_embed_dim=32, encoder_ffn_embed_dim=64, encoder_attention_heads=4,
                        max_positions=128, mae_decoder_layers=1, dropout=0.0, attention_dropout=0.0)
    torch.manual_seed(seed)
    return UniLMv2Model(cfg, _dictionary(), mae_decoder=True).train()


def _examples(objective, lengths=(43, 23, 31)):
    """Batches with padding rows (unequal lengths), as the task collates them."""
    out = []
    for i, n in enumerate(lengths):
        tokens = random_text(n, seed=10 + i)
        maskable = (tokens != BOS) & (tokens != EOS)
        rng = np.random.default_rng(i)
        if objective == "pmlm":
            out.append(pmlm_example(tokens, seed=10 + i))
        elif objective == "mlm":
            out.append(build_mlm_example(tokens, maskable, VOCAB, SpanConfig(0.15), 0.1, 0.1, rng))
        elif objective == "mpnet":
            out.append(build_mpnet_example(tokens, maskable, VOCAB, SpanConfig(0.15), 0.1, 0.1, rng))
        else:
            out.append(build_maelm_example(tokens, maskable, VOCAB, SpanConfig(0.15), rng))
    tokens, positions, kind, step = batch_examples(out)
    target = torch.full_like(tokens, PAD)
    for i, e in enumerate(out):
        target[i, : len(e.target)] = torch.from_numpy(np.asarray(e.target))
    return {"net_input": {"src_tokens": tokens, "positions": positions, "kind": kind, "step": step},
            "target": target}


def _loss_and_grads(model, sample, objective, autocast=False):
    model.zero_grad()
    with torch.autocast("cpu", torch.bfloat16, enabled=autocast):
        nll, _ = prediction_losses(model, sample, PAD, objective)
        loss = nll.mean()
    loss.backward()
    grads = {n: p.grad.float().clone() for n, p in model.named_parameters() if p.grad is not None}
    return loss.detach().float(), grads


@pytest.fixture(scope="module")
def fp32_model():
    return _pretraining_model()


@pytest.mark.parametrize("objective", ["pmlm", "mlm", "mpnet", "maelm"])
def test_every_objective_trains_in_bf16_and_agrees_with_fp32(fp32_model, objective):
    sample = _examples(objective)
    ref_loss, ref_grads = _loss_and_grads(fp32_model, sample, objective)
    assert torch.isfinite(ref_loss) and math.log(VOCAB_SIZE) * 0.8 < ref_loss < math.log(VOCAB_SIZE) * 1.2

    runs = {
        "bf16 model": _loss_and_grads(copy.deepcopy(fp32_model).bfloat16(), sample, objective),  # --bf16
        "fp16 model": _loss_and_grads(copy.deepcopy(fp32_model).half(), sample, objective),  # --fp16
        "bf16 autocast": _loss_and_grads(fp32_model, sample, objective, autocast=True),  # --amp, bf16
    }
    for name, (loss, grads) in runs.items():
        assert torch.isfinite(loss), name
        assert abs(loss - ref_loss) <= BF16_LOSS_RTOL * ref_loss, (name, loss, ref_loss)
        assert set(grads) == set(ref_grads), name
        flat = torch.cat([g.flatten() for g in grads.values()])
        ref = torch.cat([ref_grads[n].flatten() for n in grads])
        assert torch.isfinite(flat).all(), name
        assert F.cosine_similarity(flat, ref, dim=0) > 0.99, name


# ---- rows with no allowed key ------------------------------------------------------------------

def test_a_query_row_without_any_allowed_key_stays_finite(fp32_model):
    tokens = torch.tensor([[BOS, 5, 6, 7, EOS], [BOS, 8, 9, PAD, PAD]])
    positions = torch.arange(5).expand(2, 5)
    allowed = tokens.ne(PAD).unsqueeze(1).expand(-1, 5, -1).clone()
    allowed[1, 2] = False  # a query that sees nothing (a hand-made mask can do this)
    bf16 = copy.deepcopy(fp32_model).bfloat16()
    for model, dtype in ((fp32_model, torch.float32), (bf16, torch.bfloat16)):
        bias = model.transformer.attention_bias(allowed, positions, positions)
        assert bias.dtype == dtype and bias.shape == (2, 4, 5, 5)
        assert torch.isfinite(bias).any(-1).all()  # every row keeps at least one finite score
        # the other rows are as asked: padding keys -inf, real keys finite
        assert torch.isneginf(bias[:, :, [0, 1, 3, 4]][..., 3:]).sum() == 4 * 2 * 4
        assert torch.isfinite(bias[:, :, :, :3]).all() and torch.isfinite(bias[0]).all()
    # through every layer, forward and backward, in bf16
    hidden = bf16.transformer(tokens, positions, allowed)
    hidden.float().sum().backward()
    assert torch.isfinite(hidden).all()
    assert all(torch.isfinite(p.grad).all() for p in bf16.parameters() if p.grad is not None)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_segmented_attention_of_a_fully_masked_row_is_finite(dtype):
    g = torch.Generator().manual_seed(0)
    q = torch.randn(1, 2, 2, 4, generator=g).to(dtype)
    segments = [(torch.randn(1, 2, 3, 4, generator=g).to(dtype), torch.randn(1, 2, 3, 4, generator=g).to(dtype))]
    allowed = torch.tensor([[[[True, True, False], [False, False, False]]]])  # query 1 sees nothing
    out = _segmented_attention(q, segments, allowed)
    assert out.dtype == dtype and torch.isfinite(out).all()
    # the well-defined row is unchanged: softmax over keys 0 and 1 only (scale 1/sqrt(4))
    k, v = segments[0]
    scores = (q[..., 0:1, :].float() @ k[..., :2, :].float().transpose(-1, -2)) / 2.0
    torch.testing.assert_close(out[..., 0:1, :].float(), scores.softmax(-1) @ v[..., :2, :].float(),
                               atol=0.03, rtol=0)


# ---- the mask is built once per forward, in the compute dtype -------------------------------------

def test_attention_mask_is_built_once_in_the_compute_dtype_not_cast_per_layer(fp32_model):
    sample = _examples("pmlm")
    net = sample["net_input"]
    from fairseq_unilmv2.masking.attention import role_attention_mask

    allowed = role_attention_mask(net["kind"], net["step"])
    b, length = net["src_tokens"].shape
    assert length % 8  # a packed length SDPA's CUDA kernel would pad (69)
    mask_size = b * 4 * length * length  # (B, H, L, L)
    log = OpLog()
    with torch.no_grad(), torch.autocast("cpu", torch.bfloat16), log:
        fp32_model(net["src_tokens"], net["positions"], allowed)
    # casts of mask-sized tensors: none (old code: one per layer, autocast casting the float32 bias)
    casts = [n for n, dtypes, sizes in log.ops if n == "aten::_to_copy" and mask_size in sizes]
    assert casts == []
    sdpa = [(n, d) for n, d, s in log.ops if "scaled_dot_product" in n]
    assert len(sdpa) == 2 and all(d[0] == torch.bfloat16 for _, d in sdpa)  # 2 layers, bf16 attention
    # the layout SDPA's memory-efficient CUDA kernel takes without padding a copy in every call:
    # last stride 1, the others multiples of 8 (the previous mask was a permuted view, heads last)
    with torch.no_grad(), torch.autocast("cpu", torch.bfloat16):
        bias = fp32_model.transformer.attention_bias(allowed, net["positions"], net["positions"])
    assert bias.dtype == torch.bfloat16 and bias.shape == (b, 4, length, length)
    assert bias.stride(-1) == 1 and all(s % 8 == 0 for s in bias.stride()[:-1])


# ---- no float64, no host sync in a forward or a decoding step -----------------------------------

@pytest.mark.parametrize("objective", ["pmlm", "mpnet"])
def test_forward_runs_no_float64_and_no_host_sync(fp32_model, objective):
    sample = _examples(objective)
    net = sample["net_input"]
    from fairseq_unilmv2.criterions.pmlm import ATTENTION_MASKS

    log = OpLog()
    with host_conversions() as calls, log:
        allowed = ATTENTION_MASKS[objective](net["kind"], net["step"])
        logits = fp32_model(net["src_tokens"], net["positions"], allowed)  # (B, L, V): no masked_tokens
        logits.sum().backward()
    assert len(log.ops) > 100  # the mode saw the whole pass
    assert log.float64() == [] and log.syncs() == [] and calls == []


@pytest.mark.parametrize("mode", ["pseudo", "causal"])
def test_a_decoding_step_runs_no_float64_and_no_host_sync(mode):
    model, d = _model(mode)
    model = model.float()
    src, lengths, prev = _batch(d, [7, 4, 9], tgt_len=6, seed=1)
    blocker = TokenBlocker([d.bos(), len(d) - 1], no_repeat_ngram_size=2, ignore_ids=[5], eos=d.eos())
    with torch.no_grad():
        enc = model.encoder(src, lengths)
        state = {}
        for i in range(3):  # warm-up: the blocker copies its ids to the device once
            lprobs = model.decoder(prev[:, : i + 1], enc, incremental_state=state)[0][:, -1].log_softmax(-1)
            blocker(prev, lprobs, 3, 1, i)
        log = OpLog()
        with host_conversions() as calls, log:
            for i in range(3, 6):
                lprobs = model.decoder(prev[:, : i + 1], enc, incremental_state=state)[0][:, -1].log_softmax(-1)
                blocker(prev, lprobs, 3, 1, i)
                model.decoder.reorder_incremental_state_scripting(state, torch.arange(3))
    assert len(log.ops) > 50
    assert log.float64() == [] and log.syncs() == [] and calls == []


# ---- seq2seq: bf16 fine-tuning and cached decoding ------------------------------------------------

@pytest.mark.parametrize("mode", ["pseudo", "causal"])
def test_seq2seq_bf16_training_and_cached_decoding_agree_with_fp32(mode):
    ref, d = _model(mode, seed=4)
    ref = ref.float()
    src, lengths, prev = _batch(d, [9, 5, 7], tgt_len=6, seed=2)
    target = torch.cat([prev[:, 1:], torch.full((3, 1), d.eos())], dim=1)

    def train_loss(model, autocast=False):
        model.train().zero_grad()
        with torch.autocast("cpu", torch.bfloat16, enabled=autocast):
            logits = model(src, lengths, prev)[0]
        loss = F.cross_entropy(logits.float().flatten(0, 1), target.flatten())
        loss.backward()
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        assert grads and all(torch.isfinite(g).all() for g in grads)
        return loss.detach()

    ref_loss = train_loss(ref)
    bf16, fp16 = copy.deepcopy(ref).bfloat16(), copy.deepcopy(ref).half()
    for loss in (train_loss(bf16), train_loss(fp16), train_loss(ref, autocast=True)):
        assert torch.isfinite(loss) and abs(loss - ref_loss) <= BF16_LOSS_RTOL * ref_loss

    def decode(model, autocast=False):
        model.eval()
        with torch.no_grad(), torch.autocast("cpu", torch.bfloat16, enabled=autocast):
            enc = model.encoder(src, lengths)
            state = {}
            steps = [model.decoder(prev[:, : i + 1], enc, incremental_state=state)[0][:, 0] for i in range(6)]
        return torch.stack(steps, 1).float().log_softmax(-1)

    ref_steps = decode(ref)
    for steps in (decode(bf16), decode(fp16), decode(ref, autocast=True)):
        assert torch.isfinite(steps).all()
        assert (steps - ref_steps).abs().max() < BF16_LOGPROB_ATOL
        # same greedy choices wherever fp32's best token leads by more than the tolerance
        top2 = ref_steps.topk(2, -1).values
        clear = (top2[..., 0] - top2[..., 1]) > 2 * BF16_LOGPROB_ATOL
        assert torch.equal(steps.argmax(-1)[clear], ref_steps.argmax(-1)[clear])


# ---- fairseq's own fp16 training path, on CPU ----------------------------------------------------

def test_fairseq_fp16_training_path_trains_pmlm_on_cpu(workdir):
    """fairseq's --fp16 optimizer keeps float32 master weights on CUDA only, and its --bf16 takes
    the TPU path without a GPU; --memory-efficient-fp16 runs the same model.half() and dynamic
    loss scaling on CPU. 3 updates of the tiny pmlm model in float16: finite losses, at the
    untrained value (two near-uniform predictions a masked token: 2 x log2(V) bits, V the
    dictionary fairseq logs), the loss scale in the logs (the fp16 optimizer ran)."""
    out = check_cli(PRETRAIN + ["--objective", "pmlm", "--memory-efficient-fp16", "--max-update", "3",
                                "--batch-size", "4", "--log-interval", "1", "--no-save"], cwd=workdir)
    rows = inner_logs(out)
    vocab = int(re.search(r"dictionary \S+: (\d+) types", out).group(1))
    assert len(rows) == 3 and all("loss_scale" in r for r in rows)
    for r in rows:
        loss = float(r["loss"])
        assert math.isfinite(loss) and abs(loss - 2 * math.log2(vocab)) < 0.05 * 2 * math.log2(vocab), (loss, vocab)
