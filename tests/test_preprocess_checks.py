"""preprocess/: inputs that must stop encode.py and binarize.py with a clear message instead of an
empty or mostly-<unk> data-bin (issue 10, faults 9 and 11): a dict.txt fairseq would refuse, all
documents dropped, text that does not match the dictionary, a WordPiece vocabulary read with the
wrong casing, an input edited in place under a finished shard; and a failed run that finished
no shard must not lock DATA_BIN."""
import json
import os
import shutil
from collections import Counter

import pytest
import sentencepiece as spm

from preprocess.binarize import get_parser
from preprocess.fairseq_dict import check_dict
from preprocess.plan import check_resume, make_plan
from preprocess.shard import check_tokens
from preprocess.textio import InputError
from preprocess.wordpiece import case_mismatch

from .helpers import LEE, check_script, read_lines, run_script


@pytest.fixture(scope="module")
def spm_dir(tmp_path_factory):
    """A small SentencePiece model of the Lee corpus; 60 of its documents raw and encoded."""
    d = tmp_path_factory.mktemp("checks")
    proc = run_script("spm.py", "train", "--input", LEE, "--model-prefix", "spm", "--vocab-size", "800",
                      "--character-coverage", "1.0", "--max-sentence-length", "65536", cwd=d)
    assert proc.returncode == 0, proc.stderr
    raw = [line for line in read_lines(LEE) if line.strip()][:60]
    (d / "raw.txt").write_text("\n".join(raw) + "\n")
    sp = spm.SentencePieceProcessor(model_file=str(d / "spm.model"))
    (d / "enc.txt").write_text("\n".join(" ".join(sp.encode(line, out_type=str)) for line in raw) + "\n")
    return d


# --- dict.txt: checked whole, as fairseq's Dictionary.add_from_file reads it -------------------

DICT_CASES = [
    # (dict.txt text, expected error fragment or None when fairseq and we accept it)
    ("\u2581the 5\n\u2581a 4\n\u2581the 5\n", "d.txt:3: \u2581the is listed again (first listed by line 1)"),
    ("\u2581a 4\n<unk> 3\n", "d.txt:2: <unk> is listed again (first listed by fairseq's Dictionary itself"),
    # fairseq-preprocess accepts a repeat flagged #fairseq:overwrite, but the data-bin dict.txt it
    # saves drops the flag, so no task can load it (checked below with Dictionary.save)
    ("\u2581a 4\n\u2581a 3 #fairseq:overwrite\n",
     "d.txt:2: \u2581a is listed again with #fairseq:overwrite (first listed by line 1); fairseq-preprocess would "
     "accept it, but the DATA_BIN dict.txt it writes (Dictionary.save) drops the flag"),
    ("<unk> 3 #fairseq:overwrite\n\u2581a 4\n",
     "d.txt:1: <unk> is listed again with #fairseq:overwrite (first listed by fairseq's Dictionary itself"),
    ("\u2581a 4 #fairseq:overwrite\n\u2581a 3\n", "d.txt:2: \u2581a is listed again (first listed by line 1)"),
    ("\u2581a 4 #fairseq:overwrite\n\u2581b 3\n", None),  # the flag on a first listing: an ordinary line
    ("\u2581a 4\n\u2581b\t3\n", "d.txt:2: '\u2581b\\t3' is not 'SYMBOL COUNT'"),
    ("\u2581a 4\n\n\u2581b 3\n", "d.txt:2: '' is not 'SYMBOL COUNT'"),
    ("\u2581a 4\n\u2581b 3.5\n", "d.txt:2: '\u2581b 3.5' is not 'SYMBOL COUNT'"),
    ("\u2581a 4\n\u2581b 3 #fairseq:overwrit\n", "d.txt:2: '\u2581b 3 #fairseq:overwrit' is not 'SYMBOL COUNT'"),
    ("\u2581a 4\r\n\u2581b 3\r\n", None),  # CRLF: fairseq right-strips each line
    ("\u2581a 4\n<mask> 1 #fairseq:overwrite\n", "d.txt:2: lists <mask>, which the pmlm/unilm_seq2seq tasks"),
    ("a b 4\n", "d.txt:1: the symbol 'a b' holds whitespace"),  # fairseq loads it, but it can never match
    ("", "d.txt lists no symbol"),
]


@pytest.mark.parametrize("text,error", DICT_CASES)
def test_dictionary_is_checked_whole_with_file_line_and_fix(tmp_path, text, error):
    from fairseq.data import Dictionary

    path = tmp_path / "d.txt"
    path.write_bytes(text.encode())
    if error is None:
        check_dict(str(path))
        dictionary = Dictionary.load(str(path))  # what we accept fairseq accepts
        dictionary.save(str(tmp_path / "saved.txt"))  # as fairseq-preprocess writes DATA_BIN/dict.txt
        assert Dictionary.load(str(tmp_path / "saved.txt")).symbols == dictionary.symbols  # which the tasks load
        return
    with pytest.raises(ValueError) as e:
        check_dict(str(path))
    assert str(e.value).startswith(str(path)) and error in str(e.value)


def test_dictionary_that_is_not_utf8_names_the_line(tmp_path):
    (tmp_path / "d.txt").write_bytes(b"\xe2\x96\x81a 4\n\xa3 3\n")
    with pytest.raises(ValueError, match=r"d\.txt:2: not UTF-8"):
        check_dict(str(tmp_path / "d.txt"))


def test_overwrite_flag_is_refused_because_the_saved_data_bin_dictionary_would_not_load(tmp_path):
    """Review 2, fault 1: why a repeat flagged #fairseq:overwrite is refused. fairseq loads it (a
    second id), but Dictionary.save -- what fairseq-preprocess writes as DATA_BIN/dict.txt -- drops
    the flag, and that file then fails to load. <unk> is therefore always id 3."""
    from fairseq.data import Dictionary

    (tmp_path / "d.txt").write_text("\u2581a 4\n<unk> 3 #fairseq:overwrite\n\u2581b 2\n")
    saved = tmp_path / "saved.txt"
    Dictionary.load(str(tmp_path / "d.txt")).save(str(saved))
    assert read_lines(saved) == ["\u2581a 4", "<unk> 3", "\u2581b 2"]  # the flag is gone
    with pytest.raises(RuntimeError, match="Duplicate word found when loading Dictionary: '<unk>'"):
        Dictionary.load(str(saved))
    with pytest.raises(ValueError, match=r"d\.txt:2: <unk> is listed again with #fairseq:overwrite"):
        check_dict(str(tmp_path / "d.txt"))
    (tmp_path / "plain.txt").write_text("\u2581a 4\n\u2581b 2\n")
    assert check_dict(str(tmp_path / "plain.txt")).unk_ids == {3}


def _binarize_with_the_appended(spm_dir, tmp_path, name, extra_line):
    """binarize.py on spm.dict.txt plus ``extra_line`` (repeating ``▁the``): (process, the added
    line's number, the line where ``▁the`` was first listed)."""
    lines = read_lines(spm_dir / "spm.dict.txt")
    (tmp_path / name).write_text("\n".join([*lines, extra_line]) + "\n")
    first = 1 + [line.rsplit(" ", 1)[0] for line in lines].index("\u2581the")
    proc = run_script("binarize.py", "--dict", name, "--train", spm_dir / "enc.txt", "--destdir", "bin",
                      cwd=tmp_path, timeout=120)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and not (tmp_path / "bin").exists()
    return proc, len(lines) + 1, first


def test_overwrite_flag_stops_binarize_before_any_output(spm_dir, tmp_path):
    """Review 2, fault 1: `▁the 1 #fairseq:overwrite` appended was binarized with exit 0 into a
    shard0/dict.txt listing ▁the twice, which every task then failed to load."""
    proc, line, first = _binarize_with_the_appended(spm_dir, tmp_path, "ow.txt", "\u2581the 1 #fairseq:overwrite")
    assert (f"ow.txt:{line}: \u2581the is listed again with #fairseq:overwrite (first listed by line "
            f"{first})") in proc.stderr
    assert "fairseq's Dictionary refuses to load it" in proc.stderr


def test_duplicate_in_dictionary_stops_binarize_before_any_output(spm_dir, tmp_path):
    """Issue 10, fault 9a: `▁the 5` listed twice used to write plan.json and end in fairseq's traceback."""
    proc, line, first = _binarize_with_the_appended(spm_dir, tmp_path, "dup.txt", "\u2581the 5")
    assert f"dup.txt:{line}: \u2581the is listed again (first listed by line {first})" in proc.stderr
    assert "remove this line" in proc.stderr


# --- binarize: the <unk> rate; a failed run locks nothing; edited inputs -----------------------

def _read_back(prefix, dict_path):
    from fairseq.data import Dictionary, data_utils

    dictionary = Dictionary.load(str(dict_path))
    dataset = data_utils.load_indexed_dataset(str(prefix), dictionary)
    return [" ".join(dictionary[t] for t in dataset[i].tolist()[:-1]) for i in range(len(dataset))]


def test_raw_text_is_refused_for_its_unk_rate_and_the_fixed_rerun_goes_through(spm_dir, tmp_path):
    """Fault 9c: raw text against a SentencePiece dictionary binarized to mostly <unk> with exit 0.
    The refused run finished no shard, so the rerun with the encoded text is not locked out by
    its plan.json, and none of its leftover text ends up in the data-bin."""
    args = ["--dict", spm_dir / "spm.dict.txt", "--destdir", "bin"]
    proc = run_script("binarize.py", *args, "--train", spm_dir / "raw.txt", cwd=tmp_path, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "bin/shard0/train (shard0, lines 1-60 of the training text): " in proc.stderr
    assert "tokens are <unk>, more than --max-unk-rate 0.05" in proc.stderr and "Traceback" not in proc.stderr
    for cause in ("raw (untokenized) text", "another tokenizer", "read with the wrong case",
                  "many characters the vocabulary lacks", "raise --max-unk-rate"):
        assert cause in proc.stderr, cause
    rate = float(proc.stderr.split("of the training text): ")[1].split("%")[0])
    assert rate > 50  # raw words are not pieces: most become <unk>
    assert (tmp_path / "bin/plan.json").exists() and (tmp_path / "bin/.text/shard0.txt").exists()
    assert not [n for n in os.listdir(tmp_path / "bin") if n.startswith("shard")]  # nothing finished

    shutil.copy(spm_dir / "enc.txt", tmp_path / "enc.txt")
    out = check_script("binarize.py", *args, "--train", "enc.txt", cwd=tmp_path)
    assert out["shards_binarized"] == 1 and out["unk_tokens"] == 0 and out["unk_rate"] == 0.0
    encoded = read_lines(spm_dir / "enc.txt")
    assert out["tokens"] == sum(len(line.split()) for line in encoded)
    assert _read_back(tmp_path / "bin/shard0/train", spm_dir / "spm.dict.txt") == encoded
    assert json.loads((tmp_path / "bin/plan.json").read_text())["train"] == [[str(tmp_path / "enc.txt")]]

    # the plan now binds (shard0 is finished): the input edited in place with the same size and
    # line count (two tokens of line 1 swapped) is refused instead of resumed
    first = encoded[0].split()
    edited = " ".join([first[1], first[0], *first[2:]])
    assert len(edited) == len(encoded[0]) and edited != encoded[0]
    (tmp_path / "enc.txt").write_text("\n".join([edited, *encoded[1:]]) + "\n")
    proc = run_script("binarize.py", *args, "--train", "enc.txt", cwd=tmp_path, timeout=120)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "enc.txt changed since bin/plan.json was written (same path, other content" in proc.stderr
    assert "the finished shards (shard0) hold the old text" in proc.stderr


def test_unk_rate_counts_literal_unk_and_is_in_the_summary(tmp_path):
    """Hand count: 250 lines `▁a ▁b c d` and one `▁a <unk>` hold 250 * 4 + 2 = 1002 tokens; c, d (not
    in the dictionary) and the literal <unk> are 250 * 2 + 1 = 501 <unk>: rate 0.5 on at least 1000
    tokens, refused at the default 0.05 and accepted with --max-unk-rate 0.6."""
    (tmp_path / "d.txt").write_text("\u2581a 4\n\u2581b 2\n")
    (tmp_path / "t.txt").write_text("\u2581a \u2581b c d\n" * 250 + "\u2581a <unk>\n")
    base = ["--dict", "d.txt", "--train", "t.txt", "--destdir", "bin"]
    proc = run_script("binarize.py", *base, cwd=tmp_path, timeout=300)
    assert proc.returncode == 2 and "50.0% of its 1002 tokens are <unk>" in proc.stderr, proc.stderr[-2000:]
    out = check_script("binarize.py", *base, "--max-unk-rate", "0.6", cwd=tmp_path)
    assert (out["tokens"], out["unk_tokens"], out["unk_rate"]) == (1002, 501, 0.5)
    out = check_script("binarize.py", *base, "--max-unk-rate", "0.6", cwd=tmp_path)  # resumed: counted again
    assert (out["shards_skipped"], out["tokens"], out["unk_tokens"]) == (1, 1002, 501)
    proc = run_script("binarize.py", *base, "--max-unk-rate", "1.5", cwd=tmp_path, timeout=60)
    assert proc.returncode == 2 and "--max-unk-rate 1.5: give a fraction from 0 to 1" in proc.stderr


def test_a_split_without_tokens_is_refused_and_a_rate_needs_1000_tokens():
    """Review 2, fault 2 (unit): a rate above the limit refuses only when measured on at least
    1000 tokens; on fewer it is a warning (returned), not a refusal."""
    with pytest.raises(InputError, match=r"bin/shard0/train \(shard0\) holds no token"):
        check_tokens(Counter(tokens=0, unk_tokens=0), "bin/shard0/train", "shard0", 0.05, "d.txt")
    assert check_tokens(Counter(tokens=1000, unk_tokens=50), "bin/shard0/train", "shard0", 0.05, "d.txt") is None
    with pytest.raises(InputError, match=r"5\.1% of its 1000 tokens are <unk>, more than --max-unk-rate 0\.05"):
        check_tokens(Counter(tokens=1000, unk_tokens=51), "bin/shard0/train", "shard0", 0.05, "d.txt")
    warning = check_tokens(Counter(tokens=999, unk_tokens=998), "bin/shard0/valid", "validation set", 0.05, "d.txt")
    assert warning.startswith("bin/shard0/valid (validation set): 99.9% of its 999 tokens are <unk>")
    assert "999 tokens are too few to judge the text by (a refusal needs at least 1000): binarized anyway" in warning
    assert check_tokens(Counter(tokens=20, unk_tokens=1), "v", "validation set", 0.05, "d.txt") is None  # 5%


def test_a_few_validation_lines_with_rare_characters_are_not_refused(spm_dir, tmp_path):
    """Review 2, fault 2: 3 validation lines with characters the vocabulary lacks (hand-written
    pieces: 3 <unk> in 12 tokens, 25%) in a corpus otherwise without <unk> were refused as "text
    that does not match the dictionary". Too few tokens to judge: a warning, exit 0."""
    (tmp_path / "valid.txt").write_text("\u2581the \u6771\u4eac \u2581the .\n\u2581the Z\u00fcrich \u2581the .\n"
                                        "\u2581the \U0001f600 \u2581the .\n")
    encoded = read_lines(spm_dir / "enc.txt")
    proc = run_script("binarize.py", "--dict", spm_dir / "spm.dict.txt", "--train", spm_dir / "enc.txt", "--valid",
                      "valid.txt", "--destdir", "bin", cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "bin/shard0/valid (validation set): 25.0% of its 12 tokens are <unk>, more than --max-unk-rate 0.05, " \
        "but 12 tokens are too few to judge the text by" in proc.stderr
    out = json.loads(proc.stdout)
    assert (out["tokens"], out["unk_tokens"]) == (sum(len(line.split()) for line in encoded) + 12, 3)
    assert (tmp_path / "bin/shard0/valid.idx").exists()


def test_small_splits_are_judged_together_with_their_shard_and_the_whole_run(tmp_path):
    """Splits under 1000 tokens are no evidence alone, but together they can be. Hand counts with
    `▁a ▁b c d` lines (4 tokens, c and d <unk>: 50%):
    - 150 validation lines (600 tokens) and 150 training lines (600) in one shard: each too few,
      shard0's 1200 tokens together refused (shard0 not renamed);
    - 300 training lines in 2 shards of 150 (600 tokens each, warned): the whole run's 1200 tokens
      refused at the end (exit 2), the shards written."""
    (tmp_path / "d.txt").write_text("\u2581a 4\n\u2581b 2\n")
    (tmp_path / "t.txt").write_text("\u2581a \u2581b c d\n" * 300)
    proc = run_script("binarize.py", "--dict", "d.txt", "--train", "t.txt", "--valid-lines", "150", "--destdir",
                      "one", cwd=tmp_path, timeout=120)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "one/shard0 (shard0, its 2 splits together): 50.0% of its 1200 tokens are <unk>" in proc.stderr
    assert not (tmp_path / "one/shard0").exists()
    proc = run_script("binarize.py", "--dict", "d.txt", "--train", "t.txt", "--shards", "2", "--destdir", "two",
                      cwd=tmp_path, timeout=120)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "two (all 2 shard(s) together): 50.0% of its 1200 tokens are <unk>" in proc.stderr
    assert "Each shard was too small to be judged alone, so they are written: delete two" in proc.stderr
    assert (tmp_path / "two/shard0").is_dir() and (tmp_path / "two/shard1").is_dir()


def test_edited_validation_file_is_refused_once_a_shard_is_finished(spm_dir, tmp_path):
    """In-process: plan.json of a run whose shard0 is finished; the --valid file then edited with
    the same size and line count."""
    (tmp_path / "valid.txt").write_text("\u2581a \u2581b\n\u2581c\n")
    args = get_parser().parse_args(["--dict", str(spm_dir / "spm.dict.txt"), "--train", str(spm_dir / "enc.txt"),
                                    "--valid", str(tmp_path / "valid.txt"), "--destdir", str(tmp_path / "bin")])
    plan, _ = make_plan(args)
    plan_path = str(tmp_path / "bin/plan.json")
    assert check_resume(plan_path, plan) is True  # a new DATA_BIN: write the plan
    (tmp_path / "bin/shard0").mkdir(parents=True)
    (tmp_path / "bin/plan.json").write_text(json.dumps(plan))
    assert check_resume(plan_path, plan) is False  # the same plan: resume
    (tmp_path / "valid.txt").write_text("\u2581b \u2581a\n\u2581c\n")
    edited, _ = make_plan(args)
    assert edited["valid_sizes"] == plan["valid_sizes"] and edited["valid_sha256"] != plan["valid_sha256"]
    with pytest.raises(InputError, match="valid.txt changed since .*plan.json was written"):
        check_resume(plan_path, edited)
    os.rmdir(tmp_path / "bin/shard0")  # no finished shard: the plan binds nothing and is replaced
    assert check_resume(plan_path, edited) is True


# --- encode: everything dropped; WordPiece casing ----------------------------------------------

def test_encode_refuses_to_write_nothing(spm_dir, tmp_path):
    """Fault 9b: --format paragraphs on one document a line makes one 60-line document, which
    --long-lines drop dropped: 0 lines written, exit 0."""
    model = spm_dir / "spm.model"
    proc = run_script("encode.py", "--spm-model", model, "--input", spm_dir / "raw.txt", "--output-dir", "enc",
                      "--format", "paragraphs", "--long-lines", "drop", cwd=tmp_path, timeout=120)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "raw.txt: 60 lines read, 0 written: all 1 documents were left out (1 long_dropped)" in proc.stderr
    assert "use --long-lines split" in proc.stderr and "(here 60 lines became 1): for one document a line use " \
        "--format lines" in proc.stderr
    assert os.listdir(tmp_path / "enc") == [".plan.json"]  # no output that a rerun would skip as complete
    (tmp_path / "blank.txt").write_text("\n \n\n")
    proc = run_script("encode.py", "--spm-model", model, "--input", "blank.txt", "--output-dir", "b", cwd=tmp_path,
                      timeout=120)
    assert proc.returncode == 2 and "blank.txt: 3 lines read, 0 written: all 3 documents were left out " \
        "(3 empty_dropped)" in proc.stderr
    proc = run_script("encode.py", "--spm-model", model, "--input", "blank.txt", "--output-dir", "p", "--format",
                      "paragraphs", cwd=tmp_path, timeout=120)
    assert proc.returncode == 2 and "blank.txt: 3 lines read, all blank" in proc.stderr
    # 2 of 3 documents dropped: written, with a warning
    (tmp_path / "some.txt").write_text("fire\nfire crews and police fought the fire\nfire crews and police\n")
    proc = run_script("encode.py", "--spm-model", model, "--input", "some.txt", "--output-dir", "s", "--long-lines",
                      "drop", "--tokens-per-sample", "4", cwd=tmp_path, timeout=120)
    assert proc.returncode == 0 and "some.txt: 2 of 3 documents left out (2 long_dropped)" in proc.stderr
    assert len(read_lines(tmp_path / "s/some.txt")) == 1
    (tmp_path / "empty.txt").write_text("")
    proc = run_script("encode.py", "--spm-model", model, "--input", "empty.txt", "--output-dir", "e", cwd=tmp_path,
                      timeout=120)
    assert proc.returncode == 2 and "every input is empty (empty.txt)" in proc.stderr
    assert not (tmp_path / "e").exists()


def _vocab(path, tokens):
    path.write_text("\n".join(["[PAD]", "[unused0]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *tokens]) + "\n")
    return path


def test_wordpiece_vocab_casing_must_match_cased(tmp_path):
    """Fault 11: `She is cool!` with a cased vocabulary and no --cased was `<unk> is cool !`, exit 0."""
    (tmp_path / "she.txt").write_text("She is cool!\n")
    cased = _vocab(tmp_path / "cased.txt", ["She", "is", "cool", "!"])
    uncased = _vocab(tmp_path / "uncased.txt", ["she", "is", "cool", "!"])
    base = ["--input", "she.txt", "--tokens-per-sample", "0"]
    proc = run_script("encode.py", "--wordpiece-vocab", cased, *base, "--output", "a.wp", cwd=tmp_path, timeout=60)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "cased.txt is cased (1 of its 3 entries with letters hold an uppercase one)" in proc.stderr
    assert "pass --cased" in proc.stderr and not (tmp_path / "a.wp").exists()
    check_script("encode.py", "--wordpiece-vocab", cased, "--cased", *base, "--output", "b.wp", cwd=tmp_path)
    assert read_lines(tmp_path / "b.wp") == ["She is cool !"]
    proc = run_script("encode.py", "--wordpiece-vocab", uncased, "--cased", *base, "--output", "c.wp", cwd=tmp_path,
                      timeout=60)
    assert proc.returncode == 2 and "uncased.txt is uncased (none of its 3 entries" in proc.stderr
    assert "leave out --cased" in proc.stderr
    check_script("encode.py", "--wordpiece-vocab", uncased, *base, "--output", "d.wp", cwd=tmp_path)
    assert read_lines(tmp_path / "d.wp") == ["she is cool !"]
    proc = run_script("encode.py", "--wordpiece-vocab", cased, *base, "--output", "e.wp", "--ignore-vocab-case",
                      cwd=tmp_path, timeout=60)
    assert proc.returncode == 0 and "encoding anyway (--ignore-vocab-case)" in proc.stderr
    assert read_lines(tmp_path / "e.wp") == ["<unk> is cool !"]  # what the check prevents


def test_case_rule_on_trained_vocabularies(tmp_path):
    """WordPiece trained on the (cased) Lee corpus with and without lowercasing."""
    from tokenizers import BertWordPieceTokenizer

    vocabs = {}
    for lowercase in (False, True):
        trainer = BertWordPieceTokenizer(lowercase=lowercase)
        trainer.train([str(LEE)], vocab_size=1000, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
                      show_progress=False)
        vocabs[lowercase] = list(trainer.get_vocab())
    assert "is cased" in case_mismatch(vocabs[False], cased=False)
    assert case_mismatch(vocabs[False], cased=True) is None
    assert "is uncased" in case_mismatch(vocabs[True], cased=True)
    assert case_mismatch(vocabs[True], cased=False) is None
    # a few uppercase entries among many (under 1%): no verdict either way
    few = ["She", *[f"w{i}" for i in range(200)]]
    assert case_mismatch(few, cased=False) is None and case_mismatch(few, cased=True) is None
    assert case_mismatch(["[PAD]", "##", "!", "1"], cased=False) is None  # no letters: nothing to say
