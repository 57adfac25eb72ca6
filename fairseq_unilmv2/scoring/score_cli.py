"""``unilmv2-score``: ROUGE (as ROUGE-1.5.5 with -m) and BLEU (sacrebleu) of a hypothesis file
against a reference file, one example a line. The last line printed is a JSON object.

    unilmv2-score rouge --hyp hyps.txt --ref refs.txt
    unilmv2-score bleu  --hyp hyps.txt --ref refs.txt
"""
# No fairseq here: the console script (unilmv2_cli.score) loads this folder without the package
# __init__, so imports stay within this folder and the scoring libraries.
import argparse
import json
import sys
from typing import List

from .input_checks import InputError, check_pair, read_lines
from .sentences import split_sentences

__all__ = ["InputError", "read_lines", "split_sentences", "rouge", "bleu", "main"]


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
        p.add_argument("--no-format-check", action="store_true",
                       help="score even text that looks undetokenized (SentencePiece U+2581 '▁' pieces, WordPiece '##') "
                            "or like fairseq-generate output (H-/D- lines)")
        if name == "rouge":
            p.add_argument("--no-stem", action="store_true", help="no Porter stemming (perl without -m)")
            p.add_argument("--sentence-separator", default=None,
                           help="marker between sentences for ROUGE-Lsum (e.g. '<q>'); "
                                "default: pySBD's English sentence splitter")
        else:
            from sacrebleu.metrics import BLEU

            # sacrebleu's own list: an unknown name is a usage error here, not a KeyError later
            p.add_argument("--tokenize", default=BLEU.TOKENIZER_DEFAULT, choices=sorted(BLEU.TOKENIZERS),
                           help=f"sacrebleu tokenizer (default {BLEU.TOKENIZER_DEFAULT})")
            p.add_argument("--lowercase", action="store_true", help="case-insensitive BLEU")
    args = parser.parse_args(argv)
    try:
        hyps, refs = read_lines(args.hyp, "hypothesis"), read_lines(args.ref, "reference")
        warnings = check_pair(hyps, refs, args.hyp, args.ref, check_format=not args.no_format_check,
                              metric=args.metric, separator=getattr(args, "sentence_separator", None))
    except InputError as e:
        print(f"unilmv2-score: error: {e}", file=sys.stderr)
        return 2
    for warning in warnings:
        print(f"unilmv2-score: warning: {warning}", file=sys.stderr)
    if args.metric == "rouge":
        result = rouge(hyps, refs, stem=not args.no_stem, separator=args.sentence_separator)
    else:
        result = bleu(hyps, refs, args.tokenize, args.lowercase)
    print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in result.items()}))
    return 0


if __name__ == "__main__":
    from unilmv2_cli import console  # a closed stdout (| head) ends quietly

    sys.exit(console(main))
