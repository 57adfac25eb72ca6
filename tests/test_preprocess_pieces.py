"""preprocess/ on many machines (issue 13, requirement 6): binarize.py --prepare, --piece K/N run as
separate processes in any order (one killed and rerun), then --assemble, give the one-machine
run's data-bin byte for byte, on the real bundled text the other preprocess tests use; encode.py
--piece likewise; the refusals: a missing piece at assembly, a piece of another plan, a piece
given other arguments or an input edited since --prepare; the line index the pieces read by."""
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from preprocess import pieces
from preprocess.textio import InputError

from . import survivors
from .helpers import REPO, check_script, encode_lee_in_two_files, run_script

ARGS = ["--dict", "spm.dict.txt", "--train", "enc/a.txt", "enc/b.txt", "--valid-lines", "20", "--shards", "3",
        "--destdir", "bin"]


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """SentencePiece on the Lee corpus, the corpus in two raw files encoded in one run (long
    documents split at 128 tokens), and that text binarized by one machine into 3 shards with 20
    held-out validation lines (--workers 3: one fairseq-preprocess worker a shard, as in a piece
    run with --workers 1), moved to ``one/``: the reference for the pieces, which write ``bin/``."""
    d = tmp_path_factory.mktemp("pieces")
    encode_lee_in_two_files(d)
    # meanwhile, a piece of another plan (30 held-out lines) for the refusal test: y/shard2
    other = ["--dict", "spm.dict.txt", "--train", "enc/a.txt", "enc/b.txt", "--valid-lines", "30", "--shards", "3",
             "--destdir", "y"]
    check_script("binarize.py", *other, "--prepare", cwd=d)
    piece = start("binarize.py", *other, "--piece", "2/3", cwd=d)
    out = check_script("binarize.py", *ARGS, "--workers", "3", cwd=d)
    assert out["shards_binarized"] == 3 and out["lines"] == 994  # 1014 encoded lines, 20 held out
    os.rename(d / "bin", d / "one")
    _, err = piece.communicate(timeout=300)
    assert piece.returncode == 0, err[-2000:]
    return d


def start(script, *args, cwd):
    """preprocess/SCRIPT started in its own session, as a job runner starts a job; ``proc.tag``
    marks every process it starts (tests/survivors.py)."""
    env, tag = survivors.tagged(dict(os.environ, PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1"))
    proc = subprocess.Popen([sys.executable, str(REPO / "preprocess" / script), *map(str, args)], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    proc.tag = tag
    return proc


def kill_when_binarizing(proc):
    """SIGKILL a piece alone (no clean-up runs in it) once the fairseq-preprocess it runs has
    started; the fairseq-preprocess must die with it at once (issue 20 item 14: it was left
    running, holding the shard's lock)."""
    deadline = time.time() + 120
    while len(survivors.alive(proc.tag)) < 2 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    assert len(survivors.alive(proc.tag)) >= 2, \
        f"the piece ended before fairseq-preprocess started:\n{proc.communicate()[1][-2000:]}"
    proc.kill()
    proc.communicate(timeout=60)
    survivors.assert_none_survive(proc.tag, within=1.0)


def files(root):
    """{relative path: bytes} of every file under ``root``, hidden ones included."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(Path(root).rglob("*")) if p.is_file()}


def test_three_pieces_then_assemble_equal_the_one_machine_run_byte_for_byte(work):
    d = work
    out = check_script("binarize.py", *ARGS, "--prepare", "--index-block-bytes", "4096", cwd=d)
    assert out["shards"] == 3 and out["lines"] == 1014 and out["finished"] == []
    assert sorted(os.listdir(d / "bin/.pieces")) == ["index.json"]
    # pieces 2 and 0 run side by side; piece 1 is killed while fairseq-preprocess binarizes its shard
    running = [start("binarize.py", *ARGS, "--piece", f"{k}/3", "--workers", "1", cwd=d) for k in (2, 1, 0)]
    kill_when_binarizing(running[1])
    for proc in running[::2]:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]
    assert not (d / "bin/shard1").exists() and (d / "bin/shard0").is_dir() and (d / "bin/shard2").is_dir()

    # assembling without piece 1 is refused, naming the shard and the command that makes it
    proc = run_script("binarize.py", *ARGS, "--assemble", cwd=d)
    assert proc.returncode == 2, proc.stderr
    assert "bin: 1 of 3 shard(s) not ready, nothing assembled" in proc.stderr
    # (killed before fairseq-preprocess made shard1.tmp: "missing"; after: "unfinished (shard1.tmp is left ...")
    assert "shard1 is missing (its piece has not run" in proc.stderr or "shard1 is unfinished" in proc.stderr
    assert (f": run python {REPO}/preprocess/binarize.py --dict spm.dict.txt --train enc/a.txt enc/b.txt "
            "--valid-lines 20 --shards 3 --destdir bin --piece 1/3\n" in proc.stderr), proc.stderr
    assert not (d / "bin/data-path").exists() and (d / "bin/.pieces").is_dir()

    # the killed piece rerun redoes its shard; a finished piece rerun redoes nothing
    kept = {k: (d / f"bin/shard{k}/train.bin").stat().st_ino for k in (0, 2)}
    out = check_script("binarize.py", *ARGS, "--piece", "1/3", "--workers", "1", cwd=d)
    assert out["shards_binarized"] == 1 and out["shards"] == [1]
    out = check_script("binarize.py", *ARGS, "--piece", "0/3", "--workers", "1", cwd=d)
    assert out["shards_skipped"] == 1 and "shards_binarized" not in out
    assert {k: (d / f"bin/shard{k}/train.bin").stat().st_ino for k in (0, 2)} == kept

    out = check_script("binarize.py", *ARGS, "--assemble", cwd=d)
    assert out["pieces"] == ["0/3", "1/3", "2/3"] and out["data"] == "bin/shard0:bin/shard1:bin/shard2"
    assert sorted(os.listdir(d / "bin")) == ["README.txt", "data-path", "plan.json", "shard0", "shard1", "shard2"]
    assert sorted(os.listdir(d / "bin/shard0")) == ["dict.txt", "preprocess.log", "train.bin", "train.idx",
                                                   "valid.bin", "valid.idx"]
    from preprocess.shard import indexed_size

    assert [indexed_size(str(d / f"bin/shard{k}/train.idx")) for k in range(3)] == [331, 331, 332]
    assert indexed_size(str(d / "bin/shard0/valid.idx")) == 20
    one, piecewise = files(d / "one"), files(d / "bin")
    assert sorted(piecewise) == sorted(one) and len(one) == 17  # 3 + 6 + 4 + 4 files
    assert [name for name in one if one[name] != piecewise[name]] == []  # byte for byte, plan.json and README too
    # a requeued final job: assembled already, nothing to do
    assert check_script("binarize.py", *ARGS, "--assemble", cwd=d)["already_assembled"] is True


def test_pieces_of_another_plan_and_other_arguments_are_refused(work, tmp_path):
    d = tmp_path
    for name in ("spm.dict.txt", "enc"):
        shutil.copytree(work / name, d / name) if name == "enc" else shutil.copy(work / name, d / name)
    x = ["--dict", "spm.dict.txt", "--train", "enc/a.txt", "enc/b.txt", "--shards", "3"]
    proc = run_script("binarize.py", *x, "--valid-lines", "20", "--destdir", "x", "--piece", "0/3", cwd=d)
    assert proc.returncode == 2 and "x is not prepared for pieces (no x/plan.json): run once, before the pieces, " \
        f"python {REPO}/preprocess/binarize.py --dict spm.dict.txt" in proc.stderr, proc.stderr
    check_script("binarize.py", *x, "--valid-lines", "20", "--destdir", "x", "--prepare", cwd=d)
    # the fixture's shard2 of a plan with 30 held-out lines (and its record) copied into x: refused at assembly
    shutil.copytree(work / "y/shard2", d / "x/shard2")
    shutil.copy(work / "y/.pieces/shard2.json", d / "x/.pieces/shard2.json")
    proc = run_script("binarize.py", *x, "--valid-lines", "20", "--destdir", "x", "--assemble", cwd=d)
    assert proc.returncode == 2 and "x: 3 of 3 shard(s) not ready" in proc.stderr
    assert "shard2 was binarized by a piece of another plan" in proc.stderr
    assert "lines [686, 1014]; this x/plan.json" in proc.stderr and "lines [682, 1014]" in proc.stderr
    assert "delete x/shard2 and x/.pieces/shard2.json, then run python" in proc.stderr and "--piece 2/3" in proc.stderr
    # ... and by its piece in x
    proc = run_script("binarize.py", *x, "--valid-lines", "20", "--destdir", "x", "--piece", "2/3", cwd=d)
    assert proc.returncode == 2 and "x/shard2 was binarized under another plan.json" in proc.stderr
    # a piece given other arguments than --prepare: refused before any work, naming what differs
    for other, message in (
            (["--valid-lines", "30"], "x/plan.json was prepared with other arguments (different valid_lines)"),
            (["--valid-lines", "20", "--shards", "2"], "(different shards)"),
            (["--valid-lines", "20", "--train", "enc/a.txt"], "(different lines, sha256, sizes, train)"),
            (["--valid-lines", "20", "--train", "enc/.plan.json"], "enc/.plan.json is not one of the inputs")):
        proc = run_script("binarize.py", *x, *other, "--destdir", "x", "--piece", "1/3", cwd=d)
        assert proc.returncode == 2 and message in proc.stderr, (other, proc.stderr)
    assert not (d / "x/shard1").exists() and not (d / "x/.text/shard1.txt").exists()
    # an input edited since --prepare: by its time stamp, or (time kept) by the block the piece reads
    text = (d / "enc/b.txt").read_bytes()
    stat = (d / "enc/b.txt").stat()
    (d / "enc/b.txt").write_bytes(text.replace(b"\xe2\x96\x81the", b"\xe2\x96\x81The", 1))
    proc = run_script("binarize.py", *x, "--valid-lines", "20", "--destdir", "x", "--piece", "1/3", cwd=d)
    assert proc.returncode == 2 and "enc/b.txt changed since x/.pieces/index.json was written" in proc.stderr
    os.utime(d / "enc/b.txt", ns=(stat.st_atime_ns, stat.st_mtime_ns))
    proc = run_script("binarize.py", *x, "--valid-lines", "20", "--destdir", "x", "--piece", "1/3", cwd=d)
    assert proc.returncode == 2 and "have other content, same size and time" in proc.stderr, proc.stderr
    assert not (d / "x/shard1").exists() and not (d / "x/.text/shard1.txt").exists()


def test_encode_pieces_equal_one_encode_run(work, tmp_path):
    args = ["--spm-model", work / "spm.model", "--input", work / "raw/a.txt", work / "raw/b.txt", "--output-dir",
            "enc", "--tokens-per-sample", "128"]
    procs = [start("encode.py", *args, "--piece", f"{k}/2", cwd=tmp_path) for k in (1, 0)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-2000:]
    assert files(tmp_path / "enc") == files(work / "enc")  # a.txt, b.txt and .plan.json
    assert sorted(files(tmp_path / "enc")) == [".plan.json", "a.txt", "b.txt"]
    proc = run_script("encode.py", *args[:-1], "64", "--piece", "0/2", cwd=tmp_path)
    assert proc.returncode == 2 and "a different tokens_per_sample" in proc.stderr
    proc = run_script("encode.py", *args, "--piece", "0/3", cwd=tmp_path)
    assert proc.returncode == 2 and "3 pieces for 2 input(s)" in proc.stderr


def test_line_index_finds_and_checks_line_ranges(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"ab\ncde\n\nf")  # 4 lines, the last without a newline
    b.write_bytes(b"gh\nij\n")
    ea, eb = pieces.index_file(a, block=4), pieces.index_file(b, block=4)
    assert ea["lines"] == 4 and ea["size"] == 9 and [n for n, _ in ea["blocks"]] == [1, 2, 0]  # ab\nc de\n\n f
    assert [pieces.line_offset(a, ea, line) for line in range(6)] == [0, 3, 7, 8, 9, 9]
    assert list(pieces.read_lines(a, ea, 3, 9, 2)) == [b"cde\n", b"\n", b"f\n"]
    entries = {a: ea, b: eb}
    assert list(pieces.corpus_range([a, b], entries, 2, 5)) == [b"\n", b"f\n", b"gh\n"]
    assert list(pieces.corpus_range([a, b], entries, 0, 6)) == [b"ab\n", b"cde\n", b"\n", b"f\n", b"gh\n", b"ij\n"]
    b.write_bytes(b"gh\niJ\n")  # same size, same lines, other bytes in block 1 (gh\ni J\n)
    with pytest.raises(InputError, match="bytes 4-6 have other content"):
        list(pieces.corpus_range([a, b], entries, 4, 6))
    assert list(pieces.corpus_range([a, b], entries, 0, 4)) == [b"ab\n", b"cde\n", b"\n", b"f\n"]  # b not read
    assert [list(pieces.piece_shards(k, 3, 4)) for k in range(3)] == [[0], [1], [2, 3]]
    assert [pieces.piece_of(s, 3, 4) for s in range(4)] == [0, 1, 2, 2]
    assert pieces.parse_piece("2/8") == (2, 8)
    for bad in ("8/8", "1", "-1/2", "0/0"):
        with pytest.raises(InputError, match="give K/N with 0 <= K < N"):
            pieces.parse_piece(bad)
    with pytest.raises(InputError, match="give at most 3 pieces"):
        pieces.piece_shards(0, 4, 3)


FAKE_SBATCH = """#!/usr/bin/env bash
# records one submission (its arguments, NUL-separated) and answers a job id, as sbatch --parsable does
n=$(ls "$SUBMITTED" | wc -l)
printf '%s\\0' "$@" > "$SUBMITTED/$n"
echo $((100 + n))
"""


def test_slurm_recipe_submits_the_steps_in_order_and_its_commands_run(work, tmp_path):
    """recipes/slurm_preprocess.sh with a stand-in sbatch that records each submission: four jobs
    chained by afterok, the arrays' ranges; the recorded encode tasks, --prepare and --assemble then
    run here as SLURM would run them (sh -c, SLURM_ARRAY_TASK_ID set), without the binarize tasks:
    --assemble then names the two missing pieces (their commands are the ones submitted)."""
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin/sbatch").write_text(FAKE_SBATCH)
    (tmp_path / "bin/sbatch").chmod(0o755)
    (tmp_path / "submitted").mkdir()
    out = tmp_path / "out"
    out.mkdir()
    for name in ("spm.model", "spm.dict.txt"):
        shutil.copy(work / name, out / name)
    env = dict(os.environ, PATH=f"{tmp_path / 'bin'}:{os.environ['PATH']}", SUBMITTED=str(tmp_path / "submitted"),
               CPUS="1", VALID_LINES="20", TOKENS_PER_SAMPLE="128", PYTHONWARNINGS="ignore")
    proc = subprocess.run(["bash", str(REPO / "recipes/slurm_preprocess.sh"), str(work / "raw"), str(out), "2"],
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "submitted: encode 100, prepare 101, binarize 102, assemble 103" in proc.stdout
    jobs = []
    for n in range(4):
        args = (tmp_path / "submitted" / str(n)).read_text().split("\0")[:-1]
        opts = dict(a[2:].split("=", 1) for a in args if a.startswith("--") and "=" in a)
        jobs.append((opts["job-name"], opts.get("array"), opts.get("dependency"), args[args.index("--wrap") + 1]))
    assert [job[:3] for job in jobs] == [("encode", "0-1", None), ("prepare", None, "afterok:100"),
                                         ("binarize", "0-1", "afterok:101"), ("assemble", None, "afterok:102")]
    assert jobs[2][3].endswith(" --piece $SLURM_ARRAY_TASK_ID/2")
    for name, array, _, wrap in jobs:
        if name == "binarize":
            continue
        for task in range(2) if array else [None]:
            task_env = dict(env, SLURM_ARRAY_TASK_ID=str(task)) if array else env
            proc = subprocess.run(["sh", "-c", wrap], env=task_env, capture_output=True, text=True, timeout=120,
                                  check=False, cwd=tmp_path)
            if name != "assemble":
                assert proc.returncode == 0, (name, proc.stderr[-2000:])
    assert files(out / "encoded") == files(work / "enc")  # the two encode tasks: one encode run, byte for byte
    assert proc.returncode == 2 and "2 of 2 shard(s) not ready" in proc.stderr
    piece = jobs[2][3].replace("$SLURM_ARRAY_TASK_ID", "1").replace("'", "").split(" ", 1)[1]  # without python
    assert f"shard1 is missing (its piece has not run, or failed): run python {piece}\n" in proc.stderr
