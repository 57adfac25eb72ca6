"""Generation for ``--task unilm_seq2seq``: fairseq's generators with the plugin's token bans.

fairseq-generate, fairseq-interactive and the hub interface (``from_pretrained(...).sample``) all
build their generator through ``task.build_generator``, which lands here. We let fairseq pick the
generator and search as usual (beam search, ``--sampling``, ``--diversity-rate``, ``--constraints``,
``--print-alignment``, ...) and replace its ``repeat_ngram_blocker`` by a
:class:`~.blocker.TokenBlocker`, which bans the internal symbols at every step and does the
``--no-repeat-ngram-size`` blocking that the pinned fairseq's CPU path silently skips. Where the
bans leave a hypothesis no token, it ends with ``</s>`` (see :mod:`.blocker`); a ``--min-len``
no hypothesis can reach is refused before decoding starts.
"""
import logging
from typing import List

import torch
from fairseq.sequence_generator import SequenceGenerator
from fairseq.sequence_scorer import SequenceScorer
from fairseq.tasks import FairseqTask

from .blocker import TokenBlocker
from .length_penalty import use_gnmt
from .ngram import banned_ngram_completions

__all__ = ["build_generator", "internal_symbol_ids", "ignore_symbol_ids", "TokenBlocker", "banned_ngram_completions"]

logger = logging.getLogger(__name__)


def internal_symbol_ids(dictionary, mask_idx: int, pseudo_idx: int, random_high: int) -> List[int]:
    """Ids generation must never emit: ``<s>`` (never in a target; fairseq's ``Dictionary.string``
    would silently strip it from the output), every other special id below ``nspecial`` but
    eos and unk, ``<mask>``, ``<pseudo>`` and every id from
    ``random_high`` on (fairseq-preprocess's ``madeupwordNNNN`` fillers come right before the two
    symbols the task appends; see ``tasks/dictionary.add_special_symbols``)."""
    kept = {dictionary.pad(), dictionary.eos(), dictionary.unk()}  # pad: fairseq bans it itself
    # Below nspecial: fairseq's <s> <pad> </s> <unk>, or a converted vocabulary's [PAD] [unusedN]
    # [CLS] [SEP] [UNK] [MASK] (tasks/dictionary.VocabDictionary).
    specials = (i for i in range(dictionary.nspecial) if i not in kept)
    return sorted({dictionary.bos(), mask_idx, pseudo_idx, *specials, *range(random_high, len(dictionary))})


def ignore_symbol_ids(dictionary, symbols: str) -> List[int]:
    """Ids of ``--no-repeat-ngram-ignore``'s space-separated symbols.

    Raises:
        ValueError: a symbol is not in the dictionary (it would silently exempt ``<unk>``).
    """
    ids = []
    for symbol in (symbols or "").split():
        if symbol not in dictionary.indices:
            raise ValueError(
                f"--no-repeat-ngram-ignore: {symbol!r} is not in the dictionary; list symbols exactly as "
                f"dict.txt spells them (e.g. '.' or '▁.' for a SentencePiece vocabulary)"
            )
        ids.append(dictionary.index(symbol))
    return ids


def cast_for_bf16(task, models):
    """``fairseq-generate --bf16`` / ``fairseq-interactive --bf16``: fairseq casts the models for
    ``--fp16`` only (``model.half()`` in fairseq_cli/generate.py) and leaves them in float32 for
    ``--bf16``; cast them here, where the run's config is the task config's parent."""
    from ..tasks.base import run_config

    common = run_config(task.cfg, "common")
    if common is None or not common.get("bf16", False) or common.get("fp16", False):
        return
    for model in models:
        if next(model.parameters()).dtype == torch.float32:
            model.to(torch.bfloat16)
    logger.info("--bf16: decoding in bfloat16")


def check_min_len(generator):
    """Refuse a ``--min-len`` longer than every hypothesis may be.

    fairseq's ``_generate`` caps a hypothesis at ``min(max_len_a * source_length + max_len_b,
    max_decoder_positions - 1)`` tokens and asserts ``min_len <= cap`` for every batch
    (``AssertionError: min_len cannot be larger than max_len``). With ``--max-len-a 0`` (the
    default) the cap does not depend on the source, so the bad flag is named here instead.

    Raises:
        ValueError: ``--min-len`` above the cap; the message names the flags that set it.
    """
    room = generator.max_len - 1  # --max-target-positions - 1: the last position holds </s>
    cap = min(int(generator.max_len_b), room) if generator.max_len_a == 0 else room
    if generator.min_len > cap:
        raise ValueError(
            f"--min-len {generator.min_len} is longer than any hypothesis may be: {cap} tokens at most "
            f"(--max-len-a {generator.max_len_a:g} --max-len-b {generator.max_len_b}, and the model's "
            f"--max-target-positions {generator.max_len} leaves {room}); lower --min-len or raise those"
        )


def remember_eos_scores(generator, blocker: TokenBlocker):
    """Give ``blocker`` each step's model scores of ``</s>`` before fairseq's ``--min-len`` ban
    (``SequenceGenerator._generate`` sets ``lprobs[:, eos] = -inf`` in place between the
    model's ``forward_decoder`` and the blocker), so that a hypothesis left without any token
    ends with the model's own ``</s>`` score."""
    decode = generator.model.forward_decoder

    def forward_decoder(*args, **kwargs):
        lprobs, attn = decode(*args, **kwargs)
        blocker.remember_eos(lprobs)
        return lprobs, attn

    generator.model.forward_decoder = forward_decoder


def build_generator(task, models, args, seq_gen_cls=None, extra_gen_cls_kwargs=None, **kwargs):
    """fairseq's ``FairseqTask.build_generator``, then the plugin's :class:`TokenBlocker` in place
    of the generator's ``repeat_ngram_blocker``.

    Returns fairseq's SequenceScorer unchanged for ``--score-reference`` (it scores given targets).

    Raises:
        ValueError: an unknown ``--no-repeat-ngram-ignore`` symbol; a generator class that is not
            a fairseq SequenceGenerator (its bans could not be applied); ``--diverse-beam-groups``
            (broken in the pinned fairseq); a ``--min-len`` no hypothesis can reach.
    """
    if (getattr(args, "diverse_beam_groups", -1) or -1) > 0:
        # The pinned fairseq's DiverseBeamSearch indexes its per-sentence overlap table (one row
        # per batch row) with dataset ids, so it fails with IndexError on any id >= batch size.
        raise ValueError(
            "--diverse-beam-groups fails in the pinned fairseq (DiverseBeamSearch indexes its batch-sized "
            "table by dataset id: IndexError); use --diversity-rate (diverse siblings) or --sampling instead"
        )
    cast_for_bf16(task, models)
    ignore = ignore_symbol_ids(task.target_dictionary, getattr(task.cfg, "no_repeat_ngram_ignore", ""))
    generator = FairseqTask.build_generator(task, models, args, seq_gen_cls, extra_gen_cls_kwargs, **kwargs)
    if isinstance(generator, SequenceScorer):
        return generator
    if not isinstance(generator, SequenceGenerator):
        raise ValueError(
            f"--task unilm_seq2seq generates with fairseq's SequenceGenerator (or a subclass) only, so that "
            f"internal symbols are never emitted and n-gram blocking works; got {type(generator).__name__}"
        )
    n = getattr(args, "no_repeat_ngram_size", 0) or 0
    if ignore and n == 0:
        logger.warning("--no-repeat-ngram-ignore has no effect without --no-repeat-ngram-size")
    check_min_len(generator)
    banned = internal_symbol_ids(task.target_dictionary, task.mask_idx, task.pseudo_idx, task.random_high)
    generator.repeat_ngram_blocker = TokenBlocker(banned, n, ignore, eos=generator.eos)
    remember_eos_scores(generator, generator.repeat_ngram_blocker)
    if getattr(task.cfg, "length_penalty_formula", "fairseq") == "gnmt":
        if getattr(args, "unnormalized", False):
            logger.warning("--unnormalized is ignored: --length-penalty-formula gnmt ranks by the GNMT penalty")
        use_gnmt(generator, getattr(args, "lenpen", 1.0))
    return generator
