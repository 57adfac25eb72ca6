"""MAE-LM: the encoder never sees [MASK] (its outputs do not move when the [MASK] embedding does,
and it runs on the unmasked tokens only); the decoder puts encoder outputs back in place."""
import numpy as np
import torch
from fairseq.data import Dictionary

from fairseq_unilmv2.masking import roles
from fairseq_unilmv2.masking.maelm import build_maelm_example, scatter_index, visible_index
from fairseq_unilmv2.masking.spans import SpanConfig
from fairseq_unilmv2.models.unilmv2 import UniLMv2Config, UniLMv2Model

from .helpers import BOS, EOS, VOCAB, VOCAB_SIZE, batch_examples, random_text


def maelm_example(length, seed):
    tokens = random_text(length, seed)
    maskable = (tokens != BOS) & (tokens != EOS)
    return build_maelm_example(tokens, maskable, VOCAB, SpanConfig(0.3, ngram_prob=0.0), np.random.default_rng(seed))


def tiny_maelm(seed=0):
    d = Dictionary()
    for i in range(VOCAB_SIZE - len(d)):
        d.add_symbol(f"w{i}")
    cfg = UniLMv2Config(encoder_layers=2, encoder_embed_dim=32, encoder_ffn_embed_dim=64, encoder_attention_heads=4,
                        max_positions=128, mae_decoder_layers=2, dropout=0.0, attention_dropout=0.0)
    torch.manual_seed(seed)
    return UniLMv2Model(cfg, d, mae_decoder=True).double().eval()


def test_every_chosen_token_becomes_mask_and_nothing_else_changes():
    tokens = random_text(60, 0)
    ex = maelm_example(60, 0)
    masked = ex.kind == roles.MASK
    assert 10 <= masked.sum() <= 25
    assert (ex.tokens[masked] == VOCAB.mask_idx).all() and np.array_equal(ex.tokens[~masked], tokens[~masked])
    assert np.array_equal(ex.target[masked], tokens[masked]) and (ex.target[~masked] == VOCAB.pad_idx).all()


def test_visible_index_left_packs_in_text_order():
    visible = torch.tensor([[1, 0, 1, 1, 0], [0, 1, 0, 0, 0]], dtype=torch.bool)
    tokens = torch.tensor([[10, 11, 12, 13, 14], [20, 21, 22, 23, 24]])
    index, valid = visible_index(visible)
    assert tokens.gather(1, index)[valid].tolist() == [10, 12, 13, 21]
    assert valid.tolist() == [[True, True, True], [True, False, False]]
    packed = tokens.gather(1, index)
    assert torch.equal(packed.gather(1, scatter_index(visible))[visible], tokens[visible])


def test_encoder_runs_on_unmasked_tokens_only_and_ignores_the_mask_embedding():
    examples = [maelm_example(40, 1), maelm_example(25, 2)]
    tokens, positions, kind, _ = batch_examples(examples)
    visible = kind == roles.CONTEXT
    model = tiny_maelm()
    seen = {}
    hook = model.transformer.register_forward_pre_hook(lambda m, args: seen.update(shape=args[0].shape))
    hidden, valid = model.encode_visible(tokens, positions, visible)
    hook.remove()
    counts = [int((e.kind == roles.CONTEXT).sum()) for e in examples]
    assert seen["shape"] == (2, max(counts)) and valid.sum(1).tolist() == counts
    logits = model.forward_maelm(tokens, positions, visible, masked_tokens=kind == roles.MASK)

    with torch.no_grad():
        model.transformer.embed_tokens.weight[VOCAB.mask_idx].normal_()
    hidden2, _ = model.encode_visible(tokens, positions, visible)
    assert torch.equal(hidden, hidden2)  # bit-identical: the encoder never reads [MASK]
    # ... while the decoder does read it (so the check above is not vacuous)
    assert not torch.allclose(logits, model.forward_maelm(tokens, positions, visible, masked_tokens=kind == roles.MASK))


def test_decoder_receives_encoder_outputs_at_their_text_positions():
    ex = maelm_example(30, 3)
    tokens, positions, kind, _ = batch_examples([ex])
    visible = kind == roles.CONTEXT
    model = tiny_maelm()
    hidden, valid = model.encode_visible(tokens, positions, visible)
    got = {}
    hook = model.mae_decoder.register_forward_pre_hook(lambda m, args: got.update(x=args[0]))
    model.forward_maelm(tokens, positions, visible)
    hook.remove()
    assert torch.equal(got["x"][visible], hidden[valid])
    mask_row = model.transformer.embed_tokens.weight[VOCAB.mask_idx]
    assert torch.equal(got["x"][~visible], mask_row.expand(int((~visible).sum()), -1))


def test_encoder_gets_the_visible_tokens_text_positions():
    """The packed encoder input carries each visible token's own text position, not 0..V-1."""
    tokens = torch.tensor([[0, 44, 5, 6, 44, 7, 2], [0, 8, 44, 44, 9, 2, 1]])
    positions = torch.arange(7).expand(2, 7)
    visible = torch.tensor([[1, 0, 1, 1, 0, 1, 1], [1, 1, 0, 0, 1, 1, 0]], dtype=torch.bool)
    model = tiny_maelm()
    seen = {}
    hook = model.transformer.register_forward_pre_hook(lambda m, args: seen.update(tokens=args[0], positions=args[1]))
    _, valid = model.encode_visible(tokens, positions, visible)
    hook.remove()
    assert seen["tokens"][valid].tolist() == [0, 5, 6, 7, 2, 0, 8, 9, 2]
    assert seen["positions"][0].tolist() == [0, 2, 3, 5, 6]  # hand-counted: the [MASK]s at 1 and 4 are gone
    assert seen["positions"][1][valid[1]].tolist() == [0, 1, 4, 5]


def test_encoder_on_visible_tokens_equals_the_full_sequence_with_masks_unseen():
    """Encoding the left-packed visible tokens gives, at each of them, what the Transformer gives
    on the full sequence when no query may attend to a [MASK]: same positions, same relative
    distances, same keys (absolute and relative position terms both make this fail otherwise)."""
    examples = [maelm_example(40, 5), maelm_example(27, 6)]
    tokens, positions, kind, _ = batch_examples(examples)
    visible = kind == roles.CONTEXT
    model = tiny_maelm()
    hidden, valid = model.encode_visible(tokens, positions, visible)
    allowed = visible.unsqueeze(1).expand(-1, tokens.size(1), -1)
    full = model.transformer(tokens, positions, allowed)
    assert (~visible & (kind != roles.PAD)).sum() >= 10
    assert torch.allclose(hidden[valid], full[visible], atol=1e-10)
