"""Dictionary handling shared by the tasks, so pre-training and fine-tuning agree on ids."""
import logging
import os

from fairseq.data import Dictionary

from .. import vocab_ids

logger = logging.getLogger(__name__)

MASK_SYMBOL = "<mask>"
PSEUDO_SYMBOL = "<pseudo>"


class VocabDictionary(Dictionary):
    """A fairseq Dictionary with a published vocabulary's ids (``fairseq_unilmv2/vocab_ids.py``):
    id i is the vocabulary's token i, and fairseq's bos/pad/eos/unk are the symbols the header
    names (BERT: ``[CLS] [PAD] [SEP] [UNK]``). ``nspecial`` is where the ordinary words start, so
    that fairseq and the tasks treat every id below it as special."""

    def __init__(self, vocab: "vocab_ids.VocabIds"):
        # Not Dictionary.__init__: it would put <s> <pad> </s> <unk> at ids 0-3.
        roles = vocab.roles
        self.bos_word, self.pad_word, self.eos_word, self.unk_word = (
            roles["bos"], roles["pad"], roles["eos"], roles["unk"])
        self.symbols = list(vocab.symbols)
        self.count = [0] * len(self.symbols)
        self.indices = {s: i for i, s in enumerate(self.symbols)}
        self.bos_index, self.pad_index, self.eos_index, self.unk_index = (
            self.indices[roles[r]] for r in ("bos", "pad", "eos", "unk"))
        self.mask_word = roles.get("mask")
        self.roles = dict(roles)
        self.nspecial = vocab.ordinary_low
        self.ordinary_high = vocab.ordinary_high

    def save(self, f):
        """Write the header and every symbol (fairseq's save would drop the ids below nspecial)."""
        if not isinstance(f, str):
            raise TypeError("VocabDictionary.save takes a path")
        vocab_ids.write(f, self.symbols, self.roles)

    @classmethod
    def load(cls, f):
        vocab = vocab_ids.read(f)
        if vocab is None:
            raise ValueError(f"{f} has no {vocab_ids.HEADER} header")
        return cls(vocab)


def load_dictionary(path: str) -> Dictionary:
    """The data-bin's dictionary: fairseq's ``dict.txt``, or the vocabulary-id format written by
    unilmv2-convert-hf (:class:`VocabDictionary`)."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not found: the data-bin needs the dictionary written by fairseq-preprocess")
    vocab = vocab_ids.read(path)
    dictionary = VocabDictionary(vocab) if vocab is not None else Dictionary.load(path)
    if len(dictionary) <= dictionary.nspecial:
        raise ValueError(f"{path} holds no ordinary tokens: rebuild the data-bin with fairseq-preprocess")
    for symbol in (MASK_SYMBOL, PSEUDO_SYMBOL) if vocab is None else (PSEUDO_SYMBOL,):
        if symbol in dictionary.indices:
            raise ValueError(
                f"{path} already lists {symbol}, which the tasks add after the vocabulary themselves: "
                f"remove that line from the dictionary and binarize again"
            )
    logger.info("dictionary %s: %d types", path, len(dictionary))
    return dictionary


def add_special_symbols(dictionary: Dictionary):
    """Append [M] and [P]; returns ``(mask_idx, pseudo_idx, random_high)`` where random
    replacements are drawn from ``[dictionary.nspecial, random_high)``: ordinary tokens only,
    not the padding "madeupword"s fairseq-preprocess appends nor the symbols added here.

    A :class:`VocabDictionary` keeps its vocabulary's mask symbol as [M] and gets only [P]
    appended: a converted checkpoint's ``<pseudo>`` row starts as a copy of its ``[MASK]`` row,
    because s2s-ft fine-tunes UniLM checkpoints with ``[MASK]`` as the pseudo token."""
    if isinstance(dictionary, VocabDictionary):
        high = dictionary.ordinary_high
        mask = dictionary.index(dictionary.mask_word) if dictionary.mask_word else dictionary.add_symbol(MASK_SYMBOL)
        return mask, dictionary.add_symbol(PSEUDO_SYMBOL), high
    padding = [i for i, s in enumerate(dictionary.symbols) if s.startswith("madeupword")]
    random_high = padding[0] if padding else len(dictionary)
    return dictionary.add_symbol(MASK_SYMBOL), dictionary.add_symbol(PSEUDO_SYMBOL), random_high
