#!/usr/bin/env python
"""Encode raw text into subword text for fairseq-preprocess: streaming, with N worker processes,
line order kept, every output written to NAME.tmp and renamed when complete.

    python preprocess/encode.py --spm-model spm.model --input corpus/*.txt --output-dir encoded --workers 8
    python preprocess/encode.py --wordpiece-vocab vocab.txt --input raw/train raw/valid \\
        --source-lang src --target-lang tgt --output-dir encoded      # raw/train.src + raw/train.tgt ...

Each input FILE becomes OUTPUT_DIR/basename(FILE) (pairs: PREFIX.src/.tgt -> OUTPUT_DIR/basename
(PREFIX).src/.tgt), one document a line, tokens separated by spaces. A rerun skips outputs that
exist (they only appear complete) and redoes the rest. Bad input: invalid UTF-8 stops with the
file and line (exit 2) unless --invalid-utf8 skip; empty documents (pairs: pairs with an empty
side) are dropped; documents longer than --tokens-per-sample - 2 subword tokens are split at word
starts or dropped (--long-lines). Everything left out is counted in the summary, the JSON object
printed last on stdout.
"""
import argparse
import logging
import os
import sys
import time
from collections import Counter
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from preprocess import report
from preprocess.parallel import ordered_map
from preprocess.subword import cut_long, load_tokenizer
from preprocess.textio import (
    FORMAT_CHOICES,
    INVALID_UTF8_CHOICES,
    InputError,
    aligned_pairs,
    atomic_outputs,
    check_same_line_count,
    complete,
    documents,
)

logger = logging.getLogger("preprocess.encode")
LONG_LINE_CHOICES = ("split", "drop", "keep")

_worker = {}


def _init_worker(spec, max_tokens, long_lines):
    _worker.update(tokenizer=load_tokenizer(spec), max_tokens=max_tokens, long_lines=long_lines)


def encode_chunk(records):
    """Encode a list of records (tuples of 1 text, or of source and target texts).
    Returns (one output string per stream, counts)."""
    tok, max_tokens, mode = _worker["tokenizer"], _worker["max_tokens"], _worker["long_lines"]
    streams = len(records[0])
    encoded = [tok.encode_batch(r[k] for r in records) for k in range(streams)]
    outs, counts = [[] for _ in range(streams)], Counter()
    for pieces in zip(*encoded):
        if not all(pieces):  # nothing left after tokenization (e.g. only control characters)
            counts["empty_dropped"] += 1
            continue
        if max_tokens and mode != "keep" and any(len(p) > max_tokens for p in pieces):
            if mode == "drop":
                counts["long_dropped"] += 1
                continue
            counts["long_split"] += 1
            outs[0].extend(" ".join(run) for run in cut_long(pieces[0], max_tokens, tok.starts_word))
            continue
        for out, p in zip(outs, pieces):
            out.append(" ".join(p))
    counts["lines_out"] += len(outs[0])
    return ["".join(line + "\n" for line in out) for out in outs], counts


def chunked(records, chunk_bytes, max_records=20000):
    """Group a stream of ``(line number, texts)`` into lists of texts of about ``chunk_bytes``."""
    chunk, size = [], 0
    for _, texts in records:
        chunk.append(texts)
        size += sum(len(t) for t in texts)
        if size >= chunk_bytes or len(chunk) >= max_records:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def encode_stream(records, outputs, spec, workers, max_tokens, long_lines, chunk_bytes):
    """Encode ``records`` into the files ``outputs`` (atomically); returns the worker counts."""
    counts = Counter()
    with atomic_outputs(outputs) as files:
        chunks = chunked(records, chunk_bytes)
        for texts, c in ordered_map(encode_chunk, chunks, workers, _init_worker, (spec, max_tokens, long_lines)):
            for f, text in zip(files, texts):
                f.write(text)
            counts.update(c)
    return counts


def plan(args):
    """(inputs, outputs) per job, checked before any work: files exist, names do not collide,
    parallel files have the same number of lines."""
    langs = (args.source_lang, args.target_lang)
    pairs = all(langs)
    if any(langs) and not pairs:
        raise InputError("give both --source-lang and --target-lang, or neither")
    if pairs and args.format != "lines":
        raise InputError("parallel data is line-aligned: --format paragraphs is for monolingual text only")
    if args.long_lines is None:
        args.long_lines = "keep" if pairs else "split"
    if pairs and args.long_lines == "split":
        raise InputError("a source/target pair cannot be split: use --long-lines drop or keep with parallel data")
    if args.output and len(args.input) != 1:
        raise InputError("--output takes a single --input; use --output-dir for several")
    jobs, names = [], {}
    for item in args.input:
        inputs = [f"{item}.{lang}" for lang in langs] if pairs else [item]
        for path in inputs:
            if not os.path.isfile(path):
                raise InputError(f"{path}: no such file")
        if args.output:
            outputs = [args.output]
        else:
            base = os.path.join(args.output_dir, os.path.basename(item))
            outputs = [f"{base}.{lang}" for lang in langs] if pairs else [base]
        if outputs[0] in names:
            raise InputError(f"{item} and {names[outputs[0]]} would both be written to {outputs[0]}: rename one")
        names[outputs[0]] = item
        jobs.append((inputs, outputs))
    if pairs:
        for inputs, _ in jobs:
            check_same_line_count(*inputs)
    return jobs


def run(args):
    if args.spm_model:
        spec = ("spm", args.spm_model)
    else:
        spec = ("wordpiece", args.wordpiece_vocab, not args.cased)
    for path in spec[1:2]:
        if not os.path.isfile(path):
            raise InputError(f"{path}: no such file")
    max_tokens = args.tokens_per_sample - 2 if args.tokens_per_sample else 0  # room for <s> and </s>
    jobs = plan(args)
    if args.output_dir:
        os.makedirs(args.output_dir, exist_ok=True)
    total, start = Counter(), time.perf_counter()
    for inputs, outputs in jobs:
        if complete(outputs) and not args.force:
            logger.info("%s: complete, skipped (--force to redo)", " ".join(outputs))
            total["files_skipped"] += 1
            continue
        stats, t0 = Counter(), time.perf_counter()
        if len(inputs) == 2:
            records = aligned_pairs(*inputs, invalid_utf8=args.invalid_utf8, stats=stats)
        else:
            records = ((n, (text,)) for n, text in documents(inputs[0], args.format, args.invalid_utf8, stats))
        stats.update(encode_stream(records, outputs, spec, args.workers, max_tokens, args.long_lines,
                                   args.chunk_bytes))
        logger.info("%s -> %s: %s", " ".join(inputs), " ".join(outputs),
                    report.summary(stats, time.perf_counter() - t0, "lines_in"))
        total.update(stats)
        total["files_encoded"] += 1
    return report.summary(total, time.perf_counter() - start, "lines_in")


def get_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    tok = p.add_mutually_exclusive_group(required=True)
    tok.add_argument("--spm-model", help="SentencePiece model (preprocess/spm.py train)")
    tok.add_argument("--wordpiece-vocab", help="BERT WordPiece vocab.txt (dict.txt: preprocess/wordpiece.py dict)")
    p.add_argument("--cased", action="store_true", help="WordPiece: do not lowercase (for cased BERT vocabularies)")
    p.add_argument("--input", nargs="+", required=True,
                   help="raw UTF-8 text files (with --source-lang/--target-lang: prefixes of parallel files)")
    out = p.add_mutually_exclusive_group(required=True)
    out.add_argument("--output-dir", help="write OUTPUT_DIR/basename(INPUT) for each input")
    out.add_argument("--output", help="output file, for a single --input")
    p.add_argument("-s", "--source-lang", help="parallel data: source suffix (PREFIX.SRC)")
    p.add_argument("-t", "--target-lang", help="parallel data: target suffix (PREFIX.TGT)")
    p.add_argument("--format", choices=FORMAT_CHOICES, default="lines",
                   help="'lines': one document a line; 'paragraphs': documents separated by blank lines "
                        "(written one a line)")
    p.add_argument("--invalid-utf8", choices=INVALID_UTF8_CHOICES, default="error",
                   help="a line that is not UTF-8: stop with its file and line (exit 2), or skip and count it")
    p.add_argument("--tokens-per-sample", type=int, default=512,
                   help="the training --tokens-per-sample: a document may hold this many subword tokens "
                        "minus 2 (<s>, </s>); 0 disables the check")
    p.add_argument("--long-lines", choices=LONG_LINE_CHOICES,
                   help="documents longer than that: split into consecutive lines at word starts (default), "
                        "drop, or keep; parallel data: drop the pair or keep it (default; the seq2seq task "
                        "truncates)")
    p.add_argument("--workers", type=int, default=1, help="tokenizer processes (1: in this process)")
    p.add_argument("--chunk-bytes", type=int, default=1 << 18,
                   help="text sent to a worker at a time; 2 x workers chunks at most are in flight")
    p.add_argument("--force", action="store_true", help="re-encode outputs that are already complete")
    return p


def main(argv=None):
    args = get_parser().parse_args(argv)
    logging.basicConfig(format="%(asctime)s | %(levelname)s | %(name)s | %(message)s", level=logging.INFO,
                        stream=sys.stderr)
    try:
        result = run(args)
    except InputError as e:
        report.fail(e)
    logger.info("done: %s", result)
    report.emit(result)


if __name__ == "__main__":
    main()
