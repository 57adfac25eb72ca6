"""Natural mistakes in preparing data end in one message that says what to do, and a sharded
data-bin says how to use it: recipes/prepare_pretraining.sh on a small corpus with its defaults,
SentencePiece's training limits, and binarize.py's DATA_BIN/data-path, DATA_BIN/README.txt and
--test split, run as a user would (CLIs as subprocesses, the README's own command lines)."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import LEE, REPO, check_script, read_lines, run_script

# The recipe and the commands README.txt writes use console scripts (fairseq-train, ...): the
# active environment's, found on PATH.
ENV = dict(os.environ, PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1",
           PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
TINY = ("--arch unilmv2_tiny --encoder-layers 1 --encoder-embed-dim 32 --encoder-ffn-embed-dim 64 "
        "--encoder-attention-heads 2 --optimizer adam --lr 1e-3 --max-update 2 --num-workers 0 --cpu "
        "--no-epoch-checkpoints --log-format simple --seed 1 --batch-size 16")


def recipe(text_dir, out_dir, *shards, cwd, **env):
    cmd = ["bash", str(REPO / "recipes/prepare_pretraining.sh"), str(text_dir), str(out_dir), *shards]
    return subprocess.run(cmd, cwd=cwd, env=dict(ENV, WORKERS="2", **env), capture_output=True, text=True,
                          timeout=600, check=False)


def readme_command(readme, program):
    """The command line of ``program`` written in README.txt (one indented line)."""
    found = [line.strip() for line in readme.splitlines() if line.strip().startswith(program + " ")]
    assert len(found) == 1, (program, readme)
    return found[0]


def bash(command, cwd):
    proc = subprocess.run(["bash", "-c", command], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=600,
                          check=False)
    assert proc.returncode == 0, f"{command}\n{proc.stderr[-4000:]}"
    return proc.stdout + proc.stderr


def test_recipe_on_a_small_corpus_names_the_setting_to_change(tmp_path):
    """The Lee corpus (300 documents, none blank) is far too small for the defaults VOCAB_SIZE=32000
    and VALID_LINES=5000. Run from another directory with relative paths, as a user would."""
    (tmp_path / "text").mkdir()
    (tmp_path / "text/lee.txt").write_bytes(LEE.read_bytes())
    proc = recipe("text", "out", cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    m = re.fullmatch(r"error: VOCAB_SIZE=32000 is more than this corpus supports \(at most (\d+) pieces from "
                     r"text/lee.txt\): set VOCAB_SIZE=(\d+) or less, or train on more text", last)
    assert m and m[1] == m[2], last

    # the advice works; TOKENS_PER_SAMPLE large enough that no document is split: 300 encoded lines,
    # and the default VALID_LINES holds out a tenth of them (30), not 5000, with a note
    size = dict(VOCAB_SIZE=m[1], TOKENS_PER_SAMPLE="100000")
    proc = recipe("text", "out", "2", cwd=tmp_path, **size)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert ("note: the corpus has 300 encoded lines: holding out 30 (a tenth) for validation instead of the "
            "default 5000; set VALID_LINES to choose") in proc.stderr
    assert json.loads((tmp_path / "out/binarize.json").read_text())["lines"] == 270
    bin_dir = tmp_path / "out/data-bin"
    assert (tmp_path / "out/data-path").read_text() == "out/data-bin/shard0:out/data-bin/shard1\n"
    assert (bin_dir / "data-path").read_text() == f"{bin_dir}/shard0:{bin_dir}/shard1\n"  # absolute
    assert "(how to use the data-bin: out/data-bin/README.txt)" in proc.stderr

    # a validation set of most of the corpus, or more shards than lines, is refused before binarizing
    for env, error in (
        (dict(VALID_LINES="200"), "error: VALID_LINES=200 would hold out more than half of the corpus's 300 encoded "
                                  "lines (one document, or piece of a long one, a line) for validation: set "
                                  "VALID_LINES=30 (a tenth) or unset it (default: 5000, or a tenth of a smaller "
                                  "corpus)"),
        (dict(VALID_LINES="ten"), "error: VALID_LINES=ten: give a number of lines (0: no validation set)"),
        (dict(VALID_LINES="10"), "error: 295 shards need at least 295 training lines; the corpus has 300 encoded "
                                 "lines, 10 of them held out for validation: give fewer SHARDS (the third argument) "
                                 "or more text"),
    ):
        shards = "295" if env["VALID_LINES"] == "10" else "2"
        proc = recipe("text", "out2", shards, cwd=tmp_path, **size, **env)
        assert proc.returncode == 2 and proc.stderr.strip().splitlines()[-1] == error, proc.stderr[-2000:]
        assert not (tmp_path / "out2/data-bin").exists()

    # README.txt's training command runs as written (model size and update count aside), from any directory
    command = readme_command((bin_dir / "README.txt").read_text(), "fairseq-train")
    assert command.startswith(f"fairseq-train $(cat {bin_dir}/data-path) --user-dir {REPO}/fairseq_unilmv2 "
                              f"--task pmlm --criterion pmlm ")
    out = bash(command.replace("--arch ... --save-dir ...", TINY + " --tokens-per-sample 64 --save-dir ck"),
               cwd=tmp_path / "text")
    # validation from the first path; epoch 1 trains on shard0, half of the 270 training lines
    assert f"loaded 30 examples from: {bin_dir}/shard0/valid" in out, out[-3000:]
    assert f"loaded 135 examples from: {bin_dir}/shard0/train" in out, out[-3000:]
    assert (tmp_path / "text/ck/checkpoint_last.pt").exists()


def test_sentencepiece_limits_are_one_message_with_the_fix(tmp_path):
    (tmp_path / "empty.txt").write_text("")
    cases = (
        (["--input", LEE, "--vocab-size", "50", "--character-coverage", "1.0"],
         r"error: --vocab-size 50 is fewer than the (\d+) pieces this corpus needs \(its characters kept by "
         r"--character-coverage 1, and <unk>\): set --vocab-size \1 or more, or lower --character-coverage"),
        (["--input", "empty.txt", "--vocab-size", "100"],
         r"error: no line to train on in empty.txt: the input is empty, or every line is longer than "
         r"--max-sentence-length 4192 bytes \(raise it, e.g. to 65536 for one document a line\)"),
        (["--input", "missing.txt", "--vocab-size", "100"], r"error: missing.txt: no such file \(--input: raw text files\)"),
    )
    for args, error in cases:
        proc = run_script("spm.py", "train", "--model-prefix", "spm", *args, cwd=tmp_path)
        assert proc.returncode == 2 and re.fullmatch(error, proc.stderr.strip()), proc.stderr[-2000:]
    assert sorted(os.listdir(tmp_path)) == ["empty.txt"]  # no model, no dictionary


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    """Short (source, target) pairs cut from the Lee documents (source: words 1-8, target: words
    9-12), encoded with a SentencePiece model of the corpus: 260 train, 20 valid, 20 test pairs."""
    d = tmp_path_factory.mktemp("guide")
    proc = run_script("spm.py", "train", "--input", LEE, "--model-prefix", "spm", "--vocab-size", "800",
                      "--character-coverage", "1.0", "--max-sentence-length", "65536", cwd=d)
    assert proc.returncode == 0, proc.stderr
    words = [line.split() for line in read_lines(LEE)]
    for split, rows in (("train", words[:260]), ("valid", words[260:280]), ("test", words[280:])):
        (d / f"{split}.src").write_text("\n".join(" ".join(w[:8]) for w in rows) + "\n")
        (d / f"{split}.tgt").write_text("\n".join(" ".join(w[8:12]) for w in rows) + "\n")
    check_script("encode.py", "--spm-model", "spm.model", "--input", "train", "valid", "test", "-s", "src", "-t",
                 "tgt", "--output-dir", "enc", "--workers", "2", cwd=d)
    return d


def test_test_split_goes_to_shard0_and_readme_commands_train_and_generate(pairs, tmp_path):
    from fairseq.data import Dictionary, data_utils

    out = check_script("binarize.py", "--dict", pairs / "spm.dict.txt", "--train", pairs / "enc/train", "--valid",
                       pairs / "enc/valid", "--test", pairs / "enc/test", "-s", "src", "-t", "tgt", "--shards", "2",
                       "--destdir", "bin", "--workers", "2", cwd=tmp_path)
    b = tmp_path / "bin"
    assert out["dict"] == "bin/shard0/dict.src.txt" and out["readme"] == "bin/README.txt"
    assert (b / "data-path").read_text() == f"{b}/shard0:{b}/shard1\n"
    dictionary = Dictionary.load(str(b / "shard0/dict.src.txt"))
    for lang in ("src", "tgt"):
        test = data_utils.load_indexed_dataset(str(b / f"shard0/test.src-tgt.{lang}"), dictionary)
        assert len(test) == 20
        assert [dictionary.string(test[i]) for i in range(20)] == read_lines(pairs / f"enc/test.{lang}")
    assert not list((b / "shard1").glob("test.*")) and not list((b / "shard1").glob("valid.*"))

    readme = (b / "README.txt").read_text()
    assert f"Dictionary: {b}/shard0/dict.src.txt" in readme
    assert f"fairseq-preprocess --srcdict {b}/shard0/dict.src.txt --joined-dictionary -s SRC -t TGT" in readme
    train = readme_command(readme, "fairseq-train")
    assert train.startswith(f"fairseq-train $(cat {b}/data-path) --user-dir {REPO}/fairseq_unilmv2 "
                            f"--task unilm_seq2seq -s src -t tgt --criterion unilm_seq2seq ")
    (tmp_path / "elsewhere").mkdir()  # README's commands use absolute paths: they work from any directory
    bash(train.replace("--arch ... --save-dir ...", TINY + " --save-dir ck"), cwd=tmp_path / "elsewhere")
    generate = readme_command(readme, "fairseq-generate")
    assert generate.startswith(f"fairseq-generate {b}/shard0 --user-dir {REPO}/fairseq_unilmv2 --task unilm_seq2seq "
                               f"-s src -t tgt --gen-subset test --path CHECKPOINT")
    fast = " --beam 1 --max-len-b 4 --batch-size 8"
    for data in (f"{b}/shard0", f"$(cat {b}/data-path)"):  # shard0, or every shard: both read shard0's test set
        command = generate.replace("CHECKPOINT ...", "ck/checkpoint_last.pt" + fast).replace(f"{b}/shard0", data, 1)
        output = bash(command, cwd=tmp_path / "elsewhere")
        assert len([line for line in output.splitlines() if line.startswith("H-")]) == 20, output[-3000:]


def test_monolingual_readme_names_dict_txt_and_test_split_is_optional(pairs, tmp_path):
    out = check_script("binarize.py", "--dict", pairs / "spm.dict.txt", "--train", pairs / "enc/train.src",
                       "--valid-lines", "10", "--test", pairs / "enc/test.src", "--destdir", "bin", cwd=tmp_path)
    b = tmp_path / "bin"
    assert out["dict"] == "bin/shard0/dict.txt" and (b / "shard0/dict.txt").is_file()
    assert sorted(p.name for p in (b / "shard0").iterdir()) == [
        "dict.txt", "preprocess.log", "test.bin", "test.idx", "train.bin", "train.idx", "valid.bin", "valid.idx"]
    readme = (b / "README.txt").read_text()
    assert f"Dictionary: {b}/shard0/dict.txt" in readme and "shard0/test: the test set" in readme
    assert readme_command(readme, "fairseq-train").startswith(f"fairseq-train $(cat {b}/data-path) ")
    # a rerun with the same inputs resumes (test set included in the plan); without --test it is another run
    args = ["--dict", pairs / "spm.dict.txt", "--train", pairs / "enc/train.src", "--valid-lines", "10",
            "--destdir", "bin"]
    assert check_script("binarize.py", *args, "--test", pairs / "enc/test.src", cwd=tmp_path)["shards_skipped"] == 1
    proc = run_script("binarize.py", *args, cwd=tmp_path)
    assert proc.returncode == 2 and "different test, test_sha256, test_sizes" in proc.stderr, proc.stderr[-2000:]
