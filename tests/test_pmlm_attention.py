"""The PMLM attention rule: the table itself, then no leakage through a real model, checked by
gradients (exactly zero where the paper forbids attention, non-zero where it allows it)."""
import torch

from fairseq_unilmv2.masking import roles
from fairseq_unilmv2.masking.attention import role_attention_mask

from .helpers import batch_examples, input_dependency, multi_step_example, tiny_transformer


def test_rule_on_the_paper_example():
    # x1 [M] x3 [M] [M] x6 | [P]4 [P]5 x4 x5 | [P]2 x2
    C, P, O = roles.CONTEXT, roles.PSEUDO, roles.ORIGINAL
    kind = torch.tensor([[C] * 6 + [P, P, O, O, P, O]])
    step = torch.tensor([[-1] * 6 + [0, 0, 0, 0, 1, 1]])
    allowed = role_attention_mask(kind, step)[0].int()
    ctx = [1] * 6
    expected = torch.tensor(
        [ctx + [0, 0, 0, 0, 0, 0]] * 6  # context and [M] see only context and [M]
        + [ctx + [1, 1, 0, 0, 0, 0]] * 2  # [P]4 [P]5: own step's [P]s, no originals yet
        + [ctx + [0, 0, 1, 1, 0, 0]] * 2  # x4 x5: originals of steps <= 0
        + [ctx + [0, 0, 1, 1, 1, 0]]  # [P]2: originals of step 0 and itself, not x2
        + [ctx + [0, 0, 1, 1, 0, 1]]  # x2: originals of steps <= 1
    )
    assert torch.equal(allowed, expected)


def test_no_leakage_by_gradients():
    examples = [multi_step_example(30, seed=1), multi_step_example(22, seed=2, min_steps=2)]
    tokens, positions, kind, step = batch_examples(examples)
    allowed = role_attention_mask(kind, step)
    dep = input_dependency(tiny_transformer(), tokens, positions, allowed)

    for b in range(len(examples)):
        valid = kind[b] != roles.PAD
        k, s = kind[b][valid], step[b][valid]
        d = dep[b][valid][:, valid]
        ctx, pse, ori = k == roles.CONTEXT, k == roles.PSEUDO, k == roles.ORIGINAL
        assert pse.sum() > 2 and len(set(s[pse].tolist())) > 1, "example too small to test steps"
        # context/[M] outputs never depend on any appended input
        assert not d[ctx][:, pse | ori].any()
        for step_k in s[pse].unique():
            q = pse & (s == step_k)
            # a step-k [P] never sees its own step's originals, nor anything of later steps
            assert not d[q][:, ori & (s == step_k)].any()
            assert not d[q][:, (pse | ori) & (s > step_k)].any()
            assert not d[q][:, pse & (s < step_k)].any()
            # ... but does see the context, earlier originals and its own step's [P]s
            assert d[q][:, ctx].all()
            assert d[q][:, pse & (s == step_k)].all()
            assert d[q][:, ori & (s < step_k)].all()
        # the dependency pattern is exactly the rule (the rule is closed under composition)
        assert torch.equal(d, allowed[b][valid][:, valid])
    # examples in a batch never see each other's padding slots
    assert not dep[1][:, kind[1] == roles.PAD][kind[1] != roles.PAD].any()


def test_leak_is_detected_when_the_rule_is_broken():
    """Guard against a vacuous check: letting context see appended tokens shows up."""
    ex = multi_step_example(20, seed=3, min_steps=2)
    tokens, positions, kind, step = batch_examples([ex])
    allowed = role_attention_mask(kind, step)
    allowed[0, 0, len(ex.tokens) - 1] = True  # <s> may now see the last appended token
    dep = input_dependency(tiny_transformer(), tokens, positions, allowed)
    assert dep[0, 0, len(ex.tokens) - 1]
