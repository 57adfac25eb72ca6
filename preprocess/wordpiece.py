#!/usr/bin/env python
"""A fairseq dict.txt from a BERT WordPiece vocab.txt, for pre-training a model of our own on it.

For a checkpoint converted by unilmv2-convert-hf use its OUT_DIR/dict.txt instead: that one keeps
the vocabulary's own ids (the converted embedding rows are in that order), this one does not.

    python preprocess/wordpiece.py dict --vocab vocab.txt --output dict.txt

Then encode with ``preprocess/encode.py --wordpiece-vocab vocab.txt``. BERT's special tokens are
mapped onto fairseq's, not listed: ``[PAD]`` -> ``<pad>``, ``[UNK]`` -> ``<unk>`` (the encoder
writes ``<unk>``), ``[CLS]`` -> ``<s>``, ``[SEP]`` -> ``</s>``, ``[MASK]`` -> ``<mask>`` (appended by
the tasks). The ``[unused*]`` placeholders are left out. Every other token keeps its vocab.txt
order, so fairseq id = 4 + its rank among the kept tokens (print the mapping with --print-map:
``BERT_ID FAIRSEQ_ID TOKEN``, with ``<mask>`` for ``[MASK]``, whose id the task assigns, and ``-``
for a token left out). ``[MASK]``, ``[SEP]``, ... written literally in raw text are encoded as text.
"""
import argparse
import re
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from preprocess.fairseq_dict import write_dict

BERT_SPECIALS = {"[PAD]": "<pad>", "[UNK]": "<unk>", "[CLS]": "<s>", "[SEP]": "</s>", "[MASK]": "<mask>"}
_UNUSED = re.compile(r"^\[unused\d+\]$")


def read_vocab(path):
    """vocab.txt tokens in order (one a line; a line's trailing newline only is removed)."""
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


CASED_MIN_FRACTION = 0.01  # of the entries with a cased letter; bert-base-cased: ~1/4, uncased: 0


def vocab_case(tokens):
    """``(with_uppercase, with_letters)``: how many vocabulary entries (BERT specials, ``[unused*]``
    and the ``##`` continuation mark left out) hold an uppercase letter, of those that hold any
    letter with case. An uncased vocabulary (built from lowercased text, like bert-base-uncased)
    has none: the tokenizer lowercases before lookup, so such an entry could never match."""
    upper = letters = 0
    for t in tokens:
        if t in BERT_SPECIALS or _UNUSED.match(t):
            continue
        t = t.removeprefix("##")
        if any(c.lower() != c.upper() for c in t):
            letters += 1
            upper += any(c.isupper() for c in t)
    return upper, letters


def case_mismatch(tokens, cased):
    """Why encoding with ``tokens`` and ``--cased`` = ``cased`` would lose words, or None.

    A cased vocabulary (at least ``CASED_MIN_FRACTION`` of the entries with letters hold an
    uppercase one) read with lowercasing never matches its capitalised entries (with a small
    vocabulary a capitalised word becomes <unk>); an uncased one (no uppercase entry) read cased
    turns a capitalised word it cannot spell in lowercase pieces into <unk>. Between the two
    (a few uppercase entries) nothing is said."""
    upper, letters = vocab_case(tokens)
    if not letters:
        return None
    if not cased and upper >= CASED_MIN_FRACTION * letters:
        return (f"is cased ({upper} of its {letters} entries with letters hold an uppercase one), but without "
                f"--cased the text is lowercased first, so those entries never match and capitalised words "
                f"become other pieces or <unk>: pass --cased")
    if cased and not upper:
        return (f"is uncased (none of its {letters} entries with letters holds an uppercase one), but --cased "
                f"keeps the text's case, so every capitalised word becomes <unk> or odd pieces: leave out --cased")
    return None


def vocab_to_dict(vocab_path, dict_path):
    tokens = read_vocab(vocab_path)
    leave_out = set(BERT_SPECIALS) | {t for t in tokens if _UNUSED.match(t)}
    return tokens, write_dict(tokens, dict_path, leave_out=frozenset(leave_out))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dict", help="write the fairseq dict.txt matching a BERT vocab.txt")
    d.add_argument("--vocab", required=True, help="BERT WordPiece vocab.txt, one token a line")
    d.add_argument("--output", required=True, help="fairseq dict.txt to write")
    d.add_argument("--print-map", action="store_true", help="print 'BERT_ID FAIRSEQ_ID TOKEN' for every token")
    args = parser.parse_args(argv)
    try:
        tokens, kept = vocab_to_dict(args.vocab, args.output)
    except (OSError, UnicodeDecodeError) as e:
        print(f"error: {args.vocab}: {e}", file=sys.stderr)
        sys.exit(2)
    if args.print_map:
        fairseq_ids = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
        fairseq_ids.update({t: 4 + i for i, t in enumerate(kept)})
        for i, t in enumerate(tokens):
            # <mask> has no id in dict.txt: the task appends it (printed as <mask>); "-": left out
            mapped = "<mask>" if t == "[MASK]" else fairseq_ids.get(BERT_SPECIALS.get(t, t), "-")
            print(f"{i} {mapped} {t}")
    print(f"wrote {args.output}: {len(kept)} tokens from {len(tokens)} in {args.vocab} "
          f"({len(tokens) - len(kept)} left out: BERT specials, [unused*], repeats)", file=sys.stderr)


if __name__ == "__main__":
    from unilmv2_cli import console  # a closed stdout (| head) ends quietly with 141

    sys.exit(console(main))
