"""Seq2seq: cached incremental decoding equals full recomputation (also after beam reordering),
and the target never sees its future (gradients)."""
import pytest
import torch
from fairseq.data import Dictionary

from fairseq_unilmv2.models.seq2seq import UniLMSeq2SeqModel
from fairseq_unilmv2.modules.transformer import UniLMTransformer


def _model(mode, seed=0):
    d = Dictionary()
    for i in range(40):
        d.add_symbol(f"w{i}")
    d.add_symbol("<mask>")
    pseudo = d.add_symbol("<pseudo>")
    torch.manual_seed(seed)
    t = UniLMTransformer(len(d), d.pad(), layers=2, dim=32, ffn_dim=64, heads=4, max_positions=64,
                         num_segments=2, rel_pos_buckets=16, rel_pos_max_distance=32, dropout=0.0,
                         attention_dropout=0.0, activation_dropout=0.0)
    return UniLMSeq2SeqModel(None, t, d, mode, pseudo, 40, 20).double().eval(), d


def _batch(d, lengths, tgt_len, seed):
    g = torch.Generator().manual_seed(seed)
    src = torch.full((len(lengths), max(lengths)), d.pad())
    for i, n in enumerate(lengths):
        src[i, :n] = torch.randint(4, 44, (n,), generator=g)
        src[i, 0], src[i, n - 1] = d.bos(), d.eos()
    prev = torch.randint(4, 44, (len(lengths), tgt_len), generator=g)
    prev[:, 0] = d.eos()
    return src, torch.tensor(lengths), prev


def _full(model, src, lengths, prev):
    return model(src, lengths, prev)[0]


@pytest.mark.parametrize("mode", ["pseudo", "causal"])
def test_incremental_equals_full_recomputation_with_beam_reordering(mode):
    model, d = _model(mode)
    src, lengths, prev = _batch(d, [7, 4, 9], tgt_len=8, seed=1)
    with torch.no_grad():
        full = _full(model, src, lengths, prev)
        enc = model.encoder(src, lengths)
        state = {}
        for i in range(4):
            step = model.decoder(prev[:, : i + 1], enc, incremental_state=state)[0]
            assert step.shape[1] == 1
            torch.testing.assert_close(step[:, 0], full[:, i], atol=1e-9, rtol=0)

        # beam search reorders hypotheses (duplicating some), then they diverge
        order = torch.tensor([2, 0, 0, 1])
        enc = model.encoder.reorder_encoder_out(enc, order)
        model.decoder.reorder_incremental_state_scripting(state, order)
        prefix = prev[order].clone()
        prefix[:, 4:] = torch.randint(4, 44, (4, 4), generator=torch.Generator().manual_seed(2))
        full_reordered = _full(model, src[order], lengths[order], prefix)
        assert not torch.allclose(full_reordered[1, 4:], full_reordered[2, 4:])  # beams differ
        for i in range(4, 6):
            step = model.decoder(prefix[:, : i + 1], enc, incremental_state=state)[0]
            torch.testing.assert_close(step[:, 0], full_reordered[:, i], atol=1e-9, rtol=0)

        # a reorder among hypotheses of the same sentences (rows 1 and 2 share a source): the
        # encoder skips copying the source keys/values, the target cache is still reordered
        swap = torch.tensor([0, 2, 1, 3])
        enc = model.encoder.reorder_encoder_out(enc, swap)
        assert enc["past"][0][0] is model.encoder.reorder_encoder_out(enc, swap)["past"][0][0]
        model.decoder.reorder_incremental_state_scripting(state, swap)
        prefix = prefix[swap]
        full_swapped = _full(model, src[order][swap], lengths[order][swap], prefix)
        for i in range(6, 8):
            step = model.decoder(prefix[:, : i + 1], enc, incremental_state=state)[0]
            torch.testing.assert_close(step[:, 0], full_swapped[:, i], atol=1e-9, rtol=0)


@pytest.mark.parametrize("mode", ["pseudo", "causal"])
def test_prediction_of_target_t_ignores_the_future_and_padding(mode):
    """Logits for y_t depend on the source and y_<t only (gradient w.r.t. input embeddings)."""
    model, d = _model(mode, seed=3)
    src, lengths, prev = _batch(d, [6, 9], tgt_len=6, seed=4)
    t = model.transformer
    captured = {}

    def keep(module, inputs, output):
        output.retain_grad()
        captured.setdefault("emb", []).append(output)

    handle = t.embed_tokens.register_forward_hook(keep)
    logits = _full(model, src, lengths, prev)
    handle.remove()
    src_emb, tgt_emb = captured["emb"]  # encoder call, then decoder call
    for b in range(2):
        for pos in range(prev.size(1)):
            for e in (src_emb, tgt_emb):
                e.grad = None
            logits[b, pos].sum().backward(retain_graph=True)
            seen_src = src_emb.grad[b].abs().sum(-1) > 0
            assert torch.equal(seen_src, src[b].ne(d.pad())), "source padding or source missing"
            assert src_emb.grad[1 - b].abs().sum() == 0, "batch rows leak"
            g = tgt_emb.grad[b].abs().sum(-1) > 0
            if mode == "causal":  # inputs prev_0..prev_pos
                assert g[: pos + 1].all() and not g[pos + 1 :].any()
            else:  # originals y_0..y_{pos-1} (= prev_1..prev_pos), then pseudo slots
                n_orig = prev.size(1) - 1
                assert g[:pos].all() and not g[pos:n_orig].any()
                pseudo = g[n_orig:]
                assert pseudo[pos] and pseudo.sum() == 1  # only its own pseudo mask
