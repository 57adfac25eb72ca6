"""``python -m fairseq_unilmv2.glue COMMAND``: GLUE preparation, prediction and scoring.

    prepare     a GLUE task folder -> a data-bin for fairseq-train --task sentence_prediction
    train-args  the fairseq-train flags a prepared data-bin needs (--num-classes, --init-token, ...)
    predict     a fine-tuned checkpoint -> predictions of each split, scores, submission TSVs
    aclsum      write aclsum's sentence -> aspect set as TSV files (prepare --task ACLSUM-ASPECT)

The parser uses argparse only; fairseq is imported once a command runs. Bad input ends with one
message on stderr and exit status 2; the result is a JSON object, the last line on stdout.
"""
import argparse
import json
import logging
import os
import sys

from .errors import GlueError
from .tasks import TASKS

logger = logging.getLogger("fairseq_unilmv2.glue")


def build_parser() -> argparse.ArgumentParser:
    # the console script's name, or the module's when run as python -m fairseq_unilmv2.glue
    prog = os.path.basename(sys.argv[0])
    prog = "python -m fairseq_unilmv2.glue" if prog in ("__main__.py", "-c", "") else prog
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="docs/glue.md has the whole pipeline (recipes/glue.sh).")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("prepare", help="a GLUE task folder -> a sentence_prediction data-bin")
    p.add_argument("--task", required=True, help=f"the GLUE task: {', '.join(TASKS)} (case-insensitive)")
    p.add_argument("--task-dir", required=True, help="the task's folder as the GLUE download script writes it "
                                                     "(e.g. glue_data/RTE: train.tsv, dev.tsv, test.tsv)")
    tok = p.add_mutually_exclusive_group(required=True)
    tok.add_argument("--spm-model", help="SentencePiece model (preprocess/spm.py train) of the pre-trained model")
    tok.add_argument("--wordpiece-vocab", help="BERT vocab.txt of the pre-trained model (a converted checkpoint's)")
    p.add_argument("--cased", action="store_true", help="the WordPiece vocabulary is cased (default: lowercase)")
    p.add_argument("--ignore-vocab-case", action="store_true",
                   help="tokenize even when the vocabulary's case does not match --cased")
    p.add_argument("--dict", required=True, help="the pre-trained model's dict.txt (fairseq's, or the "
                                                 "vocabulary-id dict.txt of unilmv2-convert-hf)")
    p.add_argument("--destdir", required=True, help="the data-bin to write (written as DESTDIR.tmp-*, renamed)")
    p.add_argument("--diagnostic", help="MNLI only: GLUE's diagnostic/diagnostic.tsv, binarized as split test2 "
                                        "and predicted into AX.tsv")
    p.add_argument("--skip-bad-rows", action="store_true",
                   help="leave out (and count) train/dev rows with the wrong number of columns instead of stopping, "
                        "as fairseq's preprocess_GLUE_tasks.sh does for QQP")
    p.add_argument("--max-unk-rate", type=float, default=0.05,
                   help="stop when more of the training tokens are <unk> (tokenizer and dictionary do not match)")
    p.add_argument("--force", action="store_true", help="replace an existing DESTDIR (once the new one is complete)")

    p = sub.add_parser("train-args", help="print the fairseq-train flags of a prepared data-bin, one line")
    p.add_argument("data", help="a data-bin written by prepare")

    p = sub.add_parser("predict", help="predict, score and write submission TSVs")
    p.add_argument("--checkpoint", required=True, help="checkpoint of fairseq-train --task sentence_prediction")
    p.add_argument("--data", required=True, help="the data-bin written by prepare")
    p.add_argument("--split", action="append", dest="splits",
                   help="a data-bin split (valid, valid1, test, test1, test2; repeatable); default: all but train")
    p.add_argument("--output-dir", required=True, help="prediction TSVs (test splits: the GLUE server's file "
                                                       "names) and scores.json")
    p.add_argument("--classification-head-name", help="the head to predict with (default: the checkpoint's "
                                                      "--classification-head-name)")
    p.add_argument("--batch-size", type=int, default=64, help="rows per forward pass")
    p.add_argument("--cpu", action="store_true", help="run on the CPU even when a GPU is visible")

    p = sub.add_parser("aclsum", help="write aclsum's sentence -> aspect TSV files")
    p.add_argument("out_dir", help="folder for train.tsv, dev.tsv and test.tsv")
    return parser


def run(args) -> dict:
    if args.command == "prepare":
        from . import prepare
        from .tasks import get

        try:
            task = get(args.task)
        except ValueError as e:
            raise GlueError(str(e)) from None
        tokenizer = prepare.load_tokenizer(args.spm_model, args.wordpiece_vocab, args.cased, args.ignore_vocab_case)
        return prepare.prepare(task, args.task_dir, args.dict, args.destdir, tokenizer, args.diagnostic,
                               args.skip_bad_rows, args.force, args.max_unk_rate)
    if args.command == "train-args":
        from .prepare import train_args
        from .predict import read_meta

        print(" ".join(train_args(read_meta(args.data))))
        return None
    if args.command == "predict":
        from . import predict

        if args.batch_size < 1:
            raise GlueError(f"--batch-size {args.batch_size}: give 1 or more")
        return predict.run(args.checkpoint, args.data, args.splits, args.output_dir, args.classification_head_name,
                           args.batch_size, args.cpu)
    from . import aclsum

    return {split: dict(counts) for split, counts in aclsum.write(args.out_dir).items()}


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s | %(levelname)s | %(name)s | %(message)s",
                        stream=sys.stderr)
    try:
        result = run(args)
    except GlueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if result is not None:
        from .predict import _json_safe

        print(json.dumps(_json_safe(result)))
    return 0
