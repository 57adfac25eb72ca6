#!/usr/bin/env python
"""Encode raw text into subword text for fairseq-preprocess: streaming, with N worker processes,
line order kept, every output written to NAME.tmp and renamed when complete.

    python preprocess/encode.py --spm-model spm.model --input corpus/*.txt --output-dir encoded --workers 8
    python preprocess/encode.py --wordpiece-vocab vocab.txt --input raw/train raw/valid \\
        --source-lang src --target-lang tgt --output-dir encoded      # raw/train.src + raw/train.tgt ...

Each input FILE becomes OUTPUT_DIR/basename(FILE) (pairs: PREFIX.src/.tgt -> OUTPUT_DIR/basename
(PREFIX).src/.tgt), one document a line, tokens separated by spaces. OUTPUT_DIR/.plan.json
(--output DIR/FILE: DIR/.FILE.plan.json; hidden, so OUTPUT_DIR/* names the encoded files) records the tokenizer's sha256 and every option that changes the
output: a rerun with others is refused (exit 2) unless --force. A rerun skips outputs that exist
(they only appear complete) and redoes the rest. Bad input: invalid UTF-8 stops with the file
and line (exit 2) unless --invalid-utf8 skip; empty documents (pairs: pairs with an empty side)
are dropped; documents longer than --tokens-per-sample - 2 subword tokens are split at word
starts or dropped (--long-lines). Everything left out is counted in the summary, the JSON object
printed last on stdout. An input whose documents are all left out is an error (exit 2, no output
for it, the message says which option to change), more than half left out a warning; every
input empty is an error. A WordPiece vocabulary whose case does not match --cased (a cased one,
i.e. >= 1% of its entries with letters hold an uppercase one, without --cased; one with no
uppercase entry with --cased) is refused (exit 2) unless --ignore-vocab-case.

Many machines: ``--piece K/N`` encodes only the inputs K, K+N, K+2N, ... (each job of N given the
same arguments); the N pieces together write what one run writes, byte for byte. Each input is
encoded whole, so split one large file into several first (``split -n l/64 -d FILE FILE.`` keeps
lines whole; with --format paragraphs a document may be cut where the file is cut).
"""
import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import time
from collections import Counter
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from preprocess import report
from preprocess.pieces import parse_piece
from preprocess.parallel import BrokenProcessPool, ordered_map
from preprocess.subword import cut_long, load_tokenizer
from preprocess.wordpiece import case_mismatch, read_vocab
from preprocess.textio import (
    DEFAULT_MAX_DOCUMENT_CHARS,
    FORMAT_CHOICES,
    INVALID_UTF8_CHOICES,
    InputError,
    aligned_pairs,
    atomic_outputs,
    check_same_line_count,
    complete,
    documents,
    input_files,
    lang_pair,
    sha256,
)

logger = logging.getLogger("preprocess.encode")
LONG_LINE_CHOICES = ("split", "drop", "keep")

_worker = {}


def _init_worker(spec, max_tokens, long_lines, tokenizer=None):
    _worker.update(tokenizer=tokenizer or load_tokenizer(spec), max_tokens=max_tokens, long_lines=long_lines)


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
    """Group a stream of tuples of texts into lists of about ``chunk_bytes`` characters."""
    chunk, size = [], 0
    for texts in records:
        chunk.append(texts)
        size += sum(len(t) for t in texts)
        if size >= chunk_bytes or len(chunk) >= max_records:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def encode_stream(records, outputs, spec, workers, max_tokens, long_lines, chunk_bytes, tokenizer=None,
                  check=None):
    """Encode ``records`` into the files ``outputs`` (atomically); returns the worker counts.
    ``tokenizer``: the loaded ``spec``, used as it is when ``workers`` is 1. ``check(counts,
    records read)`` is called once everything is encoded, before the outputs get their final
    names: an error it raises leaves no output."""
    counts, tokenized = Counter(), [0]

    def counted(records):
        for r in records:
            tokenized[0] += 1
            yield r

    initargs = (spec, max_tokens, long_lines, tokenizer if workers <= 1 else None)
    with atomic_outputs(outputs) as files:
        chunks = chunked(counted(records), chunk_bytes)
        for texts, c in ordered_map(encode_chunk, chunks, workers, _init_worker, initargs):
            for f, text in zip(files, texts):
                f.write(text)
            counts.update(c)
        if check is not None:
            check(counts, tokenized[0])
    return counts


DROPPED_WARNING_FRACTION = 0.5  # more documents dropped than this: a warning (all of them: an error)


def check_written(inputs, reader, workers, tokenized, args, max_tokens):
    """Refuse an input whose documents were all left out (InputError: nothing is written), with
    what to change; warn when more than half were. ``reader``: the reader's counts (lines_in,
    empty_dropped, invalid_utf8_skipped), ``workers``: the tokenizer's (lines_out, empty_dropped,
    long_dropped), ``tokenized``: the documents (pairs) the reader passed to the tokenizer."""
    stats = reader + workers
    documents = tokenized + reader["empty_dropped"] + reader["invalid_utf8_skipped"]
    dropped = {k: stats[k] for k in ("empty_dropped", "long_dropped", "invalid_utf8_skipped") if stats[k]}
    name = " ".join(inputs)
    if not documents:
        if stats["lines_in"]:
            raise InputError(f"{name}: {stats['lines_in']} lines read, all blank: no document to write; check the "
                             f"file's content")
        return  # an empty file: an empty output (run() warned about it)
    why = ", ".join(f"{n} {k}" for k, n in dropped.items())
    if stats["lines_out"]:
        if sum(dropped.values()) > DROPPED_WARNING_FRACTION * documents:
            logger.warning("%s: %d of %d documents left out (%s)", name, sum(dropped.values()), documents, why)
        return
    hints = []
    if stats["long_dropped"]:
        hints.append(f"{stats['long_dropped']} document(s) longer than --tokens-per-sample "
                     f"{args.tokens_per_sample} - 2 = {max_tokens} tokens were dropped by --long-lines drop: use --long-lines split (the default "
                     f"for monolingual text), or a larger --tokens-per-sample")
        if args.format == "paragraphs":
            hints.append(f"--format paragraphs joins the lines between blank lines into one document (here "
                         f"{stats['lines_in']} lines became {documents}): for one document a line use --format lines")
    if stats["invalid_utf8_skipped"]:
        hints.append("lines that are not UTF-8 were skipped (--invalid-utf8 skip): convert the file to UTF-8 "
                     "(e.g. iconv -f latin1 -t utf-8)")
    if stats["empty_dropped"]:
        hints.append("empty documents (or pairs with an empty side) are dropped: check the file's content")
    raise InputError(f"{name}: {stats['lines_in']} lines read, 0 written: all {documents} documents were left "
                     f"out ({why}): {'; '.join(hints)}")


def plan(args):
    """(inputs, outputs) per job, checked before any work: files exist, names do not collide,
    no output is an input, parallel files have the same number of lines."""
    langs = lang_pair(args.source_lang, args.target_lang)
    if langs and args.format != "lines":
        raise InputError("parallel data is line-aligned: --format paragraphs is for monolingual text only")
    if args.long_lines is None:
        args.long_lines = "keep" if langs else "split"
    if langs and args.long_lines == "split":
        raise InputError("a source/target pair cannot be split: use --long-lines drop or keep with parallel data")
    if args.output and langs:
        raise InputError("--output writes one file, parallel data needs two: use --output-dir with -s/-t")
    if args.output and len(args.input) != 1:
        raise InputError("--output takes a single --input; use --output-dir for several")
    jobs, names = [], {}
    for item in args.input:
        inputs = input_files(item, langs)
        if args.output:
            outputs = [args.output]
        else:
            base = os.path.join(args.output_dir, os.path.basename(item))
            outputs = [f"{base}.{lang}" for lang in langs] if langs else [base]
        if os.path.abspath(outputs[0]) == os.path.abspath(plan_path(args)):
            raise InputError(f"{item}: its output would overwrite {plan_path(args)}; rename it")
        if outputs[0] in names:
            raise InputError(f"{item} and {names[outputs[0]]} would both be written to {outputs[0]}: rename one")
        names[outputs[0]] = item
        jobs.append((inputs, outputs))
    sources = {os.path.realpath(p): p for inputs, _ in jobs for p in inputs}
    for _, outputs in jobs:
        for out in outputs:
            if os.path.realpath(out) in sources:
                raise InputError(f"{out} is the input {sources[os.path.realpath(out)]}: writing it would destroy "
                                 f"the raw text; choose another --output/--output-dir")
    if langs:
        for inputs, _ in jobs:
            check_same_line_count(*inputs)
    return jobs


def tokenizer_spec(args):
    if args.spm_model:
        return ("spm", args.spm_model)
    return ("wordpiece", args.wordpiece_vocab, not args.cased)


def load_checked(spec, ignore_case=False):
    """Load the tokenizer once here, before any worker starts: a bad model is an InputError, and
    so is a WordPiece vocabulary whose case does not match --cased (``wordpiece.case_mismatch``)
    unless ``ignore_case``."""
    path = spec[1]
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file")
    try:
        tokenizer = load_tokenizer(spec)
        tokenizer.encode_batch(["a"])
    except Exception as e:  # noqa: BLE001  (sentencepiece and tokenizers raise several types)
        kind = "SentencePiece model" if spec[0] == "spm" else "WordPiece vocab.txt"
        raise InputError(f"{path}: cannot load it as a {kind} ({type(e).__name__}: {str(e)[:300]}); "
                         f"pass the file written by preprocess/spm.py train or a BERT vocab.txt") from None
    if spec[0] == "wordpiece":
        mismatch = case_mismatch(read_vocab(path), cased=not spec[2])
        if mismatch and not ignore_case:
            raise InputError(f"{path} {mismatch} (or --ignore-vocab-case to encode anyway)")
        if mismatch:
            logger.warning("%s %s; encoding anyway (--ignore-vocab-case)", path, mismatch)
    return tokenizer


def output_plan(args, spec):
    """Everything that decides the encoded text, recorded in the output's .plan.json (not
    --invalid-utf8: with ``error`` a file with an invalid line is never completed, so a complete
    output is the same with ``skip``)."""
    return {
        "tokenizer": spec[0],
        "tokenizer_sha256": sha256(spec[1]),
        "lowercase": spec[2] if spec[0] == "wordpiece" else None,
        "langs": lang_pair(args.source_lang, args.target_lang),
        "format": args.format,
        "max_document_chars": args.max_document_chars if args.format == "paragraphs" else None,
        "tokens_per_sample": args.tokens_per_sample,
        "long_lines": args.long_lines,
    }


def plan_path(args):
    """Hidden, so that ``OUTPUT_DIR/*`` (binarize.py --train) names the encoded files only."""
    if args.output_dir:
        return os.path.join(args.output_dir, ".plan.json")
    directory, name = os.path.split(args.output)
    return os.path.join(directory, f".{name}.plan.json")


def check_output_plan(path, new, force):
    """Refuse outputs encoded with other settings (exit 2); write ``new`` (atomically) otherwise."""
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            old = json.load(f)
        if old == new:
            return
        changed = sorted(k for k in new if old.get(k) != new[k])
        if not force:
            raise InputError(f"{path}: the outputs there were encoded with a different {', '.join(changed)}; "
                             f"use a new --output-dir/--output, or --force to re-encode these inputs (with --piece: "
                             f"every piece takes the same options)")
        logger.warning("%s: different %s, re-encoding (--force)", path, ", ".join(changed))
        with atomic_outputs([path]) as (f,):  # --force: replace it
            json.dump(new, f, indent=1, sort_keys=True)
        return
    # A new plan: pieces (--piece) started at once may all get here. Each writes its own temporary
    # file and links it to the final name, which only one link can create; the others compare.
    tmp = f"{path}.{os.uname().nodename}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(new, f, indent=1, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    try:
        os.link(tmp, path)
    except FileExistsError:
        check_output_plan(path, new, force)
    except OSError:  # a filesystem without hard links: a plain atomic rename (the last piece's copy stays)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def run(args):
    if args.tokens_per_sample < 0 or args.tokens_per_sample in (1, 2):
        raise InputError(f"--tokens-per-sample {args.tokens_per_sample}: give 0 (no limit) or at least 3 "
                         f"(a document gets that many minus 2 tokens, for <s> and </s>)")
    if args.workers < 1 or args.chunk_bytes < 1 or args.max_document_chars < 0:
        raise InputError("--workers and --chunk-bytes must be at least 1, --max-document-chars at least 0")
    spec = tokenizer_spec(args)
    max_tokens = args.tokens_per_sample - 2 if args.tokens_per_sample else 0  # room for <s> and </s>
    jobs = plan(args)
    empty = [" ".join(inputs) for inputs, _ in jobs if all(os.path.getsize(p) == 0 for p in inputs)]
    if empty and len(empty) == len(jobs):
        raise InputError(f"every input is empty ({', '.join(empty[:3])}{' ...' if len(empty) > 3 else ''}): "
                         f"nothing to encode; check the --input paths")
    if args.piece:  # checked on every input above, so that every piece refuses what the whole run refuses
        k, n = parse_piece(args.piece)
        if n > len(jobs):
            raise InputError(f"--piece {args.piece}: {n} pieces for {len(jobs)} input(s); a piece encodes whole "
                             f"files, so give at most {len(jobs)} pieces, or split a large file into more files "
                             f"first (split -n l/{n} -d FILE FILE. keeps lines whole; names sort in order)")
        jobs = jobs[k::n]
        mine = {" ".join(inputs) for inputs, _ in jobs}
        empty = [name for name in empty if name in mine]
    for name in empty:
        logger.warning("%s is empty: its output will be empty", name)
    tokenizer = load_checked(spec, args.ignore_vocab_case)
    try:
        if args.output_dir:
            os.makedirs(args.output_dir, exist_ok=True)
        check_output_plan(plan_path(args), output_plan(args, spec), args.force)
    except OSError as e:
        raise InputError(f"cannot write the output: {e}") from None
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
            records = ((text,) for text in documents(inputs[0], args.format, args.invalid_utf8, stats,
                                                     args.max_document_chars))
        def check(counts, tokenized, inputs=inputs, stats=stats):
            check_written(inputs, stats, counts, tokenized, args, max_tokens)

        try:
            stats.update(encode_stream(records, outputs, spec, args.workers, max_tokens, args.long_lines,
                                       args.chunk_bytes, tokenizer, check))
        except OSError as e:
            raise InputError(f"cannot write {' '.join(outputs)}: {e}") from None
        logger.info("%s -> %s: %s", " ".join(inputs), " ".join(outputs),
                    report.summary(stats, time.perf_counter() - t0, "lines_in"))
        total.update(stats)
        total["files_encoded"] += 1
    result = report.summary(total, time.perf_counter() - start, "lines_in")
    if args.piece:
        result["piece"] = args.piece
    return result


def get_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    tok = p.add_mutually_exclusive_group(required=True)
    tok.add_argument("--spm-model", help="SentencePiece model (preprocess/spm.py train)")
    tok.add_argument("--wordpiece-vocab", help="BERT WordPiece vocab.txt (dict.txt: preprocess/wordpiece.py dict)")
    p.add_argument("--cased", action="store_true",
                   help="WordPiece: do not lowercase (for cased BERT vocabularies); a vocabulary whose case does "
                        "not match is refused (exit 2)")
    p.add_argument("--ignore-vocab-case", action="store_true",
                   help="WordPiece: only warn when the vocabulary looks cased without --cased, or uncased with it")
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
    p.add_argument("--max-document-chars", type=int, default=DEFAULT_MAX_DOCUMENT_CHARS,
                   help="--format paragraphs: a document that reaches this many characters is written as it "
                        "is and the next lines start a new one (counted as documents_cut; bounds memory); 0: "
                        "no cap")
    p.add_argument("--invalid-utf8", choices=INVALID_UTF8_CHOICES, default="error",
                   help="a line that is not UTF-8: stop with its file and line (exit 2), or skip and count it")
    p.add_argument("--tokens-per-sample", type=int, default=512,
                   help="the training --tokens-per-sample: a document may hold this many subword tokens "
                        "minus 2 (<s>, </s>); at least 3, or 0 to disable the check")
    p.add_argument("--long-lines", choices=LONG_LINE_CHOICES,
                   help="documents longer than that: split into consecutive lines at word starts (default), "
                        "drop, or keep; parallel data: drop the pair or keep it (default; the seq2seq task "
                        "truncates)")
    p.add_argument("--workers", type=int, default=1, help="tokenizer processes (1: in this process)")
    p.add_argument("--chunk-bytes", type=int, default=1 << 18,
                   help="text sent to a worker at a time; 2 x workers chunks at most are in flight")
    p.add_argument("--piece", metavar="K/N",
                   help="encode only the inputs K, K+N, K+2N, ... (K from 0, in the order given): piece K of N "
                        "independent jobs (e.g. --piece $SLURM_ARRAY_TASK_ID/N), every one given the same "
                        "arguments; together they write what one run writes")
    p.add_argument("--force", action="store_true",
                   help="re-encode outputs that are already complete, also with settings other than .plan.json's")
    return p


def _exit_on_sigterm(signum, frame):
    sys.exit(128 + signum)  # SystemExit in the main thread: workers stopped, .tmp files removed


def main(argv=None):
    args = get_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    logging.basicConfig(format="%(asctime)s | %(levelname)s | %(name)s | %(message)s", level=logging.INFO,
                        stream=sys.stderr)
    try:
        result = run(args)
    except InputError as e:
        report.fail(e)
    except BrokenProcessPool as e:
        print(f"error: a tokenizer worker process died ({e}; killed, e.g. out of memory?): the output being "
              f"written was removed, finished files are kept; rerun (with fewer --workers or a smaller "
              f"--chunk-bytes if memory ran out)", file=sys.stderr)
        sys.stderr.flush()
        os._exit(1)  # not sys.exit: the broken executor's threads may never join (preprocess/parallel.py)
    logger.info("done: %s", result)
    report.emit(result)


if __name__ == "__main__":
    from unilmv2_cli import console  # a closed stdout (| head) ends quietly with 141

    sys.exit(console(main))
