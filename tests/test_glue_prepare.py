"""GLUE preparation on GLUE-shaped files: every task's TSV layout as the GLUE download script
writes it (rows copied in the shape of the real files), labels, the data-bin fairseq reads, and
bad input stopping with FILE:LINE and nothing written."""
import os
import re
import subprocess
import sys

import pytest

from fairseq_unilmv2 import vocab_ids
from fairseq_unilmv2.glue import prepare
from fairseq_unilmv2.glue.errors import GlueError
from fairseq_unilmv2.glue.tasks import DIAGNOSTIC, TASKS

T = "\t"
MNLI_HEAD = ["index", "promptID", "pairID", "genre", "sentence1_binary_parse", "sentence2_binary_parse",
             "sentence1_parse", "sentence2_parse", "sentence1", "sentence2"]
PARSES = ["( ( a b ) )", "( c )", "(ROOT (S a b))", "(ROOT (S c))"]

# Each task's files: header + rows in the real files' shape. Expected: (inputs, label, index) of the
# first data row. Labels sit in other columns than their neighbours so that a wrong column shows.
GLUE_FILES = {
    "CoLA": {
        "train.tsv": ["gj04\t1\t\tOur friends won't buy this analysis, let alone the next one we propose.",
                      "gj04\t0\t*\tOne more pseudo generalization and I'm giving up."],
        "dev.tsv": ["gj04\t0\t*\tThe sailors rode the breeze clear of the rocks the."],
        "test.tsv": ["index\tsentence", "0\tBill whistled past the house."],
    },
    "SST-2": {
        "train.tsv": ["sentence\tlabel", "hide new secretions from the parental units \t0", "goes to absurd lengths \t1"],
        "dev.tsv": ["sentence\tlabel", "it 's a charming and often affecting journey . \t1"],
        "test.tsv": ["index\tsentence", "0\tuneasy mishmash of styles and genres ."],
    },
    "MRPC": {
        "train.tsv": ["Quality\t#1 ID\t#2 ID\t#1 String\t#2 String",
                      "1\t702876\t702977\tAmrozi accused his brother .\tReferring to him , Amrozi accused his brother ."],
        "dev.tsv": ["Quality\t#1 ID\t#2 ID\t#1 String\t#2 String", "0\t1355540\t1355592\tHe said .\tShe said ."],
        "test.tsv": ["index\t#1 ID\t#2 ID\t#1 String\t#2 String", "0\t1089874\t1089925\tPCCW 's chief .\tCurrent chief ."],
    },
    "QQP": {
        "train.tsv": ["id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate",
                      "133273\t213221\t213222\tHow is the life of a math student?\tWhich level is enough for jlpt5?\t0"],
        "dev.tsv": ["id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate",
                    "201359\t303345\t303346\tWhy are African-Americans so beautiful?\tWhy are hispanics so beautiful?\t1"],
        "test.tsv": ["id\tquestion1\tquestion2", "7\tWould the idea scare you?\tDo you think so?"],
    },
    "STS-B": {
        "train.tsv": ["index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore",
                      "0\tmain-captions\tMSRvid\t2012test\t0001\tnone\tnone\tA plane is taking off.\tAn air plane is taking off.\t5.000",
                      "1\tmain-captions\tMSRvid\t2012test\t0004\tnone\tnone\tA man is playing a flute.\tA man plays a guitar.\t1.600"],
        "dev.tsv": ["index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore",
                    "0\tmain-captions\tMSRvid\t2012test\t0000\tnone\tnone\tA man with a hard hat is dancing.\tA man wearing a hard hat is dancing.\t4.750"],
        "test.tsv": ["index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2",
                     "0\tmain-captions\tMSRvid\t2012test\t0024\tnone\tnone\tA girl is styling her hair.\tA girl is brushing her hair."],
    },
    "MNLI": {
        "train.tsv": [T.join(MNLI_HEAD + ["label1", "gold_label"]),
                      T.join(["0", "31193", "31193n", "government"] + PARSES
                             + ["Conceptually cream skimming has two dimensions.", "Product and geography matter.",
                                "neutral", "entailment"])],
        "dev_matched.tsv": [T.join(MNLI_HEAD + ["label1", "label2", "label3", "label4", "label5", "gold_label"]),
                            T.join(["0", "63735", "63735n", "slate"] + PARSES
                                   + ["The new rights are nice enough", "Everyone really likes the newest benefits ",
                                      "neutral", "entailment", "neutral", "neutral", "neutral", "contradiction"])],
        "dev_mismatched.tsv": [T.join(MNLI_HEAD + ["label1", "label2", "label3", "label4", "label5", "gold_label"]),
                               T.join(["0", "75290", "75290c", "letters"] + PARSES
                                      + ["Your contribution helped.", "It did not help.", "contradiction",
                                         "contradiction", "contradiction", "contradiction", "contradiction", "neutral"])],
        "test_matched.tsv": [T.join(MNLI_HEAD), T.join(["0", "31493", "31493", "travel"] + PARSES + ["Hierbas .", "Hierbas is a name ."])],
        "test_mismatched.tsv": [T.join(MNLI_HEAD), T.join(["0", "0", "0", "fiction"] + PARSES + ["What made you ?", "You made it ."])],
    },
    "QNLI": {
        "train.tsv": ["index\tquestion\tsentence\tlabel",
                      "0\tWhen did the third Digimon series begin?\tUnlike the two seasons before it .\tnot_entailment"],
        "dev.tsv": ["index\tquestion\tsentence\tlabel", "0\tWhat came into force?\tThe law came into force .\tentailment"],
        "test.tsv": ["index\tquestion\tsentence", "0\tWhat organization is devoted to Jihad?\tFor some decades ."],
    },
    "RTE": {
        "train.tsv": ["index\tsentence1\tsentence2\tlabel",
                      "0\tNo Weapons of Mass Destruction Found in Iraq Yet.\tWeapons of Mass Destruction Found in Iraq.\tnot_entailment"],
        "dev.tsv": ["index\tsentence1\tsentence2\tlabel", "0\tDana Reeve died.\tChristopher Reeve had an accident.\tnot_entailment"],
        "test.tsv": ["index\tsentence1\tsentence2", "0\tMangla was an hour away.\tMangla is a town."],
    },
    "WNLI": {
        "train.tsv": ["index\tsentence1\tsentence2\tlabel",
                      "0\tI stuck a pin through a carrot. When I pulled the pin out, it had a hole.\tThe carrot had a hole.\t1"],
        "dev.tsv": ["index\tsentence1\tsentence2\tlabel", "0\tThe drain is clogged with hair.\tThe hair has to be cleaned.\t0"],
        "test.tsv": ["index\tsentence1\tsentence2", "0\tMaude and Dora had seen the trains.\tThe trains seemed to rush."],
    },
}
# (task, file) -> (inputs, label, index) of the first data row
FIRST_ROW = {
    ("CoLA", "train.tsv"): (["Our friends won't buy this analysis, let alone the next one we propose."], "1", "0"),
    ("CoLA", "test.tsv"): (["Bill whistled past the house."], None, "0"),
    ("SST-2", "train.tsv"): (["hide new secretions from the parental units "], "0", "0"),
    ("SST-2", "test.tsv"): (["uneasy mishmash of styles and genres ."], None, "0"),
    ("MRPC", "train.tsv"): (["Amrozi accused his brother .", "Referring to him , Amrozi accused his brother ."], "1", "0"),
    ("MRPC", "test.tsv"): (["PCCW 's chief .", "Current chief ."], None, "0"),
    ("QQP", "train.tsv"): (["How is the life of a math student?", "Which level is enough for jlpt5?"], "0", "0"),
    ("QQP", "test.tsv"): (["Would the idea scare you?", "Do you think so?"], None, "7"),
    ("STS-B", "train.tsv"): (["A plane is taking off.", "An air plane is taking off."], "5.000", "0"),
    ("STS-B", "test.tsv"): (["A girl is styling her hair.", "A girl is brushing her hair."], None, "0"),
    ("MNLI", "train.tsv"): (["Conceptually cream skimming has two dimensions.", "Product and geography matter."],
                            "entailment", "0"),
    ("MNLI", "dev_matched.tsv"): (["The new rights are nice enough", "Everyone really likes the newest benefits "],
                                  "contradiction", "0"),
    ("MNLI", "dev_mismatched.tsv"): (["Your contribution helped.", "It did not help."], "neutral", "0"),
    ("MNLI", "test_mismatched.tsv"): (["What made you ?", "You made it ."], None, "0"),
    ("QNLI", "train.tsv"): (["When did the third Digimon series begin?", "Unlike the two seasons before it ."],
                            "not_entailment", "0"),
    ("RTE", "dev.tsv"): (["Dana Reeve died.", "Christopher Reeve had an accident."], "not_entailment", "0"),
    ("WNLI", "train.tsv"): (["I stuck a pin through a carrot. When I pulled the pin out, it had a hole.",
                             "The carrot had a hole."], "1", "0"),
    ("WNLI", "test.tsv"): (["Maude and Dora had seen the trains.", "The trains seemed to rush."], None, "0"),
}
DIAGNOSTIC_ROWS = ["index\tsentence1\tsentence2", "0\tThe cat sat on the mat.\tThe cat did not sit on the mat."]


def write_task(root, name, files=None):
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    for file, lines in (files or GLUE_FILES[name]).items():
        (folder / file).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return folder


def write_vocab(path, texts):
    """A lowercase WordPiece vocab.txt holding every word and punctuation mark of ``texts``."""
    words = sorted({w for t in texts for w in re.findall(r"\w+|[^\w\s]", t.lower())})
    path.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words) + "\n", encoding="utf-8")
    return path


def all_text():
    return [cell for files in GLUE_FILES.values() for lines in files.values() for line in lines
            for cell in line.split("\t")] + DIAGNOSTIC_ROWS


@pytest.fixture(scope="module")
def vocab(tmp_path_factory):
    """(vocab.txt, fairseq dict.txt, vocabulary-id dict.txt) covering every test row."""
    d = tmp_path_factory.mktemp("vocab")
    vocab_txt = write_vocab(d / "vocab.txt", all_text())
    fairseq_dict = d / "dict.txt"
    subprocess.run([sys.executable, "preprocess/wordpiece.py", "dict", "--vocab", str(vocab_txt), "--output",
                    str(fairseq_dict)], check=True, cwd=os.path.dirname(os.path.dirname(__file__)),
                   capture_output=True)
    symbols = vocab_txt.read_text().split("\n")[:-1]
    ids_dict = d / "ids.dict.txt"
    vocab_ids.write(str(ids_dict), symbols, {"bos": "[CLS]", "pad": "[PAD]", "eos": "[SEP]", "unk": "[UNK]",
                                             "mask": "[MASK]"})
    return vocab_txt, fairseq_dict, ids_dict


@pytest.mark.parametrize("task_name,file", sorted(FIRST_ROW))
def test_each_layout_reads_its_columns(tmp_path, task_name, file):
    task = TASKS[task_name]
    folder = write_task(tmp_path, task_name)
    split = next(s for s in task.splits if s.file == file)
    rows = prepare.read_split(str(folder / file), split, task)
    inputs, label, index = FIRST_ROW[task_name, file]
    assert [column[0] for column in rows.inputs] == inputs
    assert (rows.labels[0] if rows.labels is not None else None) == label
    assert rows.index[0] == index
    data_rows = len(GLUE_FILES[task_name][file]) - split.layout.header
    assert len(rows.index) == data_rows


def test_every_glue_task_has_its_files():
    assert set(GLUE_FILES) == {n for n in TASKS if n != "ACLSUM-ASPECT"}
    for name, task in TASKS.items():
        if name in GLUE_FILES:
            assert {s.file for s in task.splits} == set(GLUE_FILES[name])
    assert [s.fairseq for s in TASKS["MNLI"].splits] == ["train", "valid", "valid1", "test", "test1"]
    assert {s.submission for t in TASKS.values() for s in t.splits if s.submission} | {DIAGNOSTIC.submission} == {
        "CoLA.tsv", "SST-2.tsv", "MRPC.tsv", "STS-B.tsv", "QQP.tsv", "MNLI-m.tsv", "MNLI-mm.tsv", "QNLI.tsv",
        "RTE.tsv", "WNLI.tsv", "AX.tsv"}


def _load(path, dictionary):
    from fairseq.data import data_utils

    return data_utils.load_indexed_dataset(str(path), dictionary)


def test_pair_task_data_bin(tmp_path, vocab):
    """MNLI with the diagnostic set: fairseq's layout, labels in the fixed order, rows aligned."""
    from fairseq.data import Dictionary

    vocab_txt, fairseq_dict, _ = vocab
    folder = write_task(tmp_path, "MNLI")
    (tmp_path / "diagnostic.tsv").write_text("\n".join(DIAGNOSTIC_ROWS) + "\n")
    tok = prepare.load_tokenizer(None, str(vocab_txt))
    meta = prepare.prepare(TASKS["MNLI"], str(folder), str(fairseq_dict), str(tmp_path / "bin"), tok,
                           diagnostic=str(tmp_path / "diagnostic.tsv"))
    bin_ = tmp_path / "bin"
    assert sorted(meta["splits"]) == ["test", "test1", "test2", "train", "valid", "valid1"]
    assert meta["splits"]["test2"]["submission"] == "AX.tsv"
    assert meta["train_args"] == ["--num-classes", "3", "--init-token", "0", "--separator-token", "2"]
    label_dict = Dictionary.load(str(bin_ / "label" / "dict.txt"))
    assert label_dict.symbols[label_dict.nspecial:] == ["contradiction", "entailment", "neutral"]
    # gold_label, not label1: dev_matched row 1 is contradiction, dev_mismatched neutral
    for split, label in (("train", "entailment"), ("valid", "contradiction"), ("valid1", "neutral")):
        assert label_dict.string(_load(bin_ / "label" / split, label_dict)[0][:-1]) == label
    src = Dictionary.load(str(bin_ / "input0" / "dict.txt"))
    assert src.string(_load(bin_ / "input1" / "valid", src)[0]) == "everyone really likes the newest benefits"
    assert src.string(_load(bin_ / "input0" / "test2", src)[0]) == "the cat sat on the mat ."
    assert not (bin_ / "label" / "test.bin").exists()
    assert not [p for p in os.listdir(tmp_path) if ".tmp-" in p]


def test_binarized_as_fairseq_preprocess_does(tmp_path, vocab):
    """input0's .bin/.idx are byte for byte fairseq-preprocess --only-source --srcdict on the same tokens."""
    vocab_txt, fairseq_dict, _ = vocab
    folder = write_task(tmp_path, "RTE")
    tok = prepare.load_tokenizer(None, str(vocab_txt))
    prepare.prepare(TASKS["RTE"], str(folder), str(fairseq_dict), str(tmp_path / "bin"), tok)
    rows = prepare.read_split(str(folder / "train.tsv"), TASKS["RTE"].splits[0], TASKS["RTE"])
    (tmp_path / "train.txt").write_text("\n".join(prepare._tokenize(tok, rows.inputs[1])) + "\n")
    subprocess.run(["fairseq-preprocess", "--only-source", "--srcdict", str(fairseq_dict), "--trainpref",
                    str(tmp_path / "train.txt"), "--destdir", str(tmp_path / "ref"), "--workers", "1"],
                   check=True, capture_output=True)
    for ext in ("bin", "idx"):
        assert (tmp_path / "bin" / "input1" / f"train.{ext}").read_bytes() == (tmp_path / "ref" / f"train.{ext}").read_bytes()


def test_regression_target_and_single_sentence(tmp_path, vocab):
    vocab_txt, fairseq_dict, _ = vocab
    tok = prepare.load_tokenizer(None, str(vocab_txt))
    meta = prepare.prepare(TASKS["STS-B"], str(write_task(tmp_path, "STS-B")), str(fairseq_dict),
                           str(tmp_path / "stsb"), tok)
    # fairseq's preprocess_GLUE_tasks.sh: score / 5, one float a line, no label dictionary
    assert (tmp_path / "stsb" / "label" / "train.label").read_text() == "1.0\n0.32\n"
    assert (tmp_path / "stsb" / "label" / "valid.label").read_text() == "0.95\n"
    assert not (tmp_path / "stsb" / "label" / "dict.txt").exists()
    assert "--regression-target" in meta["train_args"] and meta["train_args"][:2] == ["--num-classes", "1"]
    meta = prepare.prepare(TASKS["CoLA"], str(write_task(tmp_path, "CoLA")), str(fairseq_dict),
                           str(tmp_path / "cola"), tok)
    assert not (tmp_path / "cola" / "input1").exists()
    assert meta["splits"]["train"]["rows"] == 2 and meta["splits"]["valid"]["rows"] == 1  # no header skipped


def test_converted_vocabulary_takes_bert_pairs(tmp_path, vocab):
    """A vocabulary-id dict.txt: [CLS] a [SEP] b [SEP], init = the [CLS] id, no separator."""
    from fairseq_unilmv2.tasks.dictionary import load_dictionary

    vocab_txt, _, ids_dict = vocab
    tok = prepare.load_tokenizer(None, str(vocab_txt))
    meta = prepare.prepare(TASKS["RTE"], str(write_task(tmp_path, "RTE")), str(ids_dict), str(tmp_path / "bin"), tok)
    assert meta["init_token"] == 2 and meta["separator_token"] is None  # [CLS] is vocab.txt line 3
    assert meta["train_args"] == ["--num-classes", "2", "--init-token", "2"]
    d = load_dictionary(str(tmp_path / "bin" / "input0" / "dict.txt"))
    assert d.string(_load(tmp_path / "bin" / "input0" / "valid", d)[0]) == "dana reeve died ."
    assert _load(tmp_path / "bin" / "input0" / "valid", d)[0][-1].item() == 3  # [SEP] ends the line


def _refused(tmp_path, vocab, name, files, match, **kwargs):
    vocab_txt, fairseq_dict, _ = vocab
    folder = write_task(tmp_path, name, {**GLUE_FILES[name], **files})
    tok = prepare.load_tokenizer(None, str(vocab_txt))
    with pytest.raises(GlueError, match=match):
        prepare.prepare(TASKS[name], str(folder), str(fairseq_dict), str(tmp_path / "bin"), tok, **kwargs)
    assert sorted(os.listdir(tmp_path)) == [name]  # nothing written, no temporary folder left


def test_wrong_column_count_names_file_and_line(tmp_path, vocab):
    rows = GLUE_FILES["MRPC"]["train.tsv"] + ["1\t1\t2\tonly one sentence"]
    _refused(tmp_path, vocab, "MRPC", {"train.tsv": rows}, r"MRPC/train\.tsv:3: 4 tab-separated columns.*5")


def test_unknown_label_names_file_and_line(tmp_path, vocab):
    rows = GLUE_FILES["RTE"]["dev.tsv"] + ["1\tA b.\tC d.\tentailed"]
    _refused(tmp_path, vocab, "RTE", {"dev.tsv": rows}, r"RTE/dev\.tsv:3: label 'entailed' is not one of RTE's")


@pytest.mark.parametrize("score", ["5.5", "high", "nan", "-0.1"])
def test_bad_similarity_score(tmp_path, vocab, score):
    rows = GLUE_FILES["STS-B"]["dev.tsv"] + [f"1\tg\tf\ty\to\tn\tn\tA.\tB.\t{score}"]
    _refused(tmp_path, vocab, "STS-B", {"dev.tsv": rows}, rf"STS-B/dev\.tsv:3: score '{score}' is not a number in \[0, 5\]")


def test_cola_train_has_no_header(tmp_path, vocab):
    rows = ["source\tlabel\tjudgement\tsentence"] + GLUE_FILES["CoLA"]["train.tsv"]
    _refused(tmp_path, vocab, "CoLA", {"train.tsv": rows}, r"CoLA/train\.tsv:1: label 'label'")


def test_header_of_another_task(tmp_path, vocab):
    _refused(tmp_path, vocab, "QNLI", {"test.tsv": GLUE_FILES["MRPC"]["test.tsv"]}, r"QNLI/test\.tsv:1: the header has 5")


def test_missing_dev_file(tmp_path, vocab):
    files = dict(GLUE_FILES["SST-2"])
    del files["dev.tsv"]
    vocab_txt, fairseq_dict, _ = vocab
    folder = write_task(tmp_path, "SST-2", files)
    with pytest.raises(GlueError, match=r"SST-2/dev\.tsv: no such file"):
        prepare.prepare(TASKS["SST-2"], str(folder), str(fairseq_dict), str(tmp_path / "bin"),
                        prepare.load_tokenizer(None, str(vocab_txt)))


def test_tokenizer_of_another_dictionary(tmp_path, vocab):
    vocab_txt, fairseq_dict, _ = vocab
    other = write_vocab(tmp_path / "other.txt", ["unrelated words only"])
    folder = write_task(tmp_path, "RTE")
    with pytest.raises(GlueError, match=r"RTE/train\.tsv: .*% of the tokens are <unk>"):
        prepare.prepare(TASKS["RTE"], str(folder), str(fairseq_dict), str(tmp_path / "bin"),
                        prepare.load_tokenizer(None, str(other)))
    assert not (tmp_path / "bin").exists()


def test_skip_bad_rows_and_force(tmp_path, vocab):
    """QQP's rows with the wrong column count are left out with --skip-bad-rows (train/dev only);
    an existing destination needs --force."""
    vocab_txt, fairseq_dict, _ = vocab
    rows = GLUE_FILES["QQP"]["train.tsv"] + ["5\t6\tWhat is a math student?\t0"] + GLUE_FILES["QQP"]["train.tsv"][1:]
    folder = write_task(tmp_path, "QQP", {**GLUE_FILES["QQP"], "train.tsv": rows})
    tok = prepare.load_tokenizer(None, str(vocab_txt))
    meta = prepare.prepare(TASKS["QQP"], str(folder), str(fairseq_dict), str(tmp_path / "bin"), tok,
                           skip_bad_rows=True)
    assert meta["splits"]["train"]["rows"] == 2 and meta["splits"]["train"]["skipped_lines"] == [3]
    assert (tmp_path / "bin" / "index" / "test.index").read_text() == "7\n"  # QQP test's own id column
    with pytest.raises(GlueError, match="exists"):
        prepare.prepare(TASKS["QQP"], str(folder), str(fairseq_dict), str(tmp_path / "bin"), tok)
    prepare.prepare(TASKS["QQP"], str(folder), str(fairseq_dict), str(tmp_path / "bin"), tok, skip_bad_rows=True,
                    force=True)
    assert sorted(os.listdir(tmp_path)) == ["QQP", "bin"]
