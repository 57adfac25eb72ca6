"""s2s-ft's training formulation, offered beside fairseq's: the label-smoothed KL loss
(--label-smoothing-formula s2s-ft) and weight decay without biases and LayerNorm weights
(--optimizer unilm_adam)."""
import argparse
import math

import pytest
import torch
import torch.nn.functional as F
from omegaconf import OmegaConf

from fairseq_unilmv2.criterions.unilm_seq2seq import s2s_ft_smoothed_loss
from fairseq_unilmv2.optim.unilm_adam import NO_DECAY, UniLMAdam, UniLMAdamConfig


def _s2s_ft_reference(lprobs, target, eps, pad):
    """s2s-ft's LabelSmoothingLoss (s2s_ft/modeling.py), re-stated: q(target) = 1 - eps,
    q(pad) = 0, eps / (V - 2) elsewhere; F.kl_div summed."""
    vocab = lprobs.size(-1)
    one_hot = torch.full((vocab,), eps / (vocab - 2), dtype=lprobs.dtype)
    one_hot[pad] = 0
    q = one_hot.repeat(target.size(0), 1)
    q.scatter_(1, target.unsqueeze(1), 1 - eps)
    q.masked_fill_(target.eq(pad).unsqueeze(1), 0)
    return F.kl_div(lprobs, q, reduction="none").sum()


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.3])
def test_s2s_ft_loss_equals_s2s_ft_label_smoothing_loss(eps):
    from fairseq.criterions.label_smoothed_cross_entropy import label_smoothed_nll_loss

    torch.manual_seed(0)
    vocab, n, pad = 60, 9, 1
    lprobs = torch.log_softmax(torch.randn(n, vocab, dtype=torch.float64), -1)
    target = torch.randint(4, vocab, (n,))
    target[[2, 5]] = pad
    loss, nll = s2s_ft_smoothed_loss(lprobs, target, eps, pad)
    assert loss.item() == pytest.approx(_s2s_ft_reference(lprobs, target, eps, pad).item(), rel=1e-9, abs=1e-9)
    assert nll.item() == pytest.approx(-lprobs[target != pad].gather(1, target[target != pad, None]).sum().item())
    if eps == 0:
        fairseq_loss, _ = label_smoothed_nll_loss(lprobs, target, eps, ignore_index=pad)
        assert loss.item() == pytest.approx(fairseq_loss.item())


def _model():
    from fairseq.data import Dictionary

    from fairseq_unilmv2.models.unilmv2 import UniLMv2Model, unilmv2_tiny

    args = argparse.Namespace()
    unilmv2_tiny(args)
    d = Dictionary()
    for i in range(10):
        d.add_symbol(f"w{i}")
    model = UniLMv2Model(args, d)
    model.register_classification_head("h", num_classes=2)
    return model


def _adam(params, weight_decay=0.1):
    cfg = OmegaConf.create({"adam_betas": "(0.9, 0.999)", "adam_eps": 1e-8, "weight_decay": weight_decay,
                            "use_old_adam": False, "fp16_adam_stats": False, "tpu": False, "lr": [0.1]})
    return UniLMAdam(cfg, params)


def test_unilm_adam_decays_weights_but_not_biases_or_layer_norms():
    model = _model()
    named = dict(model.named_parameters())
    excluded = {n for n, p in named.items() if getattr(p, NO_DECAY)}
    assert "classification_heads.h.dense.bias" in excluded and "transformer.embed_norm.weight" in excluded
    assert all(n.endswith("bias") or "norm" in n for n in excluded)
    assert {"transformer.embed_tokens.weight", "classification_heads.h.out_proj.weight"}.isdisjoint(excluded)
    opt = _adam(list(model.parameters()))
    before = {n: p.detach().clone() for n, p in named.items()}
    for p in model.parameters():
        p.grad = torch.zeros_like(p)  # only the decay moves a parameter
    opt.step()
    for n, p in named.items():
        moved = not torch.equal(p, before[n])
        assert moved == (n not in excluded and before[n].abs().sum() > 0), n
    # fairseq's resume applies this run's --weight-decay to every group: the exclusion must survive it
    state = opt.state_dict()
    opt.load_state_dict(state, {"weight_decay": 0.1, "lr": 0.1})
    assert [g["weight_decay"] for g in opt.optimizer.param_groups] == [0.1, 0.0]


def test_unilm_adam_refuses_unmarked_flattened_parameters():
    flat = torch.nn.Parameter(torch.zeros(100))  # what fairseq's --fp16 optimizer hands over
    with pytest.raises(ValueError, match="--memory-efficient-fp16"):
        _adam([flat])
