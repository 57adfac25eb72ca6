"""preprocess/binarize.py on real bundled text: encoded text -> sharded fairseq data-bins that read
back to the same text, whose union is the unsharded data, that fairseq-train cycles through, and
that a rerun resumes; parallel data and the faults that must stop it before any work."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from . import survivors
from .helpers import (LEE, LEE_TEST, REPO, USER_DIR, check_cli, check_script, encode_lee_in_two_files, read_lines,
                      run_script)


def read_back(prefix, dictionary):
    """The sentences of a binarized split as text (fairseq appends </s> to each)."""
    from fairseq.data import data_utils

    dataset = data_utils.load_indexed_dataset(str(prefix), dictionary)
    assert dataset is not None, prefix
    out = []
    for i in range(len(dataset)):
        ids = dataset[i].tolist()
        assert ids[-1] == dictionary.eos()
        out.append(" ".join(dictionary[t] for t in ids[:-1]))
    return out


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """SentencePiece on the Lee corpus; the corpus encoded (long documents split at 128 tokens)
    in two files; binarized in 2 shards with 20 held-out validation lines, and unsharded."""
    d = tmp_path_factory.mktemp("binarize")
    encode_lee_in_two_files(d, "--workers", "2")
    out = check_script("binarize.py", "--dict", "spm.dict.txt", "--train", "enc/a.txt", "enc/b.txt",
                       "--valid-lines", "20", "--shards", "2", "--destdir", "bin", "--workers", "2", cwd=d)
    assert out["shards_binarized"] == 2 and out["data"] == "bin/shard0:bin/shard1"
    check_script("binarize.py", "--dict", "spm.dict.txt", "--train", "enc/a.txt", "enc/b.txt",
                 "--destdir", "bin1", "--workers", "2", cwd=d)
    return d


def encoded_lines(work):
    return [line for name in ("a.txt", "b.txt") for line in read_lines(work / "enc" / name)]


def test_round_trip_and_shard_union_equal_the_encoded_text(work):
    from fairseq.data import Dictionary

    dictionary = Dictionary.load(str(work / "bin/shard0/dict.txt"))
    lines = encoded_lines(work)
    valid = read_back(work / "bin/shard0/valid", dictionary)
    shards = [read_back(work / f"bin/shard{k}/train", dictionary) for k in range(2)]
    assert valid == lines[:20]
    assert shards[0] + shards[1] == lines[20:]  # contiguous ranges, in order
    assert abs(len(shards[0]) - len(shards[1])) <= 1
    assert read_back(work / "bin1/shard0/train", dictionary) == lines  # the unsharded data
    assert "<unk>" not in " ".join(lines) and not (work / "bin/shard1/valid.idx").exists()
    assert not (work / "bin/.text").exists() and sorted(os.listdir(work / "bin")) == ["README.txt", "data-path", "plan.json", "shard0", "shard1"]


def test_fairseq_train_cycles_through_the_shards(work):
    out = check_cli(["fairseq-train", "bin/shard0:bin/shard1", "--user-dir", USER_DIR, "--task", "pmlm",
                     "--criterion", "pmlm", "--arch", "unilmv2_tiny", "--encoder-layers", "1", "--encoder-embed-dim",
                     "32", "--encoder-ffn-embed-dim", "64", "--encoder-attention-heads", "2", "--tokens-per-sample", "128",
                     "--batch-size", "64", "--optimizer", "adam", "--lr", "1e-3", "--max-epoch", "2",
                     "--no-save", "--num-workers", "0", "--cpu", "--log-format", "simple", "--seed", "1"], cwd=work)
    loaded = [line.split("from ")[-1] for line in out.splitlines() if "loaded" in line and "blocks from" in line]
    # epoch e reads shard (e-1) mod 2; fairseq loads the next epoch's shard ahead, validation comes from shard0
    assert loaded[:3] == ["bin/shard0/valid", "bin/shard0/train", "bin/shard1/train"], loaded
    assert loaded[3:] in ([], ["bin/shard0/train"]), loaded


def test_rerun_skips_finished_shards_and_redoes_an_interrupted_one(work, tmp_path):
    shutil.copytree(work / "bin", tmp_path / "bin")
    for name in ("enc", "spm.dict.txt"):
        os.symlink(work / name, tmp_path / name)
    before = (tmp_path / "bin/shard1/train.bin").read_bytes()
    shard0_inode = (tmp_path / "bin/shard0/train.bin").stat().st_ino
    # a run killed while binarizing shard1: its directory never got its final name, a half-written
    # temporary one and a half-written text shard are left
    shutil.move(tmp_path / "bin/shard1", tmp_path / "bin/shard1.tmp")
    with open(tmp_path / "bin/shard1.tmp/train.bin", "r+b") as f:
        f.truncate(len(before) // 2)
    (tmp_path / "bin/.text").mkdir()
    (tmp_path / "bin/.text/shard1.txt.tmp").write_text("\u2581half")
    args = ["--dict", "spm.dict.txt", "--train", "enc/a.txt", "enc/b.txt", "--valid-lines", "20", "--shards", "2",
            "--destdir", "bin", "--workers", "2"]
    out = check_script("binarize.py", *args, cwd=tmp_path)
    assert out["shards_skipped"] == 1 and out["shards_binarized"] == 1
    assert (tmp_path / "bin/shard1/train.bin").read_bytes() == before
    assert (tmp_path / "bin/shard0/train.bin").stat().st_ino == shard0_inode  # untouched
    assert sorted(os.listdir(tmp_path / "bin")) == ["README.txt", "data-path", "plan.json", "shard0", "shard1"]
    # a rerun with another plan is refused instead of mixing shards
    proc = run_script("binarize.py", *args[:-4], "--destdir", "bin", "--shards", "3", cwd=tmp_path)
    assert proc.returncode == 2 and "different shards" in proc.stderr


def test_parallel_data_sharded_and_aligned(work, tmp_path):
    from fairseq.data import Dictionary

    raw = [line for line in read_lines(LEE) if line.strip()]
    words = [line.split() for line in raw]
    for split, rows in (("train", words[:280]), ("valid", words[280:])):
        (tmp_path / f"{split}.src").write_text("\n".join(" ".join(w[:60]) for w in rows) + "\n")
        (tmp_path / f"{split}.tgt").write_text("\n".join(" ".join(w[60:75]) for w in rows) + "\n")
    check_script("encode.py", "--spm-model", work / "spm.model", "--input", "train", "valid", "-s", "src", "-t", "tgt",
                 "--output-dir", "enc", "--workers", "2", cwd=tmp_path)
    out = check_script("binarize.py", "--dict", work / "spm.dict.txt", "--train", "enc/train", "--valid", "enc/valid",
                       "-s", "src", "-t", "tgt", "--shards", "2", "--destdir", "bin", "--workers", "2", cwd=tmp_path)
    assert out["shards_binarized"] == 2
    dictionary = Dictionary.load(str(tmp_path / "bin/shard0/dict.src.txt"))
    for lang in ("src", "tgt"):
        text = read_lines(tmp_path / f"enc/train.{lang}")
        shards = [read_back(tmp_path / f"bin/shard{k}/train.src-tgt.{lang}", dictionary) for k in range(2)]
        assert shards[0] + shards[1] == text
        assert read_back(tmp_path / f"bin/shard0/valid.src-tgt.{lang}", dictionary) == \
            read_lines(tmp_path / f"enc/valid.{lang}")


def test_line_count_mismatch_and_task_symbols_are_refused_before_any_output(work, tmp_path):
    lines = read_lines(work / "enc/a.txt")
    (tmp_path / "t.src").write_text("\n".join(lines[:30]) + "\n")
    (tmp_path / "t.tgt").write_text("\n".join(lines[:31]) + "\n")
    proc = run_script("binarize.py", "--dict", work / "spm.dict.txt", "--train", "t", "-s", "src", "-t", "tgt",
                      "--destdir", "bin", cwd=tmp_path)
    assert proc.returncode == 2 and "t.src has 30 lines but t.tgt has 31" in proc.stderr
    assert not (tmp_path / "bin").exists()
    (tmp_path / "dict.txt").write_text((work / "spm.dict.txt").read_text() + "<mask> 1\n")
    proc = run_script("binarize.py", "--dict", "dict.txt", "--train", "t.src", "--destdir", "bin", cwd=tmp_path)
    assert proc.returncode == 2 and "lists <mask>" in proc.stderr and not (tmp_path / "bin").exists()
    (tmp_path / "dict.txt").write_text((work / "spm.dict.txt").read_text() + "<mask> 1 #fairseq:overwrite\n")
    proc = run_script("binarize.py", "--dict", "dict.txt", "--train", "t.src", "--destdir", "bin", cwd=tmp_path)
    assert proc.returncode == 2 and "lists <mask>" in proc.stderr and not (tmp_path / "bin").exists()


def test_recipe_prepares_a_text_directory_and_resumes(work, tmp_path):
    (tmp_path / "text").mkdir()
    for name in ("a.txt", "b.txt"):
        shutil.copy(work / "raw" / name, tmp_path / "text" / name)
    shutil.copy(LEE_TEST, tmp_path / "text/c.txt")  # one invalid UTF-8 line
    env = dict(os.environ, PYTHONWARNINGS="ignore", WORKERS="2", VOCAB_SIZE="1000", VALID_LINES="10",
               TOKENS_PER_SAMPLE="256", INVALID_UTF8="skip")
    cmd = ["bash", str(REPO / "recipes/prepare_pretraining.sh"), str(tmp_path / "text"), str(tmp_path / "out"), "1"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = tmp_path / "out"
    assert (out / "data-path").read_text().strip() == f"{out}/data-bin/shard0"
    assert json.loads((out / "encode.json").read_text())["invalid_utf8_skipped"] == 1
    summary = json.loads((out / "binarize.json").read_text())
    assert summary["shards_binarized"] == 1 and summary["lines"] > 300  # long documents were split
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0 and "shard0: complete, skipped" in proc.stderr
    assert json.loads((out / "encode.json").read_text())["files_skipped"] == 3


def test_bad_lines_are_refused_with_file_and_line_before_binarizing(work, tmp_path):
    lines = read_lines(work / "enc/a.txt")[:40]
    bad = {"cr.txt": "\u2581a\rb", "latin1.txt": None}
    for name in bad:
        rows = [line.encode() for line in lines]
        rows[6] = b"\xa3 \xe2\x96\x81x" if bad[name] is None else bad[name].encode()
        (tmp_path / name).write_bytes(b"\n".join(rows) + b"\n")
    # CRLF endings and the characters only str.splitlines breaks at (one line to fairseq), no final newline
    (tmp_path / "ok.txt").write_bytes(b"".join(line.encode() + b"\r\n" for line in lines[:20]) + "\n".join(
        f"{line}\x0b\x85\u2028\x1c{line}" for line in lines[20:]).encode())
    for name, message in (("cr.txt", "cr.txt:7: a carriage return (\\r) inside the line"),
                          ("latin1.txt", "latin1.txt:7: invalid UTF-8 (byte 0xa3")):
        proc = run_script("binarize.py", "--dict", work / "spm.dict.txt", "--train", name, "--destdir", name + ".bin",
                          cwd=tmp_path)
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr[-2000:]
        assert "Traceback" not in proc.stderr
        assert not [n for n in os.listdir(tmp_path / f"{name}.bin") if n.startswith("shard")]
    from fairseq.data import Dictionary

    check_script("binarize.py", "--dict", work / "spm.dict.txt", "--train", "ok.txt", "--destdir", "ok.bin",
                 cwd=tmp_path)
    expected = lines[:20] + [f"{line} {line}" for line in lines[20:]]
    assert read_back(tmp_path / "ok.bin/shard0/train", Dictionary.load(str(work / "spm.dict.txt"))) == expected


def test_sentence_count_guard_refuses_a_shard_fairseq_reads_differently(work, tmp_path):
    from preprocess.plan import Layout
    from preprocess.shard import binarize_shard

    layout = Layout(str(tmp_path / "bin"), [])
    os.makedirs(layout.text)
    (tmp_path / "bin/.text/shard0.txt").write_bytes(b"\xe2\x96\x81a\r\xe2\x96\x81b\n\xe2\x96\x81c\n")  # unchecked
    with pytest.raises(RuntimeError, match="holds 3 sentences, expected 2"):
        binarize_shard(layout, 0, 2, 0, str(work / "spm.dict.txt"), 1, keep_text=False)
    assert not (tmp_path / "bin/shard0").exists()


def test_shards_without_plan_are_refused_and_plan_records_valid_sizes(work, tmp_path):
    (tmp_path / "bin/shard1.tmp").mkdir(parents=True)
    args = ["--dict", work / "spm.dict.txt", "--train", work / "enc/a.txt", "--valid", work / "enc/b.txt",
            "--destdir", "bin"]
    proc = run_script("binarize.py", *args, cwd=tmp_path)
    assert proc.returncode == 2 and "holds shard1.tmp but no plan.json" in proc.stderr
    assert os.listdir(tmp_path / "bin") == ["shard1.tmp"]
    from preprocess.binarize import get_parser
    from preprocess.plan import make_plan

    plan, _ = make_plan(get_parser().parse_args(list(map(str, args))))
    assert plan["valid_sizes"] == [(work / "enc/b.txt").stat().st_size]


def test_text_on_disk_is_bounded_by_the_running_jobs(work, tmp_path, monkeypatch):
    """--workers 1, 6 shards: while one shard is binarized only the next one's text is written."""
    import threading

    from collections import Counter

    from preprocess import binarize, binarize_pieces, shard

    seen, lock = [], threading.Lock()

    def fake_binarize_shard(layout, k, expected, valid_expected, dict_path, workers, keep_text, **checks):
        with lock:
            seen.append(sorted(n for n in os.listdir(layout.text) if n.startswith("shard")))
        time.sleep(0.05)
        os.makedirs(layout.shard_dir(k))
        for p in layout.text_files(f"shard{k}"):
            os.unlink(p)
        return Counter(lines=expected, shards_binarized=1)

    monkeypatch.setattr(shard, "binarize_shard", fake_binarize_shard)
    args = binarize.get_parser().parse_args(["--dict", str(work / "spm.dict.txt"), "--train", str(work / "enc/a.txt"),
                                             "--shards", "6", "--destdir", str(tmp_path / "bin"), "--workers", "1"])
    binarize_pieces.prepare(args, [])  # the one-machine run's first two steps (its --assemble checks real shards)
    result = binarize_pieces.run_piece(args, [], 0, 1)
    assert result["shards_binarized"] == 6 and len(seen) == 6
    assert max(len(names) for names in seen) <= 2, seen  # the shard being binarized and the next one


def start_binarizing(work, tmp_path, *args, processes):
    """binarize.py started in its own session (as a job runner starts a job), tagged
    (tests/survivors.py); returns (process, tag) once ``processes`` processes of it run."""
    env, tag = survivors.tagged(dict(os.environ, PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1"))
    proc = subprocess.Popen([sys.executable, str(REPO / "preprocess/binarize.py"), "--dict", work / "spm.dict.txt",
                             *args, "--destdir", "bin"], cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=env, start_new_session=True)
    deadline = time.time() + 120
    while len(survivors.alive(tag)) < processes and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    assert len(survivors.alive(tag)) >= processes, f"binarize.py finished first:\n{proc.communicate()[1][-2000:]}"
    return proc, tag


def test_sigterm_stops_the_fairseq_preprocess_children(work, tmp_path):
    proc, tag = start_binarizing(work, tmp_path, "--train", work / "enc/a.txt", work / "enc/b.txt", "--shards", "2",
                                 "--workers", "2", processes=3)  # binarize.py, 2 fairseq-preprocess
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM
    survivors.assert_none_survive(tag, within=0)  # stopped before binarize.py ended
    # Nothing half-written: the run is not assembled, and a shard that finished before the signal
    # (timing: shards run one after another) is whole, so the rerun keeps it
    assert not (tmp_path / "bin" / "data-path").exists()
    for name in os.listdir(tmp_path / "bin"):
        if name.startswith("shard") and not name.endswith(".tmp"):
            assert {"train.bin", "train.idx", "dict.txt"} <= set(os.listdir(tmp_path / "bin" / name)), name


@pytest.mark.parametrize("kill", ["process", "process group"])
def test_nothing_outlives_binarize_killed_with_sigkill(work, tmp_path, kill):
    # no clean-up runs in binarize.py: fairseq-preprocess and its worker must end with it
    # (issue 20 item 14: a piece killed with its group left fairseq-preprocess holding its lock)
    (tmp_path / "big.txt").write_bytes((work / "enc/a.txt").read_bytes() * 40)  # ~10 s of fairseq-preprocess
    proc, tag = start_binarizing(work, tmp_path, "--train", "big.txt", "--workers", "2",
                                 processes=3)  # binarize.py, fairseq-preprocess and its worker
    (os.kill if kill == "process" else os.killpg)(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    survivors.assert_none_survive(tag, within=1.0)  # killed by the kernel, not left to finish its shard
