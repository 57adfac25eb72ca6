"""The SQuAD data-bin that ``python -m fairseq_unilmv2.squad prepare`` writes and ``--task squad``
and ``predict`` read. A folder of::

    dict.txt            the model's dictionary (copied from --dict)
    SPLIT.npz           numpy arrays, one row per window (feature) unless said otherwise:
                          tokens (int32, all windows' input ids one after another),
                          sizes (int32, tokens per window), context_start / context_end (int32,
                          token positions of the window's context subwords, end exclusive),
                          doc_offset (int32, index of the window's first context subword in its
                          example), start / end (int32, target positions; 0 = no answer in the
                          window), example (int32, example index), max_context (bool, one per
                          context subword of each window, in order), spans (int32, N x 2: the
                          [start, end) characters of every context subword of every example, in
                          order), span_sizes (int32, context subwords per example)
    SPLIT.examples.json [{"id", "context", "answerable"}] in example order
    squad.json          the settings (version, layout, max_seq_length, doc_stride,
                        max_query_length, tokenizer) and the splits with their source files and
                        counts; written last, so its presence marks a complete folder

Each file is written under a temporary name and renamed.
"""
import json
import os
from typing import Dict, List, NamedTuple

import numpy as np

FORMAT = "unilmv2-squad-1"
META = "squad.json"


def _replace(path, write):
    tmp = path + ".tmp"
    write(tmp)
    os.replace(tmp, path)


def write_split(destdir: str, split: str, encoded, examples) -> Dict:
    """Write ``SPLIT.npz`` and ``SPLIT.examples.json``; returns the split's entry of squad.json."""
    feats = encoded.features
    arrays = {
        "tokens": np.concatenate([f.tokens for f in feats]).astype(np.int32),
        "sizes": np.array([len(f.tokens) for f in feats], dtype=np.int32),
        "max_context": np.concatenate([f.max_context for f in feats]).astype(bool),
        "spans": np.array([s for spans in encoded.spans for s in spans], dtype=np.int32).reshape(-1, 2),
        "span_sizes": np.array([len(s) for s in encoded.spans], dtype=np.int32),
    }
    for name in ("context_start", "context_end", "doc_offset", "start", "end", "example"):
        arrays[name] = np.array([getattr(f, name) for f in feats], dtype=np.int32)

    def save_npz(tmp):
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)

    def save_examples(tmp):
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump([{"id": e.qid, "context": e.context, "answerable": not e.is_impossible} for e in examples],
                      f, ensure_ascii=False)

    _replace(os.path.join(destdir, f"{split}.npz"), save_npz)
    _replace(os.path.join(destdir, f"{split}.examples.json"), save_examples)
    return {"examples": len(examples), "features": len(feats),
            "answers_in_window": int(sum(f.start > 0 for f in feats))}


def write_meta(destdir: str, meta: Dict):
    def save(tmp):
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"format": FORMAT, **meta}, f, indent=2)
            f.write("\n")

    _replace(os.path.join(destdir, META), save)


def read_meta(destdir: str) -> Dict:
    """squad.json of ``destdir``. Raises FileNotFoundError/ValueError saying how to make one."""
    path = os.path.join(destdir, META)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{path} not found: {destdir} is not a SQuAD data-bin (or its preparation did not finish); "
            f"write one with: python -m fairseq_unilmv2.squad prepare --train train.json --valid dev.json "
            f"--dict DICT --spm-model MODEL (or --wordpiece-vocab VOCAB) --destdir {destdir}")
    with open(path, encoding="utf-8") as f:
        meta = json.load(f)
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path}: format {meta.get('format')!r}, expected {FORMAT!r}: prepare the data-bin again")
    return meta


class Split(NamedTuple):
    """One split as read back: the npz arrays, ``offsets`` (window i's tokens are
    ``tokens[offsets[i]:offsets[i + 1]]``), ``context_offsets`` (the same for ``max_context``),
    ``span_offsets`` (example j's subword spans are ``spans[span_offsets[j]:span_offsets[j + 1]]``)
    and the examples."""

    arrays: Dict[str, np.ndarray]
    offsets: np.ndarray
    context_offsets: np.ndarray
    span_offsets: np.ndarray
    examples: List[Dict]

    def __len__(self):
        return len(self.arrays["sizes"])

    def tokens(self, i: int) -> np.ndarray:
        return self.arrays["tokens"][self.offsets[i]:self.offsets[i + 1]]

    def max_context(self, i: int) -> np.ndarray:
        return self.arrays["max_context"][self.context_offsets[i]:self.context_offsets[i + 1]]

    def example_spans(self, j: int) -> np.ndarray:
        return self.arrays["spans"][self.span_offsets[j]:self.span_offsets[j + 1]]


def _offsets(sizes):
    return np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])


def read_split(destdir: str, split: str) -> Split:
    meta = read_meta(destdir)
    if split not in meta.get("splits", {}):
        raise FileNotFoundError(
            f"{destdir} has no split {split!r} (it has {', '.join(meta.get('splits', {})) or 'none'}): "
            f"prepare it with --{split} FILE.json")
    with np.load(os.path.join(destdir, f"{split}.npz")) as z:
        arrays = {k: z[k] for k in z.files}
    with open(os.path.join(destdir, f"{split}.examples.json"), encoding="utf-8") as f:
        examples = json.load(f)
    return Split(arrays, _offsets(arrays["sizes"]), _offsets(arrays["context_end"] - arrays["context_start"]),
                 _offsets(arrays["span_sizes"]), examples)
