"""The final ranking of beam hypotheses: fairseq's ``length ** lenpen`` or GNMT's.

fairseq's SequenceGenerator divides a finished hypothesis' summed log-probability by
``length ** --lenpen`` (``--unnormalized``: by 1). s2s-ft's beam search, which produced UniLM's
published summarisation and question-generation results, divides by GNMT's
``((5 + length) / 6) ** alpha`` (Wu et al. 2016, eq. 14; s2s-ft ``--length_penalty alpha``,
0 = the raw sum), only when picking the final hypothesis. ``length`` counts the generated tokens
including the final ``</s>``, as fairseq's does.

In fairseq's beam search the normalisation decides nothing but the final order: which
hypotheses finish does not depend on it (``finalize_hypos`` normalises only the finished ones'
scores, and the search stops once ``beam`` hypotheses per sentence have finished). So GNMT
ranking = generating unnormalised, then dividing each finished score by the GNMT penalty and
sorting again, which is what :func:`rerank_gnmt` does.
"""
from typing import Dict, List

import torch


def gnmt_penalty(length: int, alpha: float) -> float:
    """``((5 + length) / 6) ** alpha``; 1 for ``alpha`` 0."""
    return ((5.0 + length) / 6.0) ** alpha


def rerank_gnmt(finalized: List[List[Dict[str, torch.Tensor]]], alpha: float) -> List[List[Dict[str, torch.Tensor]]]:
    """Rescore fairseq's unnormalised hypotheses (``score`` = sum of ``positional_scores``) with
    GNMT's penalty and sort each sentence's list best first (stable: ties keep fairseq's order).
    Modifies the hypothesis dicts in place and returns ``finalized``."""
    for hypos in finalized:
        for h in hypos:
            h["score"] = h["score"] / gnmt_penalty(int(h["tokens"].numel()), alpha)
        hypos.sort(key=lambda h: -float(h["score"]))
    return finalized


def use_gnmt(generator, alpha: float):
    """Make ``generator`` (a fairseq SequenceGenerator) rank its finished hypotheses by GNMT's
    penalty with ``alpha``: its scores are left unnormalised and reranked after each search."""
    generator.normalize_scores = False
    search = generator._generate

    def _generate(*args, **kwargs):
        return rerank_gnmt(search(*args, **kwargs), alpha)

    generator._generate = _generate
    return generator
