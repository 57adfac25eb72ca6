"""unilmv2-export-hf of a model trained on a SentencePiece data-bin (issue 20, item 15): with
``--spm-model`` the folder holds a tokenizer.json that ``AutoTokenizer`` loads and whose ids are the
checkpoint's dictionary ids -- checked on the 300 real Lee documents (and awkward text) encoded
both ways: preprocess/spm.py encode + fairseq's Dictionary.encode_line (what fairseq-preprocess
does), and the exported tokenizer; transformers' model then computes our logits on those ids.
Without ``--spm-model`` the export is refused (it used to write a folder that AutoTokenizer
loaded as an empty tokenizer, crashing on first use with ``Missing [UNK] token``)."""
import os

import pytest
import torch

transformers = pytest.importorskip("transformers")

from fairseq_unilmv2.hf import export as hf_export  # noqa: E402
from fairseq_unilmv2.hf.checkpoint import save_checkpoint  # noqa: E402
from fairseq_unilmv2.models.unilmv2 import UniLMv2Config, UniLMv2Model  # noqa: E402
from fairseq_unilmv2.tasks.dictionary import add_special_symbols, load_dictionary  # noqa: E402

from .helpers import LEE, read_lines, run_script  # noqa: E402
from .test_hf_convert import TOL, _randomise  # noqa: E402

AWKWARD = [
    "Naïve café — “quoted”  double  spaces\tand a tab",
    "   leading and trailing spaces   ",
    "ＦＵＬＬ width ① and ligature ﬁ",
    "emoji 🙂 and 日本語 the corpus lacks",
    "▁starts with the escape mark",
    "",
]


def _spm(folder, model_type):
    proc = run_script("spm.py", "train", "--input", LEE, "--model-prefix", f"spm_{model_type}", "--vocab-size", "700",
                      "--model-type", model_type, cwd=folder)
    assert proc.returncode == 0, proc.stderr
    return folder / f"spm_{model_type}.model", folder / f"spm_{model_type}.dict.txt"


def _checkpoint(folder, dict_path, rel_pos_buckets):
    """A random unilmv2 model on the SentencePiece dict.txt, saved as fairseq-train saves one."""
    os.makedirs(folder)
    (folder / "dict.txt").write_bytes(dict_path.read_bytes())
    d = load_dictionary(str(folder / "dict.txt"))
    add_special_symbols(d)
    settings = dict(encoder_layers=2, encoder_embed_dim=32, encoder_ffn_embed_dim=64, encoder_attention_heads=4,
                    max_positions=256, num_segments=2, rel_pos_buckets=rel_pos_buckets, rel_pos_max_distance=128,
                    layer_norm_eps=1e-12, activation_fn="gelu", dropout=0.0, attention_dropout=0.0,
                    activation_dropout=0.0)
    model = _randomise(UniLMv2Model(UniLMv2Config(**settings), d), 41)
    save_checkpoint(str(folder / "model.pt"), settings, model.state_dict(), str(folder))
    return model, d


@pytest.fixture(scope="module")
def spm_models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("spm")
    return folder, {t: _spm(folder, t) for t in ("unigram", "bpe")}


def _fairseq_ids(folder, spm_model, dictionary, lines):
    """Text -> ids the way the data-bin got them: spm.py encode, then fairseq-preprocess's
    Dictionary.encode_line (append </s>)."""
    (folder / "raw.txt").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    proc = run_script("spm.py", "encode", "--model", spm_model, cwd=folder, stdin=open(folder / "raw.txt", "rb"))
    assert proc.returncode == 0, proc.stderr
    pieces = proc.stdout.split("\n")[: len(lines)]
    return [dictionary.encode_line(p, add_if_not_exist=False, append_eos=True).tolist() for p in pieces]


@pytest.mark.parametrize("model_type,buckets,arch", [("unigram", 32, "MPNetForMaskedLM"),
                                                     ("bpe", 0, "BertForMaskedLM")])
def test_spm_export_tokenizes_with_the_dictionary_ids(spm_models, tmp_path, model_type, buckets, arch):
    folder, models = spm_models
    spm_model, dict_path = models[model_type]
    ours, d = _checkpoint(tmp_path / "ck", dict_path, buckets)
    assert hf_export.run(hf_export.build_parser().parse_args(
        [str(tmp_path / "ck" / "model.pt"), str(tmp_path / "hf"), "--spm-model", str(spm_model)])) == 0
    assert not (tmp_path / "hf" / "vocab.txt").exists()
    tok = transformers.AutoTokenizer.from_pretrained(tmp_path / "hf")
    lines = read_lines(LEE) + AWKWARD
    want = _fairseq_ids(tmp_path, spm_model, d, lines)
    got = tok(lines)["input_ids"]
    mismatches = [(i, lines[i][:50]) for i in range(len(lines)) if got[i] != [d.bos()] + want[i]]
    assert not mismatches, mismatches[:3]
    ids = [i for w in want[:300] for i in w]
    assert len(ids) > 20000 and 0 < ids.count(d.unk()) < 0.01 * len(ids)  # real pieces (and a few <unk>s: the path both ways)
    # the specials the tokenizer knows are the dictionary's own
    assert (tok.bos_token_id, tok.pad_token_id, tok.eos_token_id, tok.unk_token_id, tok.mask_token_id) == (
        d.bos(), d.pad(), d.eos(), d.unk(), d.index("<mask>"))
    import sentencepiece

    sp = sentencepiece.SentencePieceProcessor(model_file=str(spm_model))
    for line in [x for x in lines[:20] + AWKWARD if 0 not in sp.encode(x)]:  # decoding: SentencePiece's text
        assert tok.decode(tok(line)["input_ids"], skip_special_tokens=True) == sp.decode(sp.encode(line))
    a, b = lines[0][:80], lines[1][:80]
    fa, fb = _fairseq_ids(tmp_path, spm_model, d, [a, b])
    pair = tok(a, b)
    assert pair["input_ids"] == [d.bos()] + fa + [d.eos()] + fb  # <s> a </s> </s> b </s>
    if "token_type_ids" in pair:  # BERT: the second sentence from the second </s> on is segment 1
        assert pair["token_type_ids"] == [0] * (1 + len(fa)) + [1] * (1 + len(fb))
    # transformers' model on the tokenizer's output computes our logits
    hf = getattr(transformers, arch).from_pretrained(tmp_path / "hf").eval()
    batch = tok(lines[:4], return_tensors="pt", padding=True, truncation=True, max_length=64)
    assert ("token_type_ids" in batch) == (arch.startswith("Bert"))
    with torch.no_grad():
        theirs = hf(**batch).logits
        mine = ours.output_layer(ours.extract_features(batch["input_ids"]))[..., : len(d) - 1]
        real = batch["attention_mask"].bool()
        assert (theirs - mine)[real].abs().max() < TOL


def test_spm_vocabulary_without_spm_model_is_refused(spm_models, tmp_path, capsys):
    folder, models = spm_models
    _, dict_path = models["unigram"]
    _checkpoint(tmp_path / "ck", dict_path, 32)
    args = [str(tmp_path / "ck" / "model.pt"), str(tmp_path / "hf")]
    assert hf_export.run(hf_export.build_parser().parse_args(args)) == 2
    err = capsys.readouterr().err
    assert "--spm-model" in err and "--no-tokenizer" in err and not (tmp_path / "hf").exists()
    # another SentencePiece model than the data's: its pieces are not the dictionary's
    other, _ = models["bpe"]
    assert hf_export.run(hf_export.build_parser().parse_args(args + ["--spm-model", str(other)])) == 2
    err = capsys.readouterr().err
    assert "the dictionary lacks" in err and "is it the SentencePiece model the data was encoded with" in err
    assert not (tmp_path / "hf").exists()
    # --no-tokenizer: the model alone, said so
    assert hf_export.run(hf_export.build_parser().parse_args(args + ["--no-tokenizer"])) == 0
    assert "AutoTokenizer cannot load this folder" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path / "hf")) == ["config.json", "model.safetensors"]
