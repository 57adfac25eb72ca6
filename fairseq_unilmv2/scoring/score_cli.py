"""``unilmv2-score``: ROUGE (as ROUGE-1.5.5 with -m) and BLEU (sacrebleu) of a hypothesis file
against a reference file, one example a line. The last line printed is a JSON object.

    unilmv2-score rouge --hyp hyps.txt --ref refs.txt
    unilmv2-score bleu  --hyp hyps.txt --ref refs.txt
"""
import argparse
import json
import re
import sys
from typing import List

# Sentence boundaries for ROUGE-Lsum: an explicit marker, or end punctuation and a space.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


class InputError(Exception):
    pass


def read_lines(path: str, what: str) -> List[str]:
    try:
        data = open(path, "rb").read()
    except FileNotFoundError:
        raise InputError(f"{what} file {path} does not exist")
    except OSError as e:
        raise InputError(f"cannot read {what} file {path}: {e.strerror}")
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    out = []
    for number, raw in enumerate(lines, start=1):
        try:
            out.append(raw.decode("utf-8").rstrip("\r"))
        except UnicodeDecodeError as e:
            raise InputError(f"{path}:{number}: invalid UTF-8 at byte {e.start} of the line; fix or re-encode the file")
    return out


def split_sentences(text: str, separator: str = None) -> List[str]:
    parts = text.split(separator) if separator else _SENTENCE_END.split(text)
    return [p.strip() for p in parts if p.strip()]


def rouge(hyps: List[str], refs: List[str], stem: bool = True, separator: str = None) -> dict:
    from rouge_score import rouge_scorer

    from .perl_tokenizer import PerlRougeTokenizer

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeLsum"], tokenizer=PerlRougeTokenizer(stem))
    totals = {"rouge1": 0.0, "rouge2": 0.0, "rougeLsum": 0.0}
    for hyp, ref in zip(hyps, refs):
        # rougeLsum treats each line as a sentence (summary-level LCS, as the perl script)
        scores = scorer.score("\n".join(split_sentences(ref, separator)), "\n".join(split_sentences(hyp, separator)))
        for key in totals:
            totals[key] += scores[key].fmeasure
    n = max(len(hyps), 1)
    return {"rouge1": 100 * totals["rouge1"] / n, "rouge2": 100 * totals["rouge2"] / n,
            "rougeLsum": 100 * totals["rougeLsum"] / n, "n": len(hyps)}


def bleu(hyps: List[str], refs: List[str], tokenize: str = "13a", lowercase: bool = False) -> dict:
    from sacrebleu.metrics import BLEU

    metric = BLEU(tokenize=tokenize, lowercase=lowercase)
    result = metric.corpus_score(hyps, [refs])
    return {"bleu": result.score, "signature": str(metric.get_signature()), "n": len(hyps)}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="unilmv2-score", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="metric", required=True)
    for name in ("rouge", "bleu"):
        p = sub.add_parser(name)
        p.add_argument("--hyp", required=True, help="hypotheses, one example a line (UTF-8)")
        p.add_argument("--ref", required=True, help="references, one example a line (UTF-8)")
        if name == "rouge":
            p.add_argument("--no-stem", action="store_true", help="no Porter stemming (perl without -m)")
            p.add_argument("--sentence-separator", default=None,
                           help="marker between sentences (e.g. '<q>'); default: split after . ! ?")
        else:
            p.add_argument("--tokenize", default="13a", help="sacrebleu tokenizer (default 13a)")
            p.add_argument("--lowercase", action="store_true", help="case-insensitive BLEU")
    args = parser.parse_args(argv)
    try:
        hyps, refs = read_lines(args.hyp, "hypothesis"), read_lines(args.ref, "reference")
        if len(hyps) != len(refs):
            raise InputError(f"{args.hyp} has {len(hyps)} lines but {args.ref} has {len(refs)}: "
                             f"one example a line in both")
    except InputError as e:
        print(f"unilmv2-score: error: {e}", file=sys.stderr)
        return 2
    if args.metric == "rouge":
        result = rouge(hyps, refs, stem=not args.no_stem, separator=args.sentence_separator)
    else:
        result = bleu(hyps, refs, args.tokenize, args.lowercase)
    print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in result.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
