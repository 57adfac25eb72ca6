"""Dictionary handling shared by the tasks, so pre-training and fine-tuning agree on ids."""
import logging
import os

from fairseq.data import Dictionary

logger = logging.getLogger(__name__)

MASK_SYMBOL = "<mask>"
PSEUDO_SYMBOL = "<pseudo>"


def load_dictionary(path: str) -> Dictionary:
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not found: the data-bin needs the dictionary written by fairseq-preprocess")
    dictionary = Dictionary.load(path)
    if len(dictionary) <= dictionary.nspecial:
        raise ValueError(f"{path} holds no ordinary tokens: rebuild the data-bin with fairseq-preprocess")
    for symbol in (MASK_SYMBOL, PSEUDO_SYMBOL):
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
    not the padding "madeupword"s fairseq-preprocess appends nor the symbols added here."""
    padding = [i for i, s in enumerate(dictionary.symbols) if s.startswith("madeupword")]
    random_high = padding[0] if padding else len(dictionary)
    return dictionary.add_symbol(MASK_SYMBOL), dictionary.add_symbol(PSEUDO_SYMBOL), random_high
