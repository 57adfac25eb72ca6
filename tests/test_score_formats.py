"""unilmv2-score's input checks against the review's silent mis-scores: sentence markup scored
as words, fairseq output cut at the wrong field, a byte-order mark, subword checks that refused
ordinary text, and an unknown sacrebleu tokenizer."""
import json

import pytest

from fairseq_unilmv2.scoring.input_checks import format_problem
from fairseq_unilmv2.scoring.score_cli import main

from .helpers import LEE
from .test_score import _aclsum_pairs


def _score(tmp_path, capsys, hyps, refs, *extra, metric="rouge", hyp_bytes=None):
    h, r = tmp_path / "hyp.txt", tmp_path / "ref.txt"
    h.write_bytes(hyp_bytes if hyp_bytes is not None else "".join(line + "\n" for line in hyps).encode())
    r.write_text("".join(line + "\n" for line in refs), encoding="utf-8")
    code = main([metric, "--hyp", str(h), "--ref", str(r), *extra])
    out, err = capsys.readouterr()
    return code, (json.loads(out.splitlines()[-1]) if code == 0 else out), err


HYPS = ["the cat sat on the mat.", "A dog barked loudly."]
REFS_Q = ["the cat sat<q>on the mat.", "A dog<q>barked loudly."]  # CNN/DM-style targets


def test_sentence_markers_are_warned_about_and_the_separator_removes_them(tmp_path, capsys):
    code, result, err = _score(tmp_path, capsys, HYPS, REFS_Q)
    assert code == 0 and result["rouge1"] == 90.6  # "q" counted as a reference word (review: 90.6)
    assert ("unilmv2-score: warning: 2 of 2 lines of " in err and "ref.txt hold the sentence marker '<q>'" in err
            and "ref.txt:1 is the first" in err and "pass --sentence-separator '<q>'" in err)
    # with the separator, "<q>" is cut away: the same 6 + 4 words on both sides
    code, result, err = _score(tmp_path, capsys, HYPS, REFS_Q, "--sentence-separator", "<q>")
    assert code == 0 and result == {"rouge1": 100.0, "rouge2": 100.0, "rougeLsum": 100.0, "n": 2}
    assert "warning" not in err
    # BLEU has no separator option: remove them
    code, result, err = _score(tmp_path, capsys, HYPS, REFS_Q, metric="bleu")
    assert code == 0 and "ref.txt hold the sentence marker '<q>'" in err and "sed 's|<q>| |g'" in err


def test_tag_markup_on_the_hypothesis_side_is_warned_per_tag(tmp_path, capsys):
    hyps = ["<t> the cat sat . </t> <t> it purred . </t>", "a dog barked ."]
    code, _, err = _score(tmp_path, capsys, hyps, ["the cat sat . it purred .", "a dog barked ."],
                          "--sentence-separator", "<q>")
    assert code == 0
    assert "1 of 2 lines of " in err and "hyp.txt hold the sentence marker '<t>'" in err
    assert "hyp.txt hold the sentence marker '</t>'" in err and "sed 's|</t>| |g'" in err


@pytest.mark.parametrize("metric", ["rouge", "bleu"])
@pytest.mark.parametrize("lines", [["-0.3421\tthe cat sat on the mat .", "-1.2\ta dog barked ."],  # cut -f2-
                                   ["     1\tthe cat sat on the mat .", "     2\ta dog barked ."]])  # nl
def test_a_leading_score_field_is_refused_as_fairseq_output(tmp_path, capsys, metric, lines):
    code, out, err = _score(tmp_path, capsys, lines, ["the cat sat on the mat .", "a dog barked ."], metric=metric)
    assert code == 2 and out == ""
    first = lines[0].split("\t")[0].strip()
    assert f"hyp.txt:1: this hypothesis file holds fairseq-generate output ({first}<TAB>...)" in err
    assert "grep '^D-' generate.out | sort -V | cut -f3-" in err


@pytest.mark.parametrize("metric,key", [("bleu", "bleu"), ("rouge", "rouge1")])
def test_a_byte_order_mark_is_dropped(tmp_path, capsys, metric, key):
    refs = ["The cat sat on the mat.", "A dog barked loudly."]
    data = b"\xef\xbb\xbf" + "".join(line + "\n" for line in refs).encode()
    code, result, _ = _score(tmp_path, capsys, None, refs, metric=metric, hyp_bytes=data)
    assert code == 0 and result[key] == 100.0  # identical text (review: BLEU 88.07 with the BOM kept)


@pytest.mark.parametrize("line", ["Bar chart: \u2581\u2582\u2583 rising.", "Trending ##MeToo today."])
def test_one_stray_mark_in_ordinary_text_is_scored(tmp_path, capsys, line):
    code, result, err = _score(tmp_path, capsys, [line, "the cat sat"], [line, "the cat sat"])
    assert code == 0 and result["rouge1"] == 100.0 and err == ""


def test_unknown_bleu_tokenizer_is_a_usage_error_listing_sacrebleus(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        _score(tmp_path, capsys, ["a b"], ["a b"], "--tokenize", "foo", metric="bleu")
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "invalid choice: 'foo'" in err
    assert all(f"'{name}'" in err for name in ("13a", "intl", "char", "zh", "none"))


@pytest.fixture(scope="module")
def aclsum_text():
    hyps, _ = _aclsum_pairs()
    return hyps[:40]


def test_real_sentencepiece_output_is_refused(tmp_path_factory, aclsum_text):
    import sentencepiece as spm

    d = tmp_path_factory.mktemp("spm")  # the model test_preprocess_encode trains: 1500 pieces on Lee
    spm.SentencePieceTrainer.train(input=str(LEE), model_prefix=str(d / "spm"), vocab_size=1500,
                                   character_coverage=1.0, max_sentence_length=65536, minloglevel=2)
    sp = spm.SentencePieceProcessor(model_file=str(d / "spm.model"))
    pieces = [" ".join(sp.encode(text, out_type=str)) for text in aclsum_text]
    # the whole file, one line, one line of four (named by its number)
    for lines, first in ((pieces, 1), (pieces[:1], 1), (["the cat sat"] * 3 + pieces[:1], 4)):
        assert format_problem(lines, "hyp.txt", "hypothesis").startswith(f"hyp.txt:{first}: SentencePiece pieces")
    assert format_problem(sp.decode([sp.encode(t) for t in aclsum_text]), "hyp.txt", "hypothesis") is None


def test_real_wordpiece_output_is_refused(tmp_path, aclsum_text):
    from tokenizers import BertWordPieceTokenizer

    tok = BertWordPieceTokenizer(lowercase=True)  # as test_preprocess_encode: 2000 on Lee
    tok.train([str(LEE)], vocab_size=2000, show_progress=False)
    pieces = [" ".join(tok.encode(text, add_special_tokens=False).tokens) for text in aclsum_text]
    for lines in (pieces, pieces[:1]):
        assert format_problem(lines, "hyp.txt", "hypothesis").startswith("hyp.txt:1: WordPiece pieces")
    assert format_problem(aclsum_text, "hyp.txt", "hypothesis") is None
