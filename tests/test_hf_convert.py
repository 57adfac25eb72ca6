"""unilmv2-convert-hf / unilmv2-export-hf against transformers itself: tiny randomly initialised
BERT and MPNet models built by transformers, converted and exported, compared through
``extract_features`` / ``output_layer``; the s2s-ft UniLM format against an independent
computation of its attention with the relative bias; refusals that leave nothing behind."""
import json
import math
import os
import subprocess

import pytest
import torch

transformers = pytest.importorskip("transformers")

from fairseq_unilmv2.hf import convert as hf_convert  # noqa: E402
from fairseq_unilmv2.hf import export as hf_export  # noqa: E402
from fairseq_unilmv2.models.unilmv2 import UniLMv2Model  # noqa: E402
from fairseq_unilmv2.tasks.dictionary import VocabDictionary  # noqa: E402

# A WordPiece vocabulary laid out like BERT's: [PAD] first, placeholders, specials, words.
VOCAB = (["[PAD]", "[unused0]", "[unused1]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
         + "the a cat dog sat on mat ran fast slow red big small . , ##s ##ed ##ing and or".split())
TINY = dict(vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=64, max_position_embeddings=40, hidden_act="gelu", layer_norm_eps=1e-12)
TOL = 1e-4


def _randomise(model, seed):
    """Every parameter random (LayerNorms too), so a swapped or skipped tensor shows."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    return model.eval()


def _save_hf(model, folder, vocab=VOCAB):
    model.save_pretrained(folder)
    with open(os.path.join(folder, "vocab.txt"), "w", encoding="utf-8") as f:
        f.writelines(t + "\n" for t in vocab)
    return folder


def _convert(hf_dir, out_dir):
    args = hf_convert.build_parser().parse_args([str(hf_dir), str(out_dir)])
    assert hf_convert.run(args) == 0
    hub = UniLMv2Model.from_pretrained(str(out_dir))
    model = hub.models[0]
    model.eval()
    return model, hub.task


def _batch(pad=0):
    """Right-padded ids of two sentences of different lengths: [CLS] ... [SEP] [PAD]..."""
    ids = torch.tensor([[4, 7, 9, 10, 11, 7, 12, 20, 5], [4, 8, 13, 21, 5, pad, pad, pad, pad]])
    return ids


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory):
    torch.manual_seed(0)
    model = _randomise(transformers.BertForMaskedLM(transformers.BertConfig(**TINY)), 1)
    model.tie_weights()
    return _save_hf(model, tmp_path_factory.mktemp("hf_bert")), model


@pytest.fixture(scope="module")
def mpnet_dir(tmp_path_factory):
    vocab = ["<s>", "<pad>", "</s>", "<unk>"] + VOCAB + ["<mask>"]
    config = transformers.MPNetConfig(**dict(TINY, vocab_size=len(vocab), max_position_embeddings=42))
    model = _randomise(transformers.MPNetForMaskedLM(config), 2)
    model.tie_weights()
    return _save_hf(model, tmp_path_factory.mktemp("hf_mpnet"), vocab), model


def test_bert_import_matches_transformers(bert_dir, tmp_path):
    folder, hf = bert_dir
    ours, task = _convert(folder, tmp_path / "out")
    ids = _batch()
    with torch.no_grad():
        theirs = hf.bert(input_ids=ids, attention_mask=ids.ne(0).long()).last_hidden_state
        features = ours.extract_features(ids)
        assert (features - theirs).abs().max() < TOL  # every position, padding included (BERT's numbering)
        logits = ours.output_layer(features)
        assert (logits[..., : len(VOCAB)] - hf(input_ids=ids, attention_mask=ids.ne(0).long()).logits).abs().max() < TOL
    d = task.source_dictionary
    assert isinstance(d, VocabDictionary)
    assert [d.index(t) for t in VOCAB] == list(range(len(VOCAB)))  # the vocabulary's own ids
    assert (d.pad(), d.bos(), d.eos(), d.unk(), task.mask_idx) == (0, 4, 5, 3, 6)
    assert task.pseudo_idx == len(VOCAB) == len(d) - 1
    assert d.nspecial == 7  # random replacements start after [PAD] [unused*] [UNK] [CLS] [SEP] [MASK]
    emb = ours.transformer.embed_tokens.weight
    assert torch.equal(emb[task.pseudo_idx], emb[6])  # <pseudo> starts as [MASK]


@pytest.mark.parametrize("cls,prefix", [("BertModel", False), ("BertForPreTraining", True)])
def test_bert_variants_keys_without_prefix_and_heads(cls, prefix, tmp_path):
    hf = _randomise(getattr(transformers, cls)(transformers.BertConfig(**TINY)), 3)
    folder = _save_hf(hf, tmp_path / "hf")
    ours, _ = _convert(folder, tmp_path / "out")
    ids = _batch()
    base = hf if cls == "BertModel" else hf.bert
    with torch.no_grad():
        theirs = base(input_ids=ids, attention_mask=ids.ne(0).long()).last_hidden_state
        assert (ours.extract_features(ids) - theirs).abs().max() < TOL
    assert torch.equal(ours.transformer.lm_head.weight, ours.transformer.embed_tokens.weight)  # tied


def test_mpnet_import_matches_transformers(mpnet_dir, tmp_path):
    folder, hf = mpnet_dir
    ours, task = _convert(folder, tmp_path / "out")
    pad = 1
    ids = _batch(pad) + 4  # the MPNet vocabulary lists <s> <pad> </s> <unk> first
    ids[1, 5:] = pad
    real = ids.ne(pad)
    with torch.no_grad():
        out = hf(input_ids=ids, attention_mask=real.long(), output_hidden_states=True)
        features = ours.extract_features(ids)
        # MPNet gives padding positions its padding row (RoBERTa numbering); real tokens are compared
        assert (features - out.hidden_states[-1])[real].abs().max() < TOL
        assert (ours.output_layer(features)[..., : hf.config.vocab_size] - out.logits)[real].abs().max() < TOL
    assert task.mask_idx == hf.config.vocab_size - 1  # the vocabulary's own <mask>


def test_export_reproduces_the_original_and_round_trips(bert_dir, mpnet_dir, tmp_path):
    for name, (folder, hf) in (("bert", bert_dir), ("mpnet", mpnet_dir)):
        _convert(folder, tmp_path / f"{name}-ours")
        assert hf_export.run(hf_export.build_parser().parse_args(
            [str(tmp_path / f"{name}-ours" / "model.pt"), str(tmp_path / f"{name}-hf")])) == 0
        back = transformers.AutoModelForMaskedLM.from_pretrained(tmp_path / f"{name}-hf").eval()
        ids = _batch() if name == "bert" else _batch() + 4
        with torch.no_grad():
            assert (back(input_ids=ids).logits - hf(input_ids=ids).logits).abs().max() < TOL
        # export then import gives back the same weights
        _convert(tmp_path / f"{name}-hf", tmp_path / f"{name}-again")
        first = torch.load(tmp_path / f"{name}-ours" / "model.pt", weights_only=False)["model"]
        again = torch.load(tmp_path / f"{name}-again" / "model.pt", weights_only=False)["model"]
        assert first.keys() == again.keys()
        for k in first:
            assert torch.equal(first[k], again[k]), k
    tok = transformers.AutoTokenizer.from_pretrained(tmp_path / "bert-hf")
    assert tok("the cats sat")["input_ids"] == [4, 7, 9, 22, 11, 5]


def _native_checkpoint(folder, rel_pos_buckets, num_segments, maelm=False):
    """A unilmv2 checkpoint as fairseq-train writes it, on a fairseq dict.txt (WordPiece tokens)."""
    from fairseq_unilmv2.hf.checkpoint import save_checkpoint
    from fairseq_unilmv2.models.unilmv2 import UniLMv2Config
    from fairseq_unilmv2.tasks.dictionary import add_special_symbols, load_dictionary

    os.makedirs(folder)
    words = VOCAB[7:]
    with open(os.path.join(folder, "dict.txt"), "w") as f:
        f.writelines(f"{w} {100 - i}\n" for i, w in enumerate(words))
    d = load_dictionary(os.path.join(folder, "dict.txt"))
    add_special_symbols(d)
    settings = dict(encoder_layers=2, encoder_embed_dim=32, encoder_ffn_embed_dim=64, encoder_attention_heads=4,
                    max_positions=40, num_segments=num_segments, rel_pos_buckets=rel_pos_buckets,
                    rel_pos_max_distance=128, layer_norm_eps=1e-12, activation_fn="gelu", dropout=0.0,
                    attention_dropout=0.0, activation_dropout=0.0)

    class _D(list):
        def pad(self):
            return d.pad()

    model = _randomise(UniLMv2Model(UniLMv2Config(**settings), _D(range(len(d))), mae_decoder=maelm), 5)
    assert (model.mae_decoder is not None) == maelm
    save_checkpoint(os.path.join(folder, "model.pt"), settings, model.state_dict(), str(folder))
    return model, d


@pytest.mark.parametrize("buckets,segments,maelm,arch", [
    (32, 2, False, "MPNetForMaskedLM"), (0, 2, False, "BertForMaskedLM"), (32, 2, True, "MPNetForMaskedLM")])
def test_native_model_exports_its_function(buckets, segments, maelm, arch, tmp_path):
    """Our own models: the relative bias -> MPNet (segment 0 folded into the positions), none ->
    BERT; an MAE-LM checkpoint exports its encoder (MLM logits of the encoder + head)."""
    ours, d = _native_checkpoint(tmp_path / "ck", buckets, segments, maelm)
    assert hf_export.run(hf_export.build_parser().parse_args([str(tmp_path / "ck" / "model.pt"), str(tmp_path / "hf")])) == 0
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert config["architectures"] == [arch]
    hf = transformers.AutoModelForMaskedLM.from_pretrained(tmp_path / "hf").eval()
    ids = torch.tensor([[0, 4, 5, 6, 7, 2], [0, 8, 9, 2, 1, 1]])  # fairseq ids: <s> ... </s> <pad>
    real = ids.ne(1)
    with torch.no_grad():
        theirs = hf(input_ids=ids, attention_mask=real.long()).logits
        mine = ours.output_layer(ours.extract_features(ids))[..., : len(d) - 1]  # <pseudo> not exported
        assert (theirs - mine)[real].abs().max() < TOL
    vocab = (tmp_path / "hf" / "vocab.txt").read_text().split("\n")
    assert vocab[:5] == ["[CLS]", "[PAD]", "[SEP]", "[UNK]", "the"] and vocab[len(d) - 2] == "[MASK]"


# ---- the s2s-ft UniLM format, against an independent computation ------------------------------

def _bucket(rel, num_buckets, max_distance):
    """s2s-ft's relative_position_bucket for one integer (key position - query position)."""
    half = num_buckets // 2
    ret = half if rel > 0 else 0
    n = abs(rel)
    exact = half // 2
    if n < exact:
        return ret + n
    large = exact + int(math.log(n / exact) / math.log(max_distance / exact) * (half - exact))
    return ret + min(large, half - 1)


def _reference_unilm(state, config, ids):
    """BERT with s2s-ft's relative bias (one-hot buckets through a bias-free Linear), written out
    from the formulas, for a right-padded batch (pad id 0)."""
    gelu = torch.nn.functional.gelu
    ln = torch.nn.functional.layer_norm
    eps, h = config["layer_norm_eps"], config["num_attention_heads"]
    s = lambda k: state["bert." + k]  # noqa: E731
    b, t = ids.shape
    x = s("embeddings.word_embeddings.weight")[ids] + s("embeddings.position_embeddings.weight")[:t] \
        + s("embeddings.token_type_embeddings.weight")[0]
    x = ln(x, (x.size(-1),), s("embeddings.LayerNorm.weight"), s("embeddings.LayerNorm.bias"), eps)
    buckets = torch.tensor([[_bucket(k - q, config["rel_pos_bins"], config["max_rel_pos"]) for k in range(t)]
                            for q in range(t)])
    one_hot = torch.nn.functional.one_hot(buckets, config["rel_pos_bins"]).float()
    bias = (one_hot @ s("rel_pos_bias.weight").t()).permute(2, 0, 1)  # (H, T, T)
    key_pad = ids.eq(0)[:, None, None, :]
    for i in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        lin = lambda y, n: y @ s(p + n + ".weight").t() + s(p + n + ".bias")  # noqa: E731
        split = lambda y: y.view(b, t, h, -1).transpose(1, 2)  # noqa: E731
        q, k, v = (split(lin(x, f"attention.self.{n}")) for n in ("query", "key", "value"))
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.size(-1)) + bias
        probs = scores.masked_fill(key_pad, float("-inf")).softmax(-1)
        a = (probs @ v).transpose(1, 2).reshape(b, t, -1)
        x = ln(x + lin(a, "attention.output.dense"), (x.size(-1),), s(p + "attention.output.LayerNorm.weight"),
               s(p + "attention.output.LayerNorm.bias"), eps)
        y = lin(gelu(lin(x, "intermediate.dense")), "output.dense")
        x = ln(x + y, (x.size(-1),), s(p + "output.LayerNorm.weight"), s(p + "output.LayerNorm.bias"), eps)
    return x


def test_s2s_ft_unilm_format(tmp_path):
    config = dict(TINY, model_type="unilm", type_vocab_size=2, rel_pos_bins=32, max_rel_pos=128,
                  max_position_embeddings=300)
    hf = _randomise(transformers.BertForMaskedLM(transformers.BertConfig(**config)), 7)
    state = {k: v.clone() for k, v in hf.state_dict().items()}
    state["bert.rel_pos_bias.weight"] = torch.randn(4, 32)  # (heads, rel_pos_bins), as s2s-ft stores it
    folder = tmp_path / "unilm"
    folder.mkdir()
    torch.save(state, folder / "unilm2-base-uncased.bin")  # s2s-ft's checkpoints: one torch .bin
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "vocab.txt").write_text("".join(t + "\n" for t in VOCAB))
    ours, _ = _convert(folder, tmp_path / "out")
    assert ours.cfg.rel_pos_buckets == 32 and ours.cfg.rel_pos_max_distance == 128
    # long enough that distances reach the log-spaced buckets (>= 8) and saturate (>= 128)
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(7, len(VOCAB), (2, 140), generator=g)
    ids[1, 100:] = 0
    with torch.no_grad():
        want = _reference_unilm(state, config, ids)
        assert (ours.extract_features(ids) - want).abs().max() < TOL

    # exported as MPNet, which has no token types: s2s-ft's trained segment-1 row would be lost, so
    # the export is refused unless --drop-segment-1 says to export segment 0's function
    assert torch.load(tmp_path / "out" / "model.pt", weights_only=False)["cfg"]["model"]["segments_trained"] == 2
    assert hf_export.run(hf_export.build_parser().parse_args([str(tmp_path / "out" / "model.pt"),
                                                              str(tmp_path / "mpnet")])) == 2
    assert not (tmp_path / "mpnet").exists()
    # whose transformers code fixes padding at id 1: [PAD] (id 0 here) and [unused0] (id 1) swap
    # ids in the export, and positions still start right after padding
    assert hf_export.run(hf_export.build_parser().parse_args([str(tmp_path / "out" / "model.pt"),
                                                              str(tmp_path / "mpnet"), "--drop-segment-1"])) == 0
    assert (tmp_path / "mpnet" / "vocab.txt").read_text().split("\n")[:2] == ["[unused0]", "[PAD]"]
    mpnet = transformers.AutoModelForMaskedLM.from_pretrained(tmp_path / "mpnet").eval()
    theirs_ids = ids.clone()
    theirs_ids[ids == 0] = 1
    real = ids.ne(0)
    with torch.no_grad():
        mine = ours.output_layer(ours.extract_features(ids))[..., : len(VOCAB)]
        theirs = mpnet(input_ids=theirs_ids, attention_mask=real.long()).logits
        theirs[..., [0, 1]] = theirs[..., [1, 0]]  # back to our ids
        assert (mine - theirs)[real].abs().max() < TOL


# ---- refusals -----------------------------------------------------------------------------

def _refused(folder, out, capsys):
    code = hf_convert.run(hf_convert.build_parser().parse_args([str(folder), str(out)]))
    assert code == 2
    assert not os.path.exists(out) and not [p for p in os.listdir(os.path.dirname(out)) if p.startswith(".")]
    return capsys.readouterr().err


def test_refusals_name_the_key_and_shapes_and_leave_nothing(bert_dir, tmp_path, capsys):
    folder, hf = bert_dir
    state = dict(hf.state_dict())

    def variant(name, change_state=None, change_config=None):
        d = tmp_path / name
        d.mkdir()
        s = dict(state)
        if change_state:
            change_state(s)
        torch.save(s, d / "pytorch_model.bin")
        cfg = json.loads((folder / "config.json").read_text())
        if change_config:
            change_config(cfg)
        (d / "config.json").write_text(json.dumps(cfg))
        (d / "vocab.txt").write_text((folder / "vocab.txt").read_text())
        return d

    err = _refused(variant("unknown", lambda s: s.update({"bert.encoder.layer.0.extra.weight": torch.zeros(3)})),
                   tmp_path / "o1", capsys)
    assert "'bert.encoder.layer.0.extra.weight'" in err
    err = _refused(variant("missing", lambda s: s.pop("bert.encoder.layer.1.output.dense.bias")), tmp_path / "o2", capsys)
    assert "'bert.encoder.layer.1.output.dense.bias'" in err
    err = _refused(variant("shape", change_config=lambda c: c.update(intermediate_size=80)), tmp_path / "o3", capsys)
    assert "layers.0.fc1.weight" in err and "(80, 32)" in err and "(64, 32)" in err
    err = _refused(variant("gpt", change_config=lambda c: c.update(model_type="gpt2")), tmp_path / "o4", capsys)
    assert "model_type 'gpt2' is not supported" in err


def test_console_scripts_convert_and_export(bert_dir, tmp_path):
    folder, _ = bert_dir
    done = subprocess.run(["unilmv2-convert-hf", str(folder), str(tmp_path / "out")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["checkpoint"] == str(tmp_path / "out" / "model.pt")
    assert (tmp_path / "out" / "dict.txt").read_text().startswith("#unilmv2:vocab-ids bos=[CLS] pad=[PAD] eos=[SEP]")
    again = subprocess.run(["unilmv2-convert-hf", str(folder), str(tmp_path / "out")], capture_output=True, text=True)
    assert again.returncode == 2 and "--force" in again.stderr


def test_damaged_weights_and_out_dir_over_the_input_are_refused(bert_dir, tmp_path, capsys):
    folder, _ = bert_dir
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    for name in ("config.json", "vocab.txt"):
        (damaged / name).write_text((folder / name).read_text())
    (damaged / "model.safetensors").write_bytes((folder / "model.safetensors").read_bytes()[:5000])
    err = _refused(damaged, tmp_path / "o5", capsys)
    assert f"{damaged / 'model.safetensors'} is truncated" in err
    # --force must never delete the input: OUT_DIR = HF_DIR is refused and the input stays
    before = sorted(os.listdir(folder))
    args = hf_convert.build_parser().parse_args([str(folder), str(folder), "--force"])
    assert hf_convert.run(args) == 2 and sorted(os.listdir(folder)) == before
    assert "is (or holds) the input folder" in capsys.readouterr().err
