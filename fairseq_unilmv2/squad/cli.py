"""``python -m fairseq_unilmv2.squad {prepare,predict,evaluate}``: SQuAD from the official JSON
files to the official scores.

    prepare   train-v2.0.json / dev-v2.0.json -> a data-bin for fairseq-train --task squad
    predict   a --task squad checkpoint + data-bin split -> predictions.json (+ nbest, null odds)
    evaluate  dev JSON + predictions.json -> EM/F1 as evaluate-v1.1.py / evaluate-v2.0.py print them

Bad input stops with one message (``error: ...``, exit 2) and writes nothing.
"""
import argparse
import dataclasses
import json
import logging
import os
import shutil
import sys

from .evaluate import EvaluationError, evaluate_v1, evaluate_v2, version_of
from .features import FeatureConfig, SquadInputError

logger = logging.getLogger("fairseq_unilmv2.squad")
SPLITS = ("train", "valid", "test")
UNKNOWN_WARNING = 0.05  # fraction of <unk> subwords above which the dictionary likely is not the tokenizer's


def _add_fields(parser, cls, skip=()):
    """One ``--flag`` per dataclass field, with its default and help."""
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        parser.add_argument("--" + f.name.replace("_", "-"), type=type(f.default), default=f.default,
                            help=f"{f.metadata['help']} (default: {f.default})")


def build_parser():
    # the console script's name, or the module's when run as python -m fairseq_unilmv2.squad
    prog = os.path.basename(sys.argv[0])
    prog = "python -m fairseq_unilmv2.squad" if prog in ("__main__.py", "-c", "") else prog
    p = argparse.ArgumentParser(prog=prog, description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)

    prep = sub.add_parser("prepare", help="official SQuAD JSON -> data-bin for --task squad")
    for split in SPLITS:
        prep.add_argument(f"--{split}", metavar="JSON", help=f"SQuAD JSON file of the {split} split")
    prep.add_argument("--dict", required=True,
                      help="the model's dictionary: the pre-training data-bin's dict.txt, spm.dict.txt, or a "
                           "converted checkpoint's OUT_DIR/dict.txt")
    tok = prep.add_mutually_exclusive_group(required=True)
    tok.add_argument("--spm-model", help="SentencePiece model the dictionary was built from (preprocess/spm.py)")
    tok.add_argument("--wordpiece-vocab", help="BERT WordPiece vocab.txt the dictionary was built from")
    prep.add_argument("--cased", action="store_true", help="WordPiece: keep case (for cased vocabularies)")
    prep.add_argument("--version", choices=("1.1", "2.0"),
                      help="SQuAD version (default: each file's own 'version' field)")
    _add_fields(prep, FeatureConfig, skip=("version",))
    prep.add_argument("--destdir", required=True, help="data-bin folder to write")

    from .predict import PredictConfig

    pred = sub.add_parser("predict", help="--task squad checkpoint -> predictions.json")
    pred.add_argument("--checkpoint", required=True, help="checkpoint of fairseq-train --task squad")
    pred.add_argument("--data", required=True, help="the data-bin of prepare")
    pred.add_argument("--split", default="valid", help="split of the data-bin to answer (default: valid)")
    pred.add_argument("--output", required=True, help="predictions.json to write (question id -> answer)")
    pred.add_argument("--nbest-file", help="also write the n-best answers of each question here")
    pred.add_argument("--null-odds-file",
                      help="SQuAD 2.0: also write each question's no-answer score minus its best span's here "
                           "(evaluate --na-prob-file reads it)")
    _add_fields(pred, PredictConfig)
    pred.add_argument("--batch-size", type=int, default=32, help="windows per forward pass (default: 32)")
    pred.add_argument("--cpu", action="store_true", help="run on the CPU even where a GPU is visible")

    ev = sub.add_parser("evaluate", help="EM/F1 of predictions.json, as the official scripts compute them")
    ev.add_argument("data_file", metavar="data.json", help="the official SQuAD JSON file (e.g. dev-v2.0.json)")
    ev.add_argument("pred_file", metavar="pred.json", help="predictions: question id -> answer text")
    ev.add_argument("--version", choices=("1.1", "2.0"),
                    help="which official script's rules (default: the data file's 'version' field)")
    ev.add_argument("--na-prob-file", help="SQuAD 2.0: question id -> no-answer probability (or predict's null odds)")
    ev.add_argument("--na-prob-thresh", type=float, default=1.0,
                    help="SQuAD 2.0: count \"\" as the prediction where the no-answer probability exceeds this "
                         "(default: 1.0)")
    ev.add_argument("--out-file", help="also write the scores as JSON here")
    return p


def _write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def prepare(args):
    from fairseq_unilmv2.tasks.dictionary import load_dictionary

    from .databin import write_meta, write_split
    from .features import OffsetTokenizer, encode_examples, layout_of, read_squad

    sources = {s: getattr(args, s) for s in SPLITS if getattr(args, s)}
    if not sources:
        raise SquadInputError("pass at least one of --train, --valid, --test (SQuAD JSON files)")
    cfg = FeatureConfig(version=args.version or "1.1", max_seq_length=args.max_seq_length,
                        doc_stride=args.doc_stride, max_query_length=args.max_query_length)
    cfg.check()
    tokenizer = OffsetTokenizer(args.spm_model, args.wordpiece_vocab, args.cased)
    try:
        dictionary = load_dictionary(args.dict)
    except (OSError, ValueError) as e:
        raise SquadInputError(f"--dict {args.dict}: {e}") from None
    # everything is read and checked before anything is written
    read = {}
    for split, path in sources.items():
        examples, version = read_squad(path, args.version)
        if read and version != next(iter(read.values()))[1]:
            raise SquadInputError(f"{path} is SQuAD {version} but {next(iter(sources.values()))} is not: "
                                  f"prepare files of one version (or pass --version)")
        read[split] = (examples, version)
    cfg.version = next(iter(read.values()))[1]
    encoded = {}
    for split, (examples, _) in read.items():
        enc = encode_examples(examples, tokenizer, dictionary, cfg, sources[split])
        if enc.total and enc.unknown / enc.total > UNKNOWN_WARNING:
            logger.warning("%s: %.0f%% of the subwords are not in %s (<unk>): is it the dictionary of this tokenizer?",
                           sources[split], 100 * enc.unknown / enc.total, args.dict)
        encoded[split] = enc
    os.makedirs(args.destdir, exist_ok=True)
    tmp = os.path.join(args.destdir, "dict.txt.tmp")
    shutil.copyfile(args.dict, tmp)
    os.replace(tmp, os.path.join(args.destdir, "dict.txt"))
    splits = {}
    for split, enc in encoded.items():
        splits[split] = {"source": os.path.abspath(sources[split]),
                         **write_split(args.destdir, split, enc, read[split][0])}
        print(f"{split}: {splits[split]['examples']} questions, {splits[split]['features']} windows "
              f"({sources[split]})", file=sys.stderr)
    tokenizer_spec = {k: (os.path.abspath(v) if isinstance(v, str) else v) for k, v in tokenizer.spec.items()}
    write_meta(args.destdir, {**dataclasses.asdict(cfg), "layout": layout_of(dictionary),
                              "tokenizer": tokenizer_spec, "splits": splits})
    print(f"wrote {args.destdir} (SQuAD {cfg.version}, layout {layout_of(dictionary)})", file=sys.stderr)
    return 0


def predict(args):
    from .databin import read_meta, read_split
    from .inference import load, window_logits
    from .predict import PredictConfig, predict_answers

    meta = read_meta(args.data)
    split = read_split(args.data, args.split)
    cfg = PredictConfig(args.n_best_size, args.max_answer_length, args.null_score_diff_threshold)
    if cfg.n_best_size < 1 or cfg.max_answer_length < 1:
        raise SquadInputError("--n-best-size and --max-answer-length must be at least 1")
    if args.null_odds_file and meta["version"] != "2.0":
        raise SquadInputError(f"--null-odds-file: {args.data} is SQuAD {meta['version']}, which has no no-answer score")
    if not os.path.isfile(args.checkpoint):
        raise SquadInputError(f"--checkpoint {args.checkpoint}: no such file")
    model, task = load(args.checkpoint, args.data, args.cpu)
    starts, ends = window_logits(model, task, args.split, args.batch_size)
    predictions, nbest, null_odds = predict_answers(split, starts, ends, meta["version"], cfg)
    _write_atomic(args.output, json.dumps(predictions, indent=2, ensure_ascii=False) + "\n")
    if args.nbest_file:
        _write_atomic(args.nbest_file, json.dumps(nbest, indent=2, ensure_ascii=False) + "\n")
    if args.null_odds_file:
        _write_atomic(args.null_odds_file, json.dumps(null_odds, indent=2) + "\n")
    print(f"wrote {args.output}: {len(predictions)} answers ({sum(not a for a in predictions.values())} empty)",
          file=sys.stderr)
    return 0


def _read_json(path, what):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise EvaluationError(f"{path}: cannot read the {what} ({e})") from None


def _check_mapping(path, obj, kind, what):
    if not isinstance(obj, dict) or not all(isinstance(k, str) and isinstance(v, kind) and not isinstance(v, bool)
                                             for k, v in obj.items()):
        raise EvaluationError(f"{path}: expected a JSON object mapping each question id to {what}")


def evaluate(args):
    data = _read_json(args.data_file, "SQuAD data file")
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise EvaluationError(f"{args.data_file}: not a SQuAD file (expected an object with a 'data' list)")
    preds = _read_json(args.pred_file, "predictions")
    _check_mapping(args.pred_file, preds, str, "its answer text")
    version = version_of(data, args.version)
    try:
        if version == "1.1":
            if args.na_prob_file:
                raise EvaluationError("--na-prob-file belongs to SQuAD 2.0 (evaluate-v2.0.py)")
            out = evaluate_v1(data["data"], preds)
            text = json.dumps(out)
        else:
            na_probs = None
            if args.na_prob_file:
                na_probs = _read_json(args.na_prob_file, "no-answer probabilities")
                _check_mapping(args.na_prob_file, na_probs, (int, float), "a number")
            out = evaluate_v2(data["data"], preds, na_probs, args.na_prob_thresh)
            text = json.dumps(out, indent=2)
    except (KeyError, TypeError) as e:
        raise EvaluationError(f"{args.data_file}: not in SQuAD's layout (data/paragraphs/qas/answers): {e!r}") from None
    except EvaluationError as e:
        raise EvaluationError(f"{args.pred_file} on {args.data_file}: {e}") from None
    if args.out_file:
        _write_atomic(args.out_file, text + "\n")
    print(text)
    return 0


def main(argv=None):
    args = build_parser().parse_args(argv)
    logging.basicConfig(format="%(levelname)s: %(message)s", level=logging.INFO, stream=sys.stderr)
    try:
        return {"prepare": prepare, "predict": predict, "evaluate": evaluate}[args.command](args)
    except (ValueError, FileNotFoundError) as e:  # SquadInputError, EvaluationError and the task's messages
        print(f"error: {e}", file=sys.stderr)
        return 2
