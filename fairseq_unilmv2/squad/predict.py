"""Start/end logits of every window -> the answer of every question, as the official
``predictions.json`` holds it (question id -> answer text; "" = no answer).

BERT's ``write_predictions`` (google-research/bert ``run_squad.py``, Devlin et al. 2019 §4.2-4.3):

- in each window, the ``n_best_size`` highest start and end logits over the context subwords
  are paired; a pair is a candidate when end >= start, it spans at most ``max_answer_length``
  subwords, and its start subword has its most context in this window; its score is
  ``start_logit + end_logit``;
- the candidates of all the question's windows are ranked by score; the best is the answer,
  its text the context's characters from the first subword's first character to the last
  subword's last (the offsets recorded by ``features.py``);
- SQuAD 2.0: the no-answer score is ``start_logit[0] + end_logit[0]`` (the first token), the
  smallest over the windows; the answer is "" when that score exceeds the best candidate's by
  more than ``null_score_diff_threshold``; the difference is the question's entry in
  ``null_odds.json`` (pass it to ``evaluate --na-prob-file`` to find the best threshold).

``nbest`` lists the ``n_best_size`` distinct answer texts with their softmax probability over
that list (the no-answer entry included for 2.0), and their start and end logits.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Sequence, Tuple

import numpy as np


@dataclass
class PredictConfig:
    n_best_size: int = field(default=20, metadata={"help": "start and end candidates per window, and n-best list length"})
    max_answer_length: int = field(default=30, metadata={"help": "longest answer, in subwords"})
    null_score_diff_threshold: float = field(
        default=0.0, metadata={"help": "SQuAD 2.0: answer \"\" when the no-answer score exceeds the best "
                               "span's by more than this (tune it on dev: evaluate --na-prob-file null_odds.json)"})


def _top(logits: np.ndarray, low: int, high: int, n: int) -> np.ndarray:
    """Positions in ``[low, high)`` of the ``n`` largest logits, best first."""
    order = np.argsort(-logits[low:high], kind="stable")[:n]
    return order + low


def _softmax(scores: Sequence[float]) -> List[float]:
    x = np.asarray(scores, dtype=np.float64)
    e = np.exp(x - x.max())
    return (e / e.sum()).tolist()


def predict_answers(split, start_logits: Sequence[np.ndarray], end_logits: Sequence[np.ndarray], version: str,
                    cfg: PredictConfig) -> Tuple[Dict[str, str], Dict[str, list], Dict[str, float]]:
    """``(predictions, nbest, null_odds)`` for every example of ``split`` (a ``databin.Split``).

    ``start_logits[i]``/``end_logits[i]``: the logits (at least ``sizes[i]`` long) of window i.
    ``null_odds`` is empty for SQuAD 1.1.
    """
    a = split.arrays
    if len(start_logits) != len(split) or len(end_logits) != len(split):
        raise ValueError(f"{len(start_logits)} start and {len(end_logits)} end logit rows for {len(split)} windows")
    by_example: Dict[int, List[int]] = {}
    for i, j in enumerate(a["example"]):
        by_example.setdefault(int(j), []).append(i)
    predictions, nbest, null_odds = {}, {}, {}
    for j, example in enumerate(split.examples):
        spans, context = split.example_spans(j), example["context"]
        candidates, null = [], None  # candidates: (score, start_logit, end_logit, text)
        for i in by_example.get(j, []):
            s_log, e_log = np.asarray(start_logits[i], dtype=np.float64), np.asarray(end_logits[i], dtype=np.float64)
            cs, ce, offset = int(a["context_start"][i]), int(a["context_end"][i]), int(a["doc_offset"][i])
            best_context = split.max_context(i)
            if version == "2.0" and (null is None or s_log[0] + e_log[0] < null[0]):
                null = (s_log[0] + e_log[0], s_log[0], e_log[0])
            ends = _top(e_log, cs, ce, cfg.n_best_size)
            for s in _top(s_log, cs, ce, cfg.n_best_size):
                if not best_context[s - cs]:
                    continue
                for e in ends:
                    if e < s or e - s + 1 > cfg.max_answer_length:
                        continue
                    text = context[spans[offset + s - cs][0]:spans[offset + e - cs][1]]
                    if text:  # subwords of whitespace alone span no character
                        candidates.append((s_log[s] + e_log[e], s_log[s], e_log[e], text))
        candidates.sort(key=lambda c: -c[0])
        seen, kept = set(), []
        for c in candidates:
            if c[3] not in seen:
                seen.add(c[3])
                kept.append(c)
            if len(kept) == cfg.n_best_size:
                break
        best = kept[0] if kept else (0.0, 0.0, 0.0, "")  # BERT's "empty" entry when nothing qualifies
        answer = best[3]
        entries = list(kept)
        if null is not None:
            diff = null[0] - best[0]
            null_odds[example["id"]] = float(diff)
            if diff > cfg.null_score_diff_threshold:
                answer = ""
            entries.append((null[0], null[1], null[2], ""))
            entries.sort(key=lambda c: -c[0])
        if not entries:
            entries = [best]
        probs = _softmax([c[0] for c in entries])
        predictions[example["id"]] = answer
        nbest[example["id"]] = [
            {"text": c[3], "probability": p, "start_logit": float(c[1]), "end_logit": float(c[2])}
            for c, p in zip(entries, probs)]
    return predictions, nbest, null_odds
