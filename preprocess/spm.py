#!/usr/bin/env python
"""SentencePiece for fairseq data-bins: train a model (on a bounded sample of a large corpus)
and write the matching fairseq dictionary; encode/decode text as a stream, line by line.

    python preprocess/spm.py train --input a.txt b.txt --model-prefix spm --vocab-size 8000
        -> spm.model, spm.vocab, spm.dict.txt (use with fairseq-preprocess --srcdict spm.dict.txt)
    python preprocess/spm.py encode --model spm.model < raw.txt > pieces.txt
    python preprocess/spm.py decode --model spm.model < pieces.txt > raw.txt

encode/decode write exactly one output line for each input line: lines are split on "\\n" only
(a CRLF ending counts as one), empty lines stay empty, and characters that other readers take
for line breaks (a lone "\\r", "\\x0b", "\\x85", "\\u2028", ...) become spaces, so source/target
alignment is kept through fairseq-preprocess. Invalid UTF-8 stops with the line number (exit 2).
For large corpora (many files, worker processes, skipping bad input, resumable outputs) encode
with preprocess/encode.py.

Training reads every input once but keeps only a random sample of --input-sentence-size lines,
so memory is bounded. SentencePiece skips lines longer than --max-sentence-length bytes: with one
document a line, raise it (e.g. 65536) or long documents never reach the sample. The outputs are
written under temporary names and renamed; PREFIX.dict.txt, renamed last, marks a complete run.
SentencePiece's refusals end in one message with the fix (exit 2, see training_error): a
--vocab-size above what the corpus yields (with the largest it accepts), one below the characters
it must hold, input with no line to train on.
"""
import argparse
import os
import re
import sys
from pathlib import Path

import sentencepiece as spm

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from preprocess import report
from preprocess.fairseq_dict import write_dict
from preprocess.textio import _LINE_BREAKS, InputError, decode_line


def training_error(message, args):
    """The InputError (what to do) for a SentencePiece training failure ``message`` (its
    RuntimeError text, e.g. "INTERNAL: src/trainer_interface.cc(744) [...] Vocabulary size too high
    (32000). Please set it to a value <= 6125."), or None when it is not about the input or options.

    The rules are SentencePiece's checks in trainer_interface.cc: a vocabulary larger than the
    pieces the corpus yields; one smaller than the characters --character-coverage keeps (plus
    the <unk> piece); no sentence read (empty input, or every line over --max-sentence-length)."""
    inputs = " ".join(args.input)
    m = re.search(r"Vocabulary size too high \((\d+)\)\. Please set it to a value <= (\d+)", message)
    if m:
        asked, most = map(int, m.groups())
        return InputError(
            f"--vocab-size {asked} is more than this corpus supports (at most {most} pieces from {inputs}): "
            f"set --vocab-size {most} or less, or train on more text")
    m = re.search(r"Vocabulary size is smaller than required_chars\. (\d+) vs (\d+)", message)
    if m:
        asked, least = map(int, m.groups())
        return InputError(
            f"--vocab-size {asked} is fewer than the {least} pieces this corpus needs (its characters kept by "
            f"--character-coverage {args.character_coverage:g}, and <unk>): set --vocab-size {least} or more, "
            f"or lower --character-coverage")
    if "!sentences_.empty()" in message:
        raise_it = "raise it" + (", e.g. to 65536 for one document a line" if args.max_sentence_length < 65536 else "")
        return InputError(
            f"no line to train on in {inputs}: the input is empty, or every line is longer than "
            f"--max-sentence-length {args.max_sentence_length} bytes ({raise_it})")
    return None


def train(args):
    tmp = args.model_prefix + ".tmp"
    for path in args.input:
        if not os.path.isfile(path):
            raise InputError(f"{path}: no such file (--input: raw text files)")
    try:
        spm.SentencePieceTrainer.train(
            input=",".join(args.input), model_prefix=tmp, vocab_size=args.vocab_size,
            model_type=args.model_type, character_coverage=args.character_coverage,
            input_sentence_size=args.input_sentence_size, shuffle_input_sentence=True,
            max_sentence_length=args.max_sentence_length,
            num_threads=args.workers, bos_id=-1, eos_id=-1, unk_id=0, minloglevel=2,
        )
    except RuntimeError as e:
        error = training_error(str(e), args)
        if error is None:
            raise
        raise error from None
    for ext in (".model", ".vocab"):
        os.replace(tmp + ext, args.model_prefix + ext)
    sp = spm.SentencePieceProcessor(model_file=args.model_prefix + ".model")
    # fairseq's Dictionary owns <s>, <pad>, </s>, <unk>; SentencePiece's own <unk> (id 0) is mapped
    # onto fairseq's by piece text, so it is left out; higher-priority pieces get larger counts.
    write_dict((sp.id_to_piece(i) for i in range(sp.get_piece_size())), args.model_prefix + ".dict.txt")
    print(f"wrote {args.model_prefix}.model and {args.model_prefix}.dict.txt", file=sys.stderr)


def stdin_lines():
    """Lines of stdin split on b"\\n" only, as text (see decode_line)."""
    for lineno, raw in enumerate(sys.stdin.buffer, 1):
        yield decode_line(raw, "<stdin>", lineno, hint="")


def encode(args):
    sp = spm.SentencePieceProcessor(model_file=args.model)
    for line in stdin_lines():
        sys.stdout.write(" ".join(sp.encode(line, out_type=str)) + "\n")


def decode(args):
    sp = spm.SentencePieceProcessor(model_file=args.model)
    for line in stdin_lines():
        sys.stdout.write(sp.decode(line.split()).translate(_LINE_BREAKS) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a model and write its fairseq dict.txt")
    t.add_argument("--input", nargs="+", required=True, help="raw text files")
    t.add_argument("--model-prefix", required=True)
    t.add_argument("--vocab-size", type=int, default=32000)
    t.add_argument("--model-type", default="unigram", choices=["unigram", "bpe"])
    t.add_argument("--character-coverage", type=float, default=0.9995)
    t.add_argument("--input-sentence-size", type=int, default=2_000_000,
                   help="train on a random sample of this many lines (bounded memory)")
    t.add_argument("--max-sentence-length", type=int, default=4192,
                   help="longest line (bytes) SentencePiece reads; longer lines are skipped")
    t.add_argument("--workers", type=int, default=1)
    for name in ("encode", "decode"):
        p = sub.add_parser(name)
        p.add_argument("--model", required=True)
    args = parser.parse_args(argv)
    sys.stdout.reconfigure(encoding="utf-8", newline="\n")
    try:
        {"train": train, "encode": encode, "decode": decode}[args.command](args)
    except InputError as e:
        sys.stdout.flush()
        report.fail(e)


if __name__ == "__main__":
    from unilmv2_cli import console  # a closed stdout (| head) ends quietly with 141

    sys.exit(console(main))
