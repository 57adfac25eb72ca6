import logging

import numpy as np
import torch
from fairseq.data import Dictionary, ListDataset

from fairseq_unilmv2.data.seq2seq_dataset import Seq2SeqDataset, TargetNoise


def _dataset(noise=None, max_source=8, max_target=6):
    d = Dictionary()
    for i in range(30):
        d.add_symbol(f"w{i}")
    pseudo = d.add_symbol("<pseudo>")
    lengths = [3, 12, 5]
    src = ListDataset([torch.tensor(list(range(4, 4 + n)) + [d.eos()]) for n in lengths], [n + 1 for n in lengths])
    tgt = ListDataset([torch.tensor([7, 8, 9, 10, 11, 12, 13, 14][:n] + [d.eos()]) for n in (2, 8, 4)], [3, 9, 5])
    if noise:
        noise = TargetNoise(pseudo, d.nspecial, len(d) - 1, target_mask_prob=0.5)
    return Seq2SeqDataset(src, tgt, d, max_source, max_target, noise, seed=3, name="toy"), d, pseudo


def test_truncation_is_counted_and_keeps_eos(caplog):
    with caplog.at_level(logging.WARNING):
        ds, d, _ = _dataset()
    assert "toy: 1 of 3 sources are longer than --max-source-positions 8" in caplog.text
    assert "toy: 1 of 3 targets are longer than --max-target-positions 6" in caplog.text
    item = ds[1]
    assert len(item["source"]) == 8 and item["source"][0] == d.bos() and item["source"][-1] == d.eos()
    assert len(item["target"]) == 6 and item["target"][-1] == d.eos()
    batch = ds.collater([ds[i] for i in range(3)])
    assert batch["net_input"]["src_lengths"].tolist() == [5, 8, 7]
    prev = batch["net_input"]["prev_output_tokens"]
    assert prev[:, 0].tolist() == [d.eos()] * 3
    assert torch.equal(prev[1, 1:], batch["target"][1, :-1])  # teacher forcing, shifted right


def test_word_drop_noise_is_seeded_per_epoch_and_index():
    ds, d, pseudo = _dataset(noise=True)
    a = [ds[i] for i in range(3)]
    b = [ds[i] for i in range(3)]
    assert all(torch.equal(x["target_input"], y["target_input"]) for x, y in zip(a, b))
    ds.set_epoch(2)
    c = [ds[i] for i in range(3)]
    assert any(not torch.equal(x["pseudo_tokens"], y["pseudo_tokens"]) for x, y in zip(a, c))
    item = a[1]
    dropped = item["target_input"] != item["target"]
    assert torch.equal(item["target_input"][dropped], item["pseudo_tokens"][dropped])
    assert (item["pseudo_tokens"] == pseudo).float().mean() > 0.3


def test_noise_is_batched_apart_from_the_clean_input():
    """Validation, scoring and generation read net_input (clean); only train_step reads
    train_net_input (noised), whatever the split's name."""
    ds, d, pseudo = _dataset(noise=True)
    batch = ds.collater([ds[i] for i in range(3)])
    clean, noised = batch["net_input"], batch["train_net_input"]
    assert "pseudo_tokens" not in clean
    assert clean["prev_output_tokens"][1].tolist() == [d.eos(), 7, 8, 9, 10, 11]  # target 7..11 </s>, shifted
    assert torch.equal(noised["src_tokens"], clean["src_tokens"])
    assert not torch.equal(noised["prev_output_tokens"], clean["prev_output_tokens"])
    assert (noised["pseudo_tokens"] == pseudo).any()


def test_source_without_target_is_checked_against_the_source_limit_only():
    """fairseq-interactive / hub .sample: a 99-token source fits (464, 48) limits."""
    d = Dictionary()
    src = ListDataset([torch.arange(4, 103)], [99])
    ds = Seq2SeqDataset(src, None, d, 464, 48)
    assert ds.size(0) == (100, 0)  # <s> + 99
    kept, ignored = ds.filter_indices_by_size(np.array([0]), (464, 48))
    assert kept.tolist() == [0] and ignored == []
    short = Seq2SeqDataset(src, None, d, 30, 48)  # longer than the source limit: truncated, kept
    kept, _ = short.filter_indices_by_size(np.array([0]), (30, 48))
    assert kept.tolist() == [0] and len(short[0]["source"]) == 30
