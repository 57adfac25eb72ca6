"""What ``--task unilm_seq2seq`` generation never lets a hypothesis continue with.

fairseq's SequenceGenerator calls ``self.repeat_ngram_blocker(tokens, lprobs, bsz, beam_size,
step)`` on every step, just before ``search.step`` (beam search, sampling, diverse siblings and
the constrained searches alike). :class:`TokenBlocker` takes that place and bans

1. the task's internal symbols at every step: ``<mask>``, ``<pseudo>`` and fairseq-preprocess's
   ``madeupwordNNNN`` fillers, none of which is ever valid output (``pad`` and ``unk`` stay
   fairseq's business: pad is banned by the generator, ``--unkpen`` still applies);
2. with ``--no-repeat-ngram-size n``, the completions of repeated n-grams, by
   :func:`~.ngram.banned_ngram_completions` on the tokens generated so far.

When these bans, together with fairseq's own (``</s>`` before ``--min-len``, pad), leave a
hypothesis no token at all (``--no-repeat-ngram-size 1`` once every word of a short vocabulary
has been used, say), ``</s>`` is let through with the model's own log-probability, so that the
hypothesis ends, shorter than ``--min-len``. Left at ``-inf``, such a hypothesis could never
finish (fairseq only finalises ``</s>`` with a finite score) and beam search would stop with
``AssertionError: step < max_len``; sampling would fail on a row of zeros.

Why not fairseq's own NGramRepeatBlock: in the pinned fairseq its CPU path compares the tail of
the padded token buffer (always pad) instead of the last generated tokens, so it never bans
anything (upstream fairseq issue 5206); it has no ignore-word exemption either. The rule here is
plain tensor code, so it runs the same on CPU and CUDA (fairseq's CUDA extension is not used),
and it never waits for the device: the bans are written with ``index_fill_``/``scatter_reduce_``
from tensors already there (no ``nonzero``, no host-to-device copy after the first step).
"""
import math
from typing import Dict, Iterable, Optional, Tuple

import torch
from torch import Tensor, nn

from .ngram import ignore_table, ngram_repeats


class TokenBlocker(nn.Module):
    """Drop-in for fairseq's ``NGramRepeatBlock`` (same call signature).

    Args:
        banned_ids: token ids banned at every step (the internal symbols).
        no_repeat_ngram_size: n of the n-gram rule; 0 turns the rule off.
        ignore_ids: ids exempt from the n-gram rule (s2s-ft ``--forbid_ignore_word``).
        eos: never banned. With ``--sampling``, fairseq keeps decoding rows that already drew
            ``</s>`` (they are ignored, not removed), so ``</s>`` can be in a row's history; at the
            length limit ``</s>`` is the only token left, and banning it would leave nothing to
            draw (``torch.multinomial`` fails on an all-zero row).

    :meth:`remember_eos` must be given each step's log-probabilities before fairseq bans
    ``</s>`` for ``--min-len`` (:func:`~fairseq_unilmv2.generation.build_generator` wires it to
    the generator's model); a row left without any token then ends with that ``</s>`` score.
    """

    def __init__(self, banned_ids: Iterable[int], no_repeat_ngram_size: int = 0,
                 ignore_ids: Optional[Iterable[int]] = None, eos: int = 2):
        super().__init__()
        banned_ids = sorted(set(banned_ids))
        if eos in banned_ids:
            raise ValueError(f"the end-of-sentence id {eos} cannot be banned")
        self.eos = eos
        if no_repeat_ngram_size < 0:
            raise ValueError(f"--no-repeat-ngram-size must be >= 0, got {no_repeat_ngram_size}")
        self.no_repeat_ngram_size = no_repeat_ngram_size
        self.register_buffer("banned_ids", torch.tensor(banned_ids, dtype=torch.long), persistent=False)
        self.register_buffer("ignore_ids", torch.tensor(sorted(set(ignore_ids or ())), dtype=torch.long),
                             persistent=False)
        # fairseq never moves the generator to the GPU: the ids are copied there once, on the
        # first step, and kept per (device, vocabulary size).
        self._on_device: Dict[Tuple[torch.device, int], Tuple[Tensor, Optional[Tensor]]] = {}
        self._model_eos: Optional[Tensor] = None

    def remember_eos(self, lprobs: Tensor) -> None:
        """Keep ``lprobs[:, eos]`` (``(rows,)``, a copy) of the step about to be blocked:
        ``lprobs`` is the model's ``(rows, V)`` output, before fairseq changes it in place."""
        self._model_eos = lprobs[:, self.eos].clone()

    def _tables(self, device: torch.device, vocab: int) -> Tuple[Tensor, Optional[Tensor]]:
        key = (device, vocab)
        if key not in self._on_device:
            self._on_device[key] = (self.banned_ids.to(device), ignore_table(self.ignore_ids, vocab, device))
        return self._on_device[key]

    def forward(self, tokens: Tensor, lprobs: Tensor, bsz: int, beam_size: int, step: int) -> Tensor:
        """
        Args:
            tokens: ``(bsz * beam_size, >= step + 1)`` fairseq's token buffer: BOS in column 0,
                the ``step`` tokens generated so far in columns ``1..step``, pad after.
            lprobs: ``(bsz * beam_size, V)`` next-token log-probabilities, changed in place.
        Returns:
            ``lprobs`` with the banned entries at ``-inf``, and ``</s>`` at the remembered model
            score in rows where nothing else would be left.
        """
        if lprobs.size(0) != tokens.size(0):
            raise ValueError(f"{tokens.size(0)} hypotheses in tokens but {lprobs.size(0)} rows in lprobs")
        banned, ignored = self._tables(lprobs.device, lprobs.size(1))
        lprobs.index_fill_(1, banned, -math.inf)
        n = self.no_repeat_ngram_size
        if n > 0 and step >= n:  # step tokens generated: a repeat needs a complete earlier n-gram
            match, completions = ngram_repeats(tokens[:, 1 : step + 1], n, ignored)
            match &= completions != self.eos
            # min(lprobs, -inf) where banned, min(lprobs, +inf) = lprobs elsewhere: exact, and
            # deterministic where a token is both a ban and a non-ban of one row (amin, not scatter_)
            update = torch.full(completions.shape, math.inf, dtype=lprobs.dtype, device=lprobs.device)
            lprobs.scatter_reduce_(1, completions, update.masked_fill_(match, -math.inf), reduce="amin")
        model_eos, self._model_eos = self._model_eos, None  # this step's only: never a stale one
        if model_eos is not None:
            # no legal token left: end the hypothesis (torch.where, no host sync)
            stuck = torch.isneginf(lprobs).all(1)
            lprobs[:, self.eos] = torch.where(stuck, model_eos.to(lprobs.dtype), lprobs[:, self.eos])
        return lprobs
