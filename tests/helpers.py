"""Shared test helpers: tiny models, real bundled text, subprocess runs of fairseq's CLIs."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from fairseq_unilmv2.masking import roles
from fairseq_unilmv2.masking.example import MaskingVocab
from fairseq_unilmv2.masking.pmlm import build_pmlm_example
from fairseq_unilmv2.masking.spans import SpanConfig
from fairseq_unilmv2.modules.transformer import UniLMTransformer

REPO = Path(__file__).resolve().parents[1]
USER_DIR = str(REPO / "fairseq_unilmv2")

# A toy vocabulary: 0..3 fairseq specials (<s>, <pad>, </s>, <unk>), 4..43 words, 44 [M], 45 [P].
BOS, PAD, EOS = 0, 1, 2
VOCAB = MaskingVocab(mask_idx=44, pseudo_idx=45, pad_idx=PAD, random_low=4, random_high=44)
VOCAB_SIZE = 46


def tiny_transformer(seed=0, rel_pos_buckets=32, layers=2):
    torch.manual_seed(seed)
    model = UniLMTransformer(
        vocab_size=VOCAB_SIZE, padding_idx=PAD, layers=layers, dim=32, ffn_dim=64, heads=4,
        max_positions=128, num_segments=2, rel_pos_buckets=rel_pos_buckets, rel_pos_max_distance=64,
        dropout=0.0, attention_dropout=0.0, activation_dropout=0.0,
    )
    return model.double().eval()  # float64: "exactly zero" and 1e-5 comparisons are not about rounding


def random_text(length, seed):
    rng = np.random.default_rng(seed)
    return np.concatenate([[BOS], rng.integers(4, 44, size=length - 2), [EOS]])


def pmlm_example(tokens, seed, mask_prob=0.3):
    rng = np.random.default_rng(seed)
    maskable = (tokens != BOS) & (tokens != EOS)
    return build_pmlm_example(tokens, maskable, VOCAB, SpanConfig(mask_prob=mask_prob), 0.1, 0.1, rng)


def multi_step_example(length, seed, min_steps=3):
    """A sampled example with at least ``min_steps`` factorization steps (deterministic)."""
    for s in range(seed, seed + 100):
        ex = pmlm_example(random_text(length, s), s)
        if len(np.unique(ex.step[ex.step >= 0])) >= min_steps:
            return ex
    raise AssertionError("no multi-step example found")


def lee_corpus_lines():
    """The Lee background corpus bundled with gensim (300 real news documents)."""
    import gensim

    path = Path(gensim.__file__).parent / "test" / "test_data" / "lee_background.cor"
    text = path.read_text(encoding="latin-1").splitlines()
    return [" ".join(re.findall(r"[a-z0-9]+|[^\sa-z0-9]", line.lower())) for line in text]


# fairseq-train on a data-bin in the working directory, tiny model, fixed seed, JSON logs.
PRETRAIN = [
    "fairseq-train", "bin", "--user-dir", USER_DIR, "--task", "pmlm", "--criterion", "pmlm",
    "--arch", "unilmv2_tiny", "--tokens-per-sample", "128", "--batch-size", "16",
    "--optimizer", "adam", "--lr", "1e-3", "--lr-scheduler", "inverse_sqrt", "--warmup-updates", "10",
    "--log-format", "json", "--log-interval", "5", "--save-dir", "ck", "--no-epoch-checkpoints",
    "--seed", "7", "--num-workers", "0", "--cpu", "--dropout", "0.0", "--attention-dropout", "0.0",
]


def inner_logs(output):
    """The train_inner rows of a --log-format json fairseq-train log."""
    rows = []
    for line in output.splitlines():
        if "| train_inner |" in line:
            rows.append(json.loads(line.split("| train_inner | ", 1)[1]))
    return rows



def run_cli(args, cwd, timeout=600):
    """Run a console entry point of the active environment; fail with its output."""
    exe = str(Path(sys.executable).parent / args[0])
    env = dict(os.environ, PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1")
    proc = subprocess.run([exe, *args[1:]], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    return proc


def check_cli(args, cwd, timeout=600):
    proc = run_cli(args, cwd, timeout)
    assert proc.returncode == 0, f"{' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return proc.stdout + proc.stderr


def batch_examples(examples):
    """Right-padded (tokens, positions, kind, step) tensors of packed examples."""
    length = max(len(e.tokens) for e in examples)

    def pad(name, value):
        out = torch.full((len(examples), length), value, dtype=torch.long)
        for i, e in enumerate(examples):
            v = getattr(e, name)
            out[i, : len(v)] = torch.from_numpy(np.asarray(v))
        return out

    return pad("tokens", PAD), pad("positions", 0), pad("kind", roles.PAD), pad("step", -1)


def input_dependency(model, tokens, positions, allowed):
    """dep[b, q, k]: does output q depend on input embedding k (gradient non-zero)?"""
    x = model.embed(tokens, positions).detach().requires_grad_(True)
    hidden, _ = model.encode(x, model.attention_bias(allowed, positions, positions))
    probe = torch.randn(hidden.size(-1), dtype=hidden.dtype, generator=torch.Generator().manual_seed(0))
    b, length = tokens.shape
    dep = torch.zeros(b, length, length, dtype=torch.bool)
    for q in range(length):
        (grad,) = torch.autograd.grad((hidden[:, q] @ probe).sum(), x, retain_graph=True)
        dep[:, q] = grad.abs().sum(-1) > 0
    return dep


# preprocess/ CLIs as subprocesses, on real text bundled with gensim
GENSIM_DATA = Path(__import__("gensim").__file__).parent / "test" / "test_data"
LEE = GENSIM_DATA / "lee_background.cor"  # 300 ABC news stories, one a line, valid UTF-8
LEE_TEST = GENSIM_DATA / "lee.cor"  # 50 more; line 41 holds a latin-1 pound sign (invalid UTF-8)
WIKI_PARAGRAPHS = GENSIM_DATA / "para2para_text1.txt"  # Wikipedia paragraphs, one a line


def run_script(name, *args, cwd, timeout=600, **kwargs):
    """Run preprocess/NAME with ``args``; returns the CompletedProcess (text output)."""
    env = dict(os.environ, PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1")
    kwargs.setdefault("text", True)
    return subprocess.run([sys.executable, str(REPO / "preprocess" / name), *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, timeout=timeout, check=False, **kwargs)


def check_script(name, *args, cwd):
    """Run preprocess/NAME, which must succeed; returns its JSON summary (last stdout line)."""
    proc = run_script(name, *args, cwd=cwd)
    assert proc.returncode == 0, f"{name} {args} failed:\n{proc.stderr[-4000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def read_lines(path):
    """A text file's lines as the preprocess tools and fairseq-preprocess see them: split on
    "\\n" only (not str.splitlines, which also splits on \\r, \\x0b, \\x85, \\u2028, ...)."""
    text = Path(path).read_bytes().decode("utf-8")
    if not text:
        return []
    return text[:-1].split("\n") if text.endswith("\n") else text.split("\n")


def encode_lee_in_two_files(d, *encode_args):
    """In folder ``d``: SentencePiece (1500 pieces) trained on the Lee corpus (spm.model,
    spm.dict.txt), the corpus split into raw/a.txt (150 documents) and raw/b.txt (the rest) and
    encoded into enc/a.txt and enc/b.txt, long documents split at 128 tokens."""
    proc = run_script("spm.py", "train", "--input", LEE, "--model-prefix", "spm", "--vocab-size", "1500",
                      "--character-coverage", "1.0", "--max-sentence-length", "65536", cwd=d)
    assert proc.returncode == 0, proc.stderr
    raw = read_lines(LEE)
    (d / "raw").mkdir()
    (d / "raw/a.txt").write_text("\n".join(raw[:150]) + "\n")
    (d / "raw/b.txt").write_text("\n".join(raw[150:]) + "\n")
    check_script("encode.py", "--spm-model", "spm.model", "--input", "raw/a.txt", "raw/b.txt", "--output-dir", "enc",
                 "--tokens-per-sample", "128", *encode_args, cwd=d)


class WhitespaceTokenizer:
    """A SQuAD tokenizer stand-in (squad/features.py's ``encode(text) -> (pieces, char spans)``):
    one piece per whitespace-separated word, with its character span in ``text``."""

    def encode(self, text):
        pieces, spans, pos = [], [], 0
        for w in text.split():
            pos = text.index(w, pos)
            pieces.append(w)
            spans.append((pos, pos + len(w)))
            pos += len(w)
        return pieces, spans
