#!/usr/bin/env python
"""Split encoded text into N shards of contiguous lines and binarize each with fairseq-preprocess
against one shared dictionary: DATA_BIN/shard0 ... shardN-1 for fairseq's epoch-sharded loading
(``fairseq-train DATA_BIN/shard0:DATA_BIN/shard1:...``; epoch e reads shard (e-1) mod N).

    python preprocess/binarize.py --dict spm.dict.txt --train encoded/*.txt --valid-lines 2000 \\
        --shards 8 --destdir DATA_BIN --workers 8
    python preprocess/binarize.py --dict spm.dict.txt --train enc/train --valid enc/valid --test enc/test \\
        -s src -t tgt --shards 2 --destdir DATA_BIN_S2S          # enc/train.src + enc/train.tgt ...

The validation set (--valid, or the first --valid-lines lines held out of the training text) and
the test set (--test) are binarized into shard0 only: fairseq loads every split but train from the
first data directory (``fairseq-generate DATA_BIN/shard0 --gen-subset test``). DATA_BIN itself is not
a fairseq data directory; DATA_BIN/data-path (the shards' absolute paths joined by ':') and
DATA_BIN/README.txt (layout, dictionary: DATA_BIN/shard0/dict.txt, the fairseq-train,
fairseq-generate, --srcdict command lines) say how to use it; see preprocess/databin_guide.py. Shards
are written as DATA_BIN/shardK.tmp and renamed to DATA_BIN/shardK once fairseq-preprocess has
finished and the number of sentences and the <unk> rate are checked; a rerun skips finished
shards and redoes the others.

Checked before anything is written (exit 2, FILE:LINE and what to do): the whole dict.txt as
fairseq reads it (a line that is not 'SYMBOL COUNT', a symbol listed twice -- also with fairseq's
'#fairseq:overwrite' flag, which fairseq-preprocess accepts but drops from the DATA_BIN dict.txt
it writes, which then no task can load --, <mask>/<pseudo>, no symbol at all), parallel files
with different line counts. DATA_BIN/plan.json records the inputs (paths, sizes and SHA-256 of
their content), the dictionary's SHA-256 and the shard count. It binds DATA_BIN once a shard is
finished: a rerun with other inputs, or with an input edited in place, is then refused; a
plan.json whose run finished no shard binds nothing and is replaced (with that run's leftover
text). A DATA_BIN with shard* directories but no plan.json is refused. A line that is not UTF-8
or holds a carriage return other than a final CRLF's (fairseq would read two lines) stops the
split with FILE:LINE (exit 2). A shard (or the validation set) with no token is refused (exit 2)
and not renamed. So is one with more than --max-unk-rate (default 0.05) of its tokens <unk>
(text that does not match the dictionary: raw or untokenized text, another tokenizer's output,
a WordPiece vocabulary of the wrong case, a corpus with many characters the vocabulary lacks)
-- when that rate is measured on at least MIN_UNK_CHECK_TOKENS (1000) tokens: a smaller split
(a few validation lines) is judged together with the rest of its shard, and only warned about
when even that is under 1000 tokens; the whole run's rate is judged at the end (exit 2, the
shards kept) for runs whose every shard was too small. The JSON summary reports tokens,
unk_tokens and unk_rate. At most (concurrent fairseq-preprocess runs + 1) shards' text is on
disk at a time. SIGTERM stops the fairseq-preprocess runs.

Many machines (preprocess/binarize_pieces.py, preprocess/assemble.py): the same run as
independent jobs sharing DATA_BIN, each given the arguments above unchanged -- ``--prepare`` once
(plan.json and a line index, DATA_BIN/.pieces/index.json), ``--piece K/N`` for K = 0 ... N-1 in
any order (shards K*SHARDS//N ... (K+1)*SHARDS//N - 1, each atomic and resumable as above,
reading only their own lines), then ``--assemble`` once (checks every shard, writes data-path and
README.txt). The one-machine run is exactly these steps in one process (``--prepare``,
``--piece 0/1``, ``--assemble``), so the two give the same DATA_BIN byte for byte.

Modules: preprocess/plan.py (the plan and its checks), preprocess/shard.py (one shard's
binarization), preprocess/binarize_pieces.py (``--prepare``, ``--piece``),
preprocess/assemble.py (``--assemble``); this file is the command line.
"""
import argparse
import logging
import signal
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from preprocess import assemble, binarize_pieces, report
from preprocess.pieces import parse_piece
from preprocess.shard import DEFAULT_MAX_UNK_RATE, MIN_UNK_CHECK_TOKENS
from preprocess.textio import InputError

logger = logging.getLogger("preprocess.binarize")


def run(args, argv=()):
    """The one-machine run: ``--prepare``, ``--piece 0/1`` and ``--assemble`` in this process.
    Returns its summary: this run's lines, bytes, shards binarized and skipped; the whole
    data-bin's tokens, <unk> tokens and rate; where the data-bin is and how to use it."""
    start = time.perf_counter()
    binarize_pieces.prepare(args, argv)
    piece = binarize_pieces.run_piece(args, argv, 0, 1)
    whole = assemble.assemble(args, argv)
    counts = {k: piece[k] for k in ("lines", "bytes", "shards_binarized") if k in piece}
    counts["shards_skipped"] = piece.get("shards_skipped", 0)
    result = report.summary(counts, time.perf_counter() - start, "lines")
    result.update({k: whole[k] for k in ("tokens", "unk_tokens", "unk_rate", "data", "dict", "data_path_file",
                                         "readme", "next")})
    return result


def run_step(args, argv):
    """One step of a run on many machines (``--prepare``, ``--piece K/N`` or ``--assemble``)."""
    if args.prepare:
        return binarize_pieces.prepare(args, argv)
    if args.piece:
        return binarize_pieces.run_piece(args, argv, *parse_piece(args.piece))
    return assemble.assemble(args, argv)


def get_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dict", required=True, help="the shared fairseq dict.txt (spm.py train / wordpiece.py dict)")
    p.add_argument("--train", nargs="+", required=True,
                   help="encoded training text files, concatenated in this order (parallel data: prefixes)")
    p.add_argument("--valid", help="encoded validation file (parallel data: prefix), binarized into shard0")
    p.add_argument("--test", help="encoded test file (parallel data: prefix), binarized into shard0 as split 'test' "
                                   "(fairseq-generate DATA_BIN/shard0 --gen-subset test)")
    p.add_argument("--valid-lines", type=int, default=0,
                   help="instead of --valid: hold out the first this many training lines as validation set")
    p.add_argument("-s", "--source-lang", help="parallel data: source suffix")
    p.add_argument("-t", "--target-lang", help="parallel data: target suffix")
    p.add_argument("--shards", type=int, default=1, help="number of shards (fairseq epochs cycle through them)")
    p.add_argument("--destdir", required=True, help="DATA_BIN: shard0 ... shardN-1 are written here")
    p.add_argument("--workers", type=int, default=1,
                   help="processes in all: up to this many fairseq-preprocess runs at once (shards), "
                        "each with --workers WORKERS / concurrent runs")
    p.add_argument("--max-unk-rate", type=float, default=DEFAULT_MAX_UNK_RATE,
                   help="refuse a shard (or the validation set) whose binarized tokens are more than this "
                        f"fraction <unk>: text that does not match the dictionary (default %(default)s; 1: no "
                        f"check). Judged on at least {MIN_UNK_CHECK_TOKENS} tokens: a smaller split is judged "
                        f"with the rest of its shard, or only warned about; the rate is 'unk_rate' in the JSON "
                        f"summary")
    p.add_argument("--keep-text", action="store_true", help="keep the shards' text in DATA_BIN/.text")
    many = p.add_argument_group(
        "many machines", "the same run as independent jobs (a SLURM array, any job runner; DATA_BIN on a shared "
        "filesystem): 1. --prepare once, 2. --piece K/N for K = 0 ... N-1, in any order and anywhere, 3. "
        "--assemble once. Every step takes the arguments above, unchanged; the result is the one-machine "
        "run's DATA_BIN, byte for byte (see docs/preprocessing.md)")
    mode = many.add_mutually_exclusive_group()
    mode.add_argument("--prepare", action="store_true",
                      help="check the inputs, write DATA_BIN/plan.json and the line index the pieces read "
                           "(DATA_BIN/.pieces/index.json); binarizes nothing")
    mode.add_argument("--piece", metavar="K/N",
                      help="binarize piece K of N (K from 0): shards K*SHARDS//N ... (K+1)*SHARDS//N - 1, "
                           "reading only their lines; atomic and resumable like a whole run; --piece K/SHARDS is "
                           "shard K alone")
    mode.add_argument("--assemble", action="store_true",
                      help="check that every shard is there, finished under this plan, with its line counts and "
                           "the same dictionary; then write DATA_BIN/data-path and README.txt")
    many.add_argument("--index-block-bytes", type=int, default=16 << 20,
                      help="--prepare: the index records a SHA-256 per block of this many bytes; a piece checks "
                           "each block it reads (default %(default)s)")
    return p


def _exit_on_sigterm(signum, frame):
    sys.exit(128 + signum)  # SystemExit in the main thread: cleanup runs (children, .tmp files)


def main(argv=None):
    args = get_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    logging.basicConfig(format="%(asctime)s | %(levelname)s | %(name)s | %(message)s", level=logging.INFO,
                        stream=sys.stderr)
    if args.shards < 1 or args.workers < 1 or args.valid_lines < 0 or args.index_block_bytes < 1:
        report.fail("--shards, --workers and --index-block-bytes must be at least 1, --valid-lines at least 0")
    try:
        argv = sys.argv[1:] if argv is None else list(argv)
        result = run_step(args, argv) if args.prepare or args.piece or args.assemble else run(args, argv)
    except InputError as e:
        report.fail(e)
    except RuntimeError as e:  # fairseq-preprocess failed: its error, no traceback of ours
        print(f"error: {e}\nfinished shards are kept; rerun to redo the others", file=sys.stderr)
        sys.exit(1)
    logger.info("done: %s", result)
    if "readme" in result:
        logger.info("next: %s\n(how to use this data-bin, its dictionary and its splits: %s)", result["next"],
                    result["readme"])
    else:
        logger.info("next: %s", result["next"])
    report.emit(result)


if __name__ == "__main__":
    from unilmv2_cli import console  # a closed stdout (| head) ends quietly with 141

    sys.exit(console(main))
