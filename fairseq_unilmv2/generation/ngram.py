"""The n-gram blocking rule of beam search (``--no-repeat-ngram-size``), as a pure function.

Rule (s2s-ft ``BertForSeq2SeqDecoder.beam_search``, ``get_dup_ngram_candidates``, with
``--forbid_duplicate_ngrams --ngram_size n --forbid_ignore_word W``): a hypothesis whose last
``n - 1`` tokens already occurred, at some earlier place, followed by token ``c`` may not be
continued with ``c`` (that would repeat an n-gram). Exemptions:

- the last ``n - 1`` tokens (the would-be n-gram's prefix) contain an ignore word: nothing is
  banned for that hypothesis;
- the completion ``c`` is an ignore word: ``c`` is not banned.

Only generated tokens count (s2s-ft's ``partial_seqs``): fairseq's BOS column is not part of the
history. One deviation, for ``n == 1``: s2s-ft's ``seq[-(n - 1):]`` is ``seq[-0:]``, the whole
sequence, so one ignore word anywhere in it lifts every ban; here the prefix of a unigram is empty
and ``n == 1`` bans every earlier token except ignore words.
"""
from typing import Optional, Tuple

import torch
from torch import Tensor


def ngram_repeats(generated: Tensor, n: int, ignored: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
    """The rule in dense form, without leaving the device (no ``nonzero``: no host sync).

    Args:
        generated: ``(H, L)`` long, as in :func:`banned_ngram_completions`, with ``L >= n``.
        n: the n-gram size, ``>= 1``.
        ignored: ``(V,)`` bool lookup table, True for the exempt ids (every id in ``generated``
            must be ``< V``), or ``None``.

    Returns:
        ``(match, completions)``, both ``(H, L - n + 1)``: hypothesis ``h`` may not continue with
        ``completions[h, j]`` where ``match[h, j]``; one entry per earlier n-gram, so a token can
        appear several times in a row, with a ban or without.
    """
    length = generated.size(1)
    windows = generated.unfold(1, n, 1)  # (H, L - n + 1, n): every n-gram so far
    tail = generated[:, length - n + 1 :]  # (H, n - 1): the prefix of the next n-gram
    match = (windows[:, :, :-1] == tail.unsqueeze(1)).all(-1)  # (H, L - n + 1)
    completions = windows[:, :, -1]
    if ignored is not None:
        match &= ~ignored[completions]
        match &= ~ignored[tail].any(-1, keepdim=True)
    return match, completions


def ignore_table(ignore: Optional[Tensor], size: int, device=None) -> Optional[Tensor]:
    """``(size,)`` bool, True at the ids of ``ignore`` (1-D long); None when there are none."""
    if ignore is None or ignore.numel() == 0:
        return None
    table = torch.zeros(max(size, int(ignore.max()) + 1), dtype=torch.bool, device=device)
    table[ignore.to(device)] = True
    return table


def banned_ngram_completions(generated: Tensor, n: int, ignore: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
    """Which next tokens would repeat an n-gram.

    Args:
        generated: ``(H, L)`` long tensor, the ``L`` tokens each of ``H`` hypotheses generated so
            far, oldest first, no BOS (in fairseq's SequenceGenerator at ``step``:
            ``tokens[:, 1 : step + 1]``).
        n: the n-gram size, ``>= 1``.
        ignore: 1-D long tensor of token ids exempt as above (``None`` or empty: no exemption).

    Returns:
        ``(hyp, token)``: two 1-D long tensors of equal length; ``lprobs[hyp, token] = -inf``
        applies the bans. A pair may occur more than once (an n-gram seen twice). (Its length
        depends on the data, so it waits for the device; :class:`~.blocker.TokenBlocker` applies
        :func:`ngram_repeats` instead.)

    Raises:
        ValueError: ``n < 1`` or ``generated`` not 2-D.
    """
    if n < 1:
        raise ValueError(f"n-gram size must be >= 1, got {n}")
    if generated.dim() != 2:
        raise ValueError(f"generated must be (hypotheses, length), got shape {tuple(generated.shape)}")
    if generated.size(1) < n:  # no complete n-gram yet, so nothing can repeat
        empty = generated.new_zeros(0)
        return empty, empty
    size = int(generated.max()) + 1 if generated.numel() else 0
    match, completions = ngram_repeats(generated, n, ignore_table(ignore, size, generated.device))
    hyp, where = match.nonzero(as_tuple=True)
    return hyp, completions[hyp, where]
