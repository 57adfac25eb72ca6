"""unilmv2-score refuses input that would score silently wrong: text still in subword pieces,
fairseq-generate output passed as it is, empty files; and warns about empty lines."""
import json

import pytest

from fairseq_unilmv2.scoring.score_cli import main


def _score(tmp_path, capsys, hyps, refs, *extra, metric="rouge"):
    h, r = tmp_path / "hyp.txt", tmp_path / "ref.txt"
    h.write_text("".join(line + "\n" for line in hyps), encoding="utf-8")
    r.write_text("".join(line + "\n" for line in refs), encoding="utf-8")
    code = main([metric, "--hyp", str(h), "--ref", str(r), *extra])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("metric", ["rouge", "bleu"])
def test_sentencepiece_hypotheses_are_refused(tmp_path, capsys, metric):
    # decoded without --post-process sentencepiece (issue 10: a perfect system scored ROUGE-1 67.6)
    code, out, err = _score(tmp_path, capsys, ["the cat sat", "\u2581Whil e \u2581brain \u2581cells \u2581grow"],
                            ["the cat sat", "While brain cells grow"], metric=metric)
    assert code == 2 and out == ""
    assert "hyp.txt:2: SentencePiece pieces" in err and "--post-process sentencepiece" in err


def test_wordpiece_and_reference_side_pieces_are_refused(tmp_path, capsys):
    # two continuations in 7 tokens (29%; the threshold is 2 pieces and 2% of the file's tokens)
    code, out, err = _score(tmp_path, capsys, ["the cat sat", "while brain ##s grow ##ing fast"],
                            ["the cat sat", "while brains growing fast"])
    assert code == 2 and out == "" and "hyp.txt:2: WordPiece pieces (2 of 9 tokens)" in err
    code, out, err = _score(tmp_path, capsys, ["while brains grow"], ["\u2581while \u2581brain s"])
    assert code == 2 and out == "" and "ref.txt:1: SentencePiece pieces" in err
    # subword-nmt BPE left in (fairseq --bpe subword_nmt without --post-process subword_nmt)
    code, out, err = _score(tmp_path, capsys, ["the cat sat", "the mo@@ del is gre@@ at"],
                            ["the cat sat", "the model is great"])
    assert code == 2 and out == "" and "hyp.txt:2: BPE pieces (2 of 9 tokens)" in err and "subword_nmt" in err
    # a markdown heading, a hashtag or an e-mail-like "a@@" inside a word is text, not a piece
    code, out, err = _score(tmp_path, capsys, ["mail me at x@@y.org"], ["mail me at x@@y.org"])
    assert code == 0
    # a markdown heading or a hashtag is text, not a piece
    code, out, err = _score(tmp_path, capsys, ["## Methods #nlp"], ["## Methods #nlp"])
    assert code == 0 and json.loads(out.splitlines()[-1])["rouge1"] == 100.0


def test_fairseq_generate_output_is_refused(tmp_path, capsys):
    lines = ["S-0\tthe source", "T-0\tthe cat sat", "H-0\t-0.25\tthe cat sat", "D-0\t-0.25\tthe cat sat",
             "P-0\t-0.1 -0.2 -0.3 -0.4"]
    code, out, err = _score(tmp_path, capsys, lines, ["x"] * len(lines))
    assert code == 2 and out == ""
    assert "hyp.txt:1: this hypothesis file holds fairseq-generate output (S-0<TAB>...)" in err
    assert "grep '^D-' generate.out | sort -V | cut -f3-" in err


def test_no_format_check_scores_anyway(tmp_path, capsys):
    # perl drops the non-ASCII mark "▁", so whole-word pieces still match: 2 of 2 words
    code, out, err = _score(tmp_path, capsys, ["\u2581the \u2581cat"], ["the cat"], "--no-format-check")
    assert code == 0
    assert json.loads(out.splitlines()[-1]) == {"rouge1": 100.0, "rouge2": 100.0, "rougeLsum": 100.0, "n": 1}


@pytest.mark.parametrize("empty", ["hyp", "ref"])
def test_empty_file_is_an_error_not_a_score(tmp_path, capsys, empty):
    h, r = tmp_path / "hyp.txt", tmp_path / "ref.txt"
    h.write_text("" if empty == "hyp" else "a b\n")
    r.write_text("" if empty == "ref" else "a b\n")
    code = main(["rouge", "--hyp", str(h), "--ref", str(r)])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and f"{empty}.txt is empty" in err


def test_empty_lines_are_scored_zero_with_a_warning(tmp_path, capsys):
    code, out, err = _score(tmp_path, capsys, ["", "a b", "  "], ["a b", "a b", "a b"])
    assert code == 0
    assert json.loads(out.splitlines()[-1])["rouge1"] == pytest.approx(33.33)  # (0 + 100 + 0) / 3
    assert "warning: 2 of 3 hypotheses are empty and score 0" in err and "hyp.txt:1 is the first" in err
