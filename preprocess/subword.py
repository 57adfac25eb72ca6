"""Subword tokenizers behind one interface, and cutting token sequences that are too long.

A tokenizer is described by a picklable spec so that worker processes can load their own copy:
``("spm", MODEL)`` for SentencePiece, ``("wordpiece", VOCAB_TXT, lowercase)`` for a BERT vocab.
Each tokenizer runs single-threaded: parallelism comes from worker processes only.
"""
import os

WORDPIECE_UNK = "[UNK]"
FAIRSEQ_UNK = "<unk>"


class SentencePieceTokenizer:
    def __init__(self, model):
        import sentencepiece as spm

        self.sp = spm.SentencePieceProcessor(model_file=model, num_threads=1)

    def encode_batch(self, texts):
        return self.sp.encode(list(texts), out_type=str, num_threads=1)

    @staticmethod
    def starts_word(piece):
        return piece.startswith("\u2581")


class WordPieceTokenizer:
    """BERT's basic + WordPiece tokenization (``tokenizers.BertWordPieceTokenizer``), without
    ``[CLS]``/``[SEP]``; ``[UNK]`` (a word not in the vocab) is written as fairseq's ``<unk>``;
    ``[MASK]``, ``[SEP]``, ... written in the text are tokenized as text (``[ mask ]``)."""

    def __init__(self, vocab, lowercase=True):
        os.environ["TOKENIZERS_PARALLELISM"] = "false"
        from tokenizers import BertWordPieceTokenizer

        self.tok = BertWordPieceTokenizer(vocab, lowercase=lowercase, strip_accents=None if lowercase else False)

    # BERT's special tokens written literally in the raw text are text, not special tokens: a space
    # after the bracket makes the tokenizer split them like any other bracketed word ("[", "mask", "]")
    _LITERAL_SPECIALS = [(t, f"[ {t[1:]}") for t in ("[MASK]", "[SEP]", "[CLS]", "[PAD]", "[UNK]")]

    def encode_batch(self, texts):
        texts = list(texts)
        for i, text in enumerate(texts):
            if "[" in text:
                for special, plain in self._LITERAL_SPECIALS:
                    text = text.replace(special, plain)
                texts[i] = text
        out = []
        for enc in self.tok.encode_batch(texts, add_special_tokens=False):
            out.append([FAIRSEQ_UNK if t == WORDPIECE_UNK else t for t in enc.tokens])
        return out

    @staticmethod
    def starts_word(piece):
        return not piece.startswith("##")


def load_tokenizer(spec):
    kind, *args = spec
    if kind == "spm":
        return SentencePieceTokenizer(*args)
    if kind == "wordpiece":
        return WordPieceTokenizer(*args)
    raise ValueError(f"unknown tokenizer {kind!r}")


def cut_long(pieces, max_len, starts_word):
    """Cut ``pieces`` into consecutive runs of at most ``max_len`` tokens, each ending before a
    word start when one exists in the run (so words stay whole where possible). Concatenating the
    runs gives ``pieces`` back."""
    assert max_len >= 1, f"cannot cut into runs of {max_len} tokens"
    runs, i = [], 0
    while len(pieces) - i > max_len:
        cut = i + max_len
        j = cut  # the next run should start at a word start: look back for the last one
        while j > i and not starts_word(pieces[j]):
            j -= 1
        cut = j if j > i else cut
        runs.append(pieces[i:cut])
        i = cut
    runs.append(pieces[i:])
    return runs
