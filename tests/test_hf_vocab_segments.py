"""Public checkpoint shapes unilmv2-convert-hf must take (issue 20, items 5 and 6):

- one token type (``type_vocab_size: 1``): converted with a second segment row that starts as a
  copy of row 0 (the model computes the original on either segment), ``segments_trained: 1``
  recorded, and ``fairseq-train --task unilm_seq2seq`` (the target side is segment 1) fine-tunes
  it, where it used to stop at the first batch with ``IndexError: index out of range in self``;
- an embedding table padded beyond vocab.txt (``vocab_size`` 32, 27 lines): converted, the padding
  rows named as special fillers that random MLM replacements and generation never use.
"""
import json
import os

import pytest
import torch

transformers = pytest.importorskip("transformers")

from fairseq_unilmv2.generation import internal_symbol_ids  # noqa: E402
from fairseq_unilmv2.hf import convert as hf_convert  # noqa: E402
from fairseq_unilmv2.hf import export as hf_export  # noqa: E402

from .helpers import USER_DIR, check_cli, check_script  # noqa: E402
from .test_hf_convert import TINY, TOL, VOCAB, _batch, _convert, _randomise, _save_hf  # noqa: E402


def _model_cfg(out):
    return torch.load(os.path.join(out, "model.pt"), weights_only=False)["cfg"]["model"]


@pytest.fixture(scope="module")
def one_type(tmp_path_factory):
    """A tiny BertForMaskedLM with type_vocab_size 1, every parameter random, and its conversion."""
    hf = _randomise(transformers.BertForMaskedLM(transformers.BertConfig(**dict(TINY, type_vocab_size=1))), 11)
    hf.tie_weights()
    folder = _save_hf(hf, tmp_path_factory.mktemp("hf_one_type"))
    out = tmp_path_factory.mktemp("conv") / "out"
    ours, task = _convert(folder, out)
    return hf, ours, task, out


def test_one_token_type_converts_with_segment_1_as_a_copy(one_type):
    hf, ours, _, out = one_type
    rows = ours.transformer.embed_segments.weight
    assert rows.shape == (2, TINY["hidden_size"])
    assert torch.equal(rows[1], rows[0])
    assert torch.equal(rows[0], hf.bert.embeddings.token_type_embeddings.weight[0])
    cfg = _model_cfg(out)
    assert (cfg["num_segments"], cfg["segments_trained"]) == (2, 1)
    assert "--num-segments 2" in (out / "train_flags.txt").read_text()
    ids = _batch()
    with torch.no_grad():
        theirs = hf.bert(input_ids=ids, attention_mask=ids.ne(0).long()).last_hidden_state
        assert (ours.extract_features(ids) - theirs).abs().max() < TOL
        # segment 1 computes what the original computes (it had one token type, used everywhere)
        assert (ours.extract_features(ids, torch.ones_like(ids)) - theirs).abs().max() < TOL


def test_one_token_type_fine_tunes_seq2seq(one_type, tmp_path):
    """fairseq-train --task unilm_seq2seq puts the target on segment 1: it used to stop with
    IndexError at the first batch."""
    _, _, _, out = one_type
    words = VOCAB[7:]
    enc = tmp_path / "enc"
    enc.mkdir()
    for split, n in (("train", 16), ("valid", 4)):
        for side, length in (("src", 9), ("tgt", 4)):
            lines = [" ".join(words[(i * 3 + j * (2 if side == "src" else 5)) % len(words)] for j in range(length))
                     for i in range(n)]
            (enc / f"{split}.{side}").write_text("\n".join(lines) + "\n")
    check_script("binarize.py", "--dict", out / "dict.txt", "-s", "src", "-t", "tgt", "--train", enc / "train",
                 "--valid", enc / "valid", "--shards", "1", "--destdir", tmp_path / "bin", "--workers", "1",
                 cwd=tmp_path)
    flags = (out / "train_flags.txt").read_text().split()
    log = check_cli([
        "fairseq-train", str(tmp_path / "bin" / "shard0"), "--user-dir", USER_DIR, "--task", "unilm_seq2seq",
        "-s", "src", "-t", "tgt", *flags, "--finetune-from-model", str(out / "model.pt"),
        "--criterion", "unilm_seq2seq", "--max-source-positions", "24", "--max-target-positions", "8",
        "--optimizer", "adam", "--lr", "1e-4", "--batch-size", "8", "--max-update", "2",
        "--save-dir", str(tmp_path / "ck"), "--no-epoch-checkpoints", "--no-save", "--cpu", "--num-workers", "0",
        "--seed", "1", "--log-format", "simple", "--dropout", "0", "--attention-dropout", "0",
    ], cwd=str(tmp_path))
    assert "done training" in log


@pytest.fixture(scope="module")
def padded(tmp_path_factory):
    """A tiny BertForMaskedLM whose embedding table has 32 rows for the 27 lines of vocab.txt."""
    assert len(VOCAB) == 27
    hf = _randomise(transformers.BertForMaskedLM(transformers.BertConfig(**dict(TINY, vocab_size=32))), 12)
    hf.tie_weights()
    return _save_hf(hf, tmp_path_factory.mktemp("hf_padded")), hf


def test_padded_embedding_table_converts_with_never_used_fillers(padded, tmp_path):
    folder, hf = padded
    ours, task = _convert(folder, tmp_path / "out")
    d = task.source_dictionary
    fillers = [f"[unused{i}]" for i in range(2, 7)]  # after the vocabulary's own [unused0] [unused1]
    assert d.symbols[:27] == VOCAB and d.symbols[27:32] == fillers
    assert task.pseudo_idx == 32 == len(d) - 1
    assert task.random_high == 27  # random MLM replacements: ordinary words only
    banned = internal_symbol_ids(d, task.mask_idx, task.pseudo_idx, task.random_high)
    assert set(range(27, 33)) <= set(banned)  # generation never emits a filler
    ids = _batch()
    with torch.no_grad():
        features = ours.extract_features(ids)
        mask = ids.ne(0).long()
        assert (features - hf.bert(input_ids=ids, attention_mask=mask).last_hidden_state).abs().max() < TOL
        assert (ours.output_layer(features)[..., :32] - hf(input_ids=ids, attention_mask=mask).logits).abs().max() < TOL
    # and back out: the exported model has the 32 rows and computes the same
    assert hf_export.run(hf_export.build_parser().parse_args([str(tmp_path / "out" / "model.pt"),
                                                              str(tmp_path / "hf")])) == 0
    back = transformers.AutoModelForMaskedLM.from_pretrained(tmp_path / "hf").eval()
    with torch.no_grad():
        assert (back(input_ids=ids).logits - hf(input_ids=ids).logits).abs().max() < TOL


@pytest.mark.parametrize("vocab_size,why", [(26, "is vocab.txt this model's"), (40, "not a padding")])
def test_vocab_size_that_is_no_padding_is_refused(tmp_path, capsys, vocab_size, why):
    d = tmp_path / "hf"
    _save_hf(_randomise(transformers.BertForMaskedLM(transformers.BertConfig(**dict(TINY, vocab_size=vocab_size))), 3), d)
    code = hf_convert.run(hf_convert.build_parser().parse_args([str(d), str(tmp_path / "out")]))
    err = capsys.readouterr().err
    assert code == 2 and why in err and f"vocab_size {vocab_size}" in err
    assert not (tmp_path / "out").exists()
    assert json.loads((d / "config.json").read_text())["vocab_size"] == vocab_size
