"""Data parallel on fairseq's engine, on CPU: ``unilmv2-launch`` (alone, under torchrun, under
srun's variables) and 2 gloo processes equal to 1 process with ``--update-freq 2``.

Runs that only need fairseq-train's own code go through :class:`TrainServer` (one Python that
imported torch and fairseq once, forking a fresh process per rank for each run: ~1 s a run
instead of ~4.5 s); the launcher's own tests run the console scripts as users do.
"""
import argparse
import atexit
import json
import logging
import os
import re
import select
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

import pytest
import torch

from fairseq_unilmv2 import launch

from .helpers import REPO, USER_DIR, check_cli, inner_logs, lee_corpus_lines

# One layer of width 32: the runs are about equality, not quality.
TINY = ["--user-dir", USER_DIR, "--arch", "unilmv2_tiny", "--encoder-layers", "1", "--encoder-embed-dim", "32",
        "--encoder-ffn-embed-dim", "64", "--encoder-attention-heads", "2", "--dropout", "0",
        "--attention-dropout", "0", "--seed", "7", "--cpu", "--optimizer", "adam", "--lr", "1e-3",
        "--lr-scheduler", "inverse_sqrt", "--warmup-updates", "4", "--log-format", "json",
        "--log-interval", "1", "--disable-validation", "--batch-size", "8", "--save-interval-updates", "4",
        "--max-update", "10", "--num-workers", "0"]
TASKS = {
    "pmlm": ["bin", "--task", "pmlm", "--criterion", "pmlm", "--tokens-per-sample", "64", "--mae-decoder-layers", "1"],
    "unilm_seq2seq": ["bin_s2s", "--task", "unilm_seq2seq", "--criterion", "unilm_seq2seq",
                      "--max-source-positions", "40", "--max-target-positions", "16"],
}
# The corpus below: 28 Lee documents, 5480 tokens with </s>, in blocks of 63 + <s>: 87 blocks;
# and 88 (source, target) pairs. Either is 11 batches of <= 8, so an epoch is 6 updates of 2
# batches, the last with one (rank 1 of 2 then trains on a dummy batch). Hand-counted.
LINES, PAIRS = 28, 88
UPDATES_PER_EPOCH = 6
# What must agree, update for update: the losses (3 decimals in fairseq's json log) and the
# batch contents (words and sentences per update prove the same examples were drawn).
COMPARED = ("loss", "ae_loss", "par_loss", "nll_loss", "wpb", "bsz", "epoch")


def train_args(task, objective=None, *extra):
    args = TASKS[task] + TINY + list(extra)
    return args + (["--objective", objective] if objective else [])


# ---------------------------------------------------------------------------------------------
# the training server


def serve():
    """Body of the server process: read one JSON job a line, run each of its ranks' argv
    (``fairseq-train ...`` or ``fairseq-preprocess ...``: the console script's ``cli_main``) in a
    forked process, answer with the ranks' exit codes (negative: killed by that signal)."""
    reply = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # stray prints of the imports must not mix with the answers
    import torch._dynamo  # noqa: F401  torch.optim imports it on first use: 1.5 s, once here
    from fairseq import utils
    from fairseq_cli import preprocess, train

    programs = {"fairseq-train": train, "fairseq-preprocess": preprocess}

    utils.import_user_module(argparse.Namespace(user_dir=USER_DIR))  # as fairseq-train does
    # fairseq-train turns its flags into a config with hydra's compose: 1.4 s the first time,
    # 0.5 s once hydra's parsers are built, so build them here, before the forks
    from fairseq import options
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf

    convert_namespace_to_omegaconf(options.parse_args_and_arch(options.get_training_parser(), train_args("pmlm")))
    for request in sys.stdin:
        job = json.loads(request)
        sys.stdout.flush()
        sys.stderr.flush()
        pids = []
        for i, argv in enumerate(job["argv"]):
            group = pids[0] if pids else 0
            pid = os.fork()
            if pid == 0:
                _run_rank(programs[argv[0]], argv, job, i, group)
            try:  # the ranks of a job share a process group: one SIGKILL stops them all
                os.setpgid(pid, group or pid)
            except OSError:
                pass
            pids.append(pid)
        codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]
        reply.write(json.dumps(codes) + "\n")
        reply.flush()


class _DieAfter(logging.Handler):
    """``kill -9`` of the whole job right after update ``n`` is logged (before its checkpoint
    is due and before update n + 1 starts): a crash at a known point, so a test knows which
    checkpoint the next run resumes from."""

    def __init__(self, n):
        super().__init__()
        self.n = n

    def emit(self, record):
        if record.name == "train_inner" and json.loads(record.getMessage())["num_updates"] == str(self.n):
            sys.stdout.flush()
            os.killpg(os.getpgrp(), signal.SIGKILL)


def _run_rank(program, argv, job, i, group):
    code = 1
    try:
        os.setpgid(0, group)
        os.chdir(job["cwd"])
        log = os.open(job["logs"][i], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        logging.basicConfig(format="%(asctime)s | %(levelname)s | %(name)s | %(message)s", datefmt="%Y-%m-%d %H:%M:%S",
                            level=logging.INFO,
                            stream=sys.stdout, force=True)  # fairseq-train's format
        if job.get("die_after") and i == 0:
            logging.getLogger().addHandler(_DieAfter(job["die_after"]))
        sys.argv = list(argv)
        program.cli_main()
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


class TrainServer:
    def __init__(self):
        env = dict(os.environ, PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from tests.test_distributed import serve; serve()"], cwd=REPO, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.count = 0

    def run(self, ranks, cwd, die_after=None, timeout=300):
        """Run ``ranks`` (one argv each, the console script first) together; returns (exit codes,
        rank 0's output)."""
        self.count += 1
        logs = [str(Path(cwd) / f"run{self.count}.rank{i}.log") for i in range(len(ranks))]
        job = {"argv": ranks, "cwd": str(cwd), "logs": logs, "die_after": die_after}
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            self.close()
            raise AssertionError(f"training server: no answer in {timeout} s; logs {logs}")
        codes = json.loads(self.proc.stdout.readline())
        return codes, Path(logs[0]).read_text()

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def rank_argvs(args, world_size=2):
    """The argv of every rank, with the flags ``unilmv2-launch`` gives srun's tasks on one machine
    (a tcp:// rendezvous: the forked ranks have no torchrun store to join)."""
    init = f"tcp://127.0.0.1:{launch.free_port('127.0.0.1')}"
    command = ["fairseq-train", *args]
    return [command + launch.rank_arguments(command, rank, rank, world_size, init, "cpu") for rank in range(world_size)]


# ---------------------------------------------------------------------------------------------
# one set-up for the session: data-bins, the server, reference runs (test_resume.py shares it)

_SESSION = {}


class Workspace:
    def __init__(self, root: Path):
        self.root = root
        self.server = TrainServer()
        self.references = {}
        self.runs = 0
        lines = [line for line in lee_corpus_lines() if line][:LINES]
        (root / "train.txt").write_text("\n".join(lines) + "\n")
        self.check(["fairseq-preprocess", "--only-source", "--trainpref", "train.txt", "--validpref", "train.txt",
                    "--destdir", "bin", "--workers", "1"])  # a valid split for the recipe test
        words = [line.split() for line in lee_corpus_lines() if line][:PAIRS]
        (root / "s2s.src").write_text("\n".join(" ".join(w[:30]) for w in words) + "\n")
        (root / "s2s.tgt").write_text("\n".join(" ".join(w[30:38]) for w in words) + "\n")
        self.check(["fairseq-preprocess", "-s", "src", "-t", "tgt", "--trainpref", "s2s", "--srcdict",
                    "bin/dict.txt", "--joined-dictionary", "--destdir", "bin_s2s", "--workers", "1"])

    def check(self, argv):
        codes, out = self.server.run([argv], self.root)
        assert codes == [0], out[-3000:]
        return out

    def save_dir(self, name):
        self.runs += 1
        path = self.root / f"{name}-{self.runs}"
        assert not path.exists()
        return path

    def reference(self, task, objective=None):
        """1 process, ``--update-freq 2``, uninterrupted: (json log rows by update, save dir)."""
        key = (task, objective)
        if key not in self.references:
            save = self.save_dir(f"ref-{objective or task}")
            args = train_args(task, objective, "--update-freq", "2", "--save-dir", str(save))
            out = self.check(["fairseq-train", *args])
            assert f"grouped total_num_itrs = {UPDATES_PER_EPOCH}" in out
            self.references[key] = (rows_by_update(out), save)
        return self.references[key]


def workspace(tmp_path_factory) -> Workspace:
    if "ws" not in _SESSION:
        _SESSION["ws"] = Workspace(tmp_path_factory.mktemp("distributed"))
        atexit.register(_SESSION["ws"].server.close)
    return _SESSION["ws"]


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    return workspace(tmp_path_factory)


def rows_by_update(output):
    return {int(row["num_updates"]): {k: row[k] for k in COMPARED if k in row} for row in inner_logs(output)}


def assert_same_updates(rows, reference, updates):
    assert sorted(rows) == list(updates), sorted(rows)
    for n in updates:
        assert rows[n] == reference[n], (n, rows[n], reference[n])


def assert_same_parameters(save_a, save_b):
    """Model parameters and Adam state of two checkpoint_last.pt, within float tolerance."""
    a = torch.load(Path(save_a) / "checkpoint_last.pt", map_location="cpu", weights_only=False)
    b = torch.load(Path(save_b) / "checkpoint_last.pt", map_location="cpu", weights_only=False)
    assert a["optimizer_history"][-1]["num_updates"] == b["optimizer_history"][-1]["num_updates"]
    assert a["model"].keys() == b["model"].keys()
    for name in a["model"]:
        torch.testing.assert_close(a["model"][name], b["model"][name], rtol=1e-5, atol=1e-6, msg=name)
    for key in ("exp_avg", "exp_avg_sq"):
        for i, state in a["last_optimizer_state"]["state"].items():
            torch.testing.assert_close(state[key], b["last_optimizer_state"]["state"][i][key], rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------------------------------------
# the launcher's rules (pure, no processes)


def test_spawn_plan_numbers_ranks_node_major_and_refuses_a_half_given_multi_node_setup():
    args = argparse.Namespace(nnodes=2, node_rank=1, master_addr="node0", master_port=29500)
    plan = launch.spawn_plan(args, {}, 4)
    assert plan.world_size == 8
    assert plan.ranks == [(4, 0), (5, 1), (6, 2), (7, 3)]  # node 1 holds ranks 4..7
    assert plan.init_method == "env://"  # torchrun's store
    assert plan.torchrun == ["--nnodes", "2", "--node-rank", "1", "--nproc-per-node", "4",
                             "--master-addr", "node0", "--master-port", "29500"]
    with pytest.raises(launch.LaunchError, match="--master-addr"):
        launch.spawn_plan(argparse.Namespace(nnodes=2, node_rank=0, master_addr=None, master_port=None), {}, 4)
    with pytest.raises(launch.LaunchError, match="--node-rank 2 is not in 0..1"):
        launch.spawn_plan(argparse.Namespace(nnodes=2, node_rank=2, master_addr="a", master_port=1), {}, 4)
    single = launch.spawn_plan(argparse.Namespace(nnodes=None, node_rank=None, master_addr=None, master_port=None),
                               {}, 2)
    assert single.ranks == [(0, 0), (1, 1)] and single.torchrun[-3:-1] == ["127.0.0.1", "--master-port"]
    assert int(single.torchrun[-1]) > 0  # a free port was picked


def test_rank_arguments_on_cpu_gpu_and_for_hydra():
    assert launch.rank_arguments(["fairseq-train", "bin"], 3, 1, 4, "tcp://h:5", "cpu") == [
        "--distributed-world-size", "4", "--distributed-rank", "3", "--distributed-init-method", "tcp://h:5",
        "--distributed-no-spawn", "--device-id", "1", "--distributed-backend", "gloo",
        "--ddp-backend", "legacy_ddp", "--cpu"]
    # on GPU fairseq's own DDP and NCCL; an explicit --cpu is not repeated
    assert launch.rank_arguments(["fairseq-train", "bin"], 0, 0, 8, "env://", "cuda")[-2:] == [
        "--distributed-backend", "nccl"]
    assert "--cpu" not in launch.rank_arguments(["fairseq-train", "--cpu"], 0, 0, 2, "env://", "cpu")
    assert launch.wants_cpu(["fairseq-train", "--cpu", "bin"])  # a switch: "bin" is the data, not its value
    assert launch.rank_arguments(["fairseq-hydra-train", "--config-name", "x"], 1, 1, 2, "tcp://h:5", "cpu") == [
        "distributed_training.distributed_world_size=2", "distributed_training.distributed_rank=1",
        "distributed_training.distributed_init_method=tcp://h:5", "distributed_training.distributed_no_spawn=true",
        "distributed_training.device_id=1", "distributed_training.distributed_backend=gloo",
        "distributed_training.ddp_backend=legacy_ddp", "common.cpu=true"]
    # srun --gpus-per-task 1 shows each task its GPU as device 0
    assert launch.device_id(5, "cuda", 1) == 0 and launch.device_id(5, "cuda", 8) == 5


def test_command_that_sets_what_the_launcher_sets_is_refused():
    with pytest.raises(launch.LaunchError, match="sets --distributed-rank"):
        launch.check_command(["fairseq-train", "bin", "--distributed-rank=1"], "cpu")
    with pytest.raises(launch.LaunchError, match="sets distributed_training.device_id"):
        launch.check_command(["fairseq-hydra-train", "distributed_training.device_id=0"], "cuda")
    with pytest.raises(launch.LaunchError, match="--ddp-backend pytorch_ddp does not train CPU modules"):
        launch.check_command(["fairseq-train", "bin", "--ddp-backend", "pytorch_ddp"], "cpu")
    with pytest.raises(launch.LaunchError, match="nccl does not run on CPU"):
        launch.check_command(["fairseq-train", "bin", "--distributed-backend", "nccl"], "cpu")
    launch.check_command(["fairseq-train", "bin", "--ddp-backend", "legacy_ddp"], "cpu")
    launch.check_command(["fairseq-train", "bin", "--ddp-backend", "pytorch_ddp"], "cuda")


def test_launcher_flags_under_torchrun_are_refused(monkeypatch, capsys):
    """Nested launching (torchrun starting launchers that each start N ranks) ran two separate
    jobs into one --save-dir; under torchrun the process is one rank, so such flags are refused."""
    for k, v in {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1",
                 "MASTER_PORT": "29555"}.items():
        monkeypatch.setenv(k, v)
    assert launch.main(["--nproc-per-node", "2", "--dry-run", "--", "fairseq-train", "bin", "--cpu"]) == 2
    assert "under torchrun every process is one rank" in capsys.readouterr().err
    assert launch.main(["--dry-run", "--", "fairseq-train", "bin", "--cpu"]) == 0
    assert "--distributed-init-method env://" in capsys.readouterr().out


def test_torchrun_and_srun_variables_make_this_process_one_rank():
    torchrun = {"RANK": "5", "LOCAL_RANK": "1", "WORLD_SIZE": "8", "LOCAL_WORLD_SIZE": "4",
                "MASTER_ADDR": "n0", "MASTER_PORT": "29500"}
    plan = launch.external_plan(torchrun)
    assert (plan.source, plan.world_size, plan.ranks, plan.init_method) == ("torchrun", 8, [(5, 1)], "env://")
    srun = {"SLURM_JOB_ID": "4242", "SLURM_STEP_ID": "0", "SLURM_PROCID": "9", "SLURM_LOCALID": "1",
            "SLURM_NTASKS": "16", "SLURM_NNODES": "2", "SLURM_NODEID": "1",
            "SLURM_JOB_NODELIST": "gpu[07-08]", "SLURM_STEP_NODELIST": "gpu[07-08]"}
    plan = launch.external_plan(srun)
    port = 20000 + (4242 * 31 + 0) % 40000  # the same in every task of the step
    assert (plan.source, plan.world_size, plan.ranks) == ("srun", 16, [(9, 1)])
    assert plan.init_method == f"tcp://gpu07:{port}"
    assert launch.external_plan(dict(srun, MASTER_ADDR="10.0.0.7", MASTER_PORT="1234")).init_method == \
        "tcp://10.0.0.7:1234"
    # a batch script (no srun step) is not a rank; nor is a plain shell
    assert launch.external_plan({k: v for k, v in srun.items() if k != "SLURM_STEP_ID"}) is None
    assert launch.external_plan({}) is None
    # srun with one task per node and --nproc-per-node: nodes and master from SLURM
    per_node = dict(srun, SLURM_NTASKS="2", SLURM_PROCID="1")
    plan = launch.spawn_plan(argparse.Namespace(nnodes=None, node_rank=None, master_addr=None, master_port=None),
                             per_node, 8)
    assert plan.world_size == 16 and plan.ranks[0] == (8, 0)
    assert plan.torchrun == ["--nnodes", "2", "--node-rank", "1", "--nproc-per-node", "8",
                             "--master-addr", "gpu07", "--master-port", str(port)]
    with pytest.raises(launch.LaunchError, match="--ntasks-per-node 1"):
        launch.spawn_plan(argparse.Namespace(nnodes=None, node_rank=None, master_addr=None, master_port=None),
                          srun, 8)


@pytest.mark.parametrize("nodelist, first", [
    ("gpu07", "gpu07"), ("gpu[07-09,12],cpu1", "gpu07"), ("a-[1-2]b[3-4]", "a-1b3"),
    ("node12,node[01-02]", "node12"), ("rack[3,1]-n[10-11]", "rack3-n10"),
])
def test_first_host_of_a_slurm_node_list(nodelist, first):
    assert launch.first_host(nodelist) == first


# ---------------------------------------------------------------------------------------------
# the launcher's processes


LAUNCH = str(Path(sys.executable).parent / "unilmv2-launch")
# A stand-in rank (python -c FAKE_RANK MODE --cpu ...): writes its pid, prints its variables; on
# SIGTERM it cleans up for 0.3 s (a SIGKILL then would find no sigterm<R>), writes sigterm<R> and
# exits 143; rank 1 fails after a moment (MODE exit: status 3,
# kill: SIGKILL), writing the time; rank 0 (and rank 1 in MODE wait) would run 60 s.
FAKE_RANK = """
import os, signal, sys, time
r = int(os.environ['RANK'])
signal.signal(signal.SIGTERM, lambda *_: (time.sleep(0.3), open(f'sigterm{r}', 'w').close(), sys.exit(143)))
open(f'pid{r}', 'w').write(str(os.getpid()))
print('rank', r, 'of', os.environ['WORLD_SIZE'], 'args', ' '.join(sys.argv[2:5]), flush=True)
if r == 1 and sys.argv[1] != 'wait':
    time.sleep(0.5)
    open('failed_at', 'w').write(repr(time.time()))
    if sys.argv[1] == 'kill':
        os.kill(os.getpid(), signal.SIGKILL)
    sys.exit(print('rank one broke', file=sys.stderr) or 3)
time.sleep(60)
"""
PROMPT = 5  # seconds: torchrun polls its ranks every 0.1 s and stops the others with SIGTERM


def fake_ranks(mode, *options):
    return [LAUNCH, "--nproc-per-node", "2", *options, "--", sys.executable, "-c", FAKE_RANK, mode, "--cpu"]


def running(pid):
    """Whether ``pid`` runs (a zombie has ended: nothing reaps orphans in some containers)."""
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


def wait_for_ranks(cwd, proc, n=2, timeout=60):
    """The pids of the fake ranks, once each has written its pid (its SIGTERM handler is set)."""
    deadline = time.monotonic() + timeout
    paths = [cwd / f"pid{r}" for r in range(n)]
    while not all(path.exists() and path.read_text() for path in paths):
        assert proc.poll() is None and time.monotonic() < deadline, proc.poll()
        time.sleep(0.05)
    return [int(path.read_text()) for path in paths]


def test_a_failing_rank_stops_the_others_and_the_launcher_exits_with_its_status(tmp_path):
    """torchrun stops the other ranks with SIGTERM as soon as one fails; the launcher exits with the
    failing rank's status (torchrun itself: 1), after torchrun's report naming it."""
    proc = subprocess.run(fake_ranks("exit", "--log-dir", str(tmp_path / "logs")), cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    ended = time.time()
    assert proc.returncode == 3, proc.stderr
    assert ended - float((tmp_path / "failed_at").read_text()) < PROMPT  # rank 0 was stopped, not waited for
    assert (tmp_path / "sigterm0").exists()  # terminated, so it could clean up (not SIGKILL)
    assert not running(int((tmp_path / "pid0").read_text()))
    assert "rank 0 of 2 args --cpu --distributed-world-size 2" in proc.stdout
    assert "rank one broke" in proc.stderr
    assert re.search(r"Root Cause .*\n.*\n.*\n.*\n\s*rank\s*: 1 \(local_rank: 1\)\n\s*exitcode\s*: 3 ", proc.stderr)
    assert proc.stderr.endswith("unilmv2-launch: rank 1 failed with exit status 3; torchrun stopped the other ranks\n")
    # --log-dir: torchrun --tee 3 keeps each rank's streams under DIR/<run id>/attempt_0/<local rank>/
    (stderr,) = (tmp_path / "logs").glob("*/attempt_0/1/stderr.log")
    assert stderr.read_text().splitlines()[-1] == "rank one broke"
    (stdout,) = (tmp_path / "logs").glob("*/attempt_0/0/stdout.log")
    assert stdout.read_text().startswith("rank 0 of 2")


def test_a_rank_killed_by_a_signal_gives_128_plus_the_signal(tmp_path):
    """A rank's SIGKILL (the OOM killer's) makes the launcher exit 137, the shell's status for it."""
    proc = subprocess.run(fake_ranks("kill"), cwd=tmp_path, capture_output=True, text=True, timeout=60)
    ended = time.time()
    assert proc.returncode == 128 + signal.SIGKILL, proc.stderr
    assert ended - float((tmp_path / "failed_at").read_text()) < PROMPT
    assert (tmp_path / "sigterm0").exists() and not running(int((tmp_path / "pid0").read_text()))
    assert "exit status 137; torchrun stopped the other ranks" in proc.stderr
    assert re.search(r"exitcode\s*: -9 .*\(SIGKILL\)", proc.stderr)


def test_sigterm_to_the_launcher_reaches_every_rank_and_exits_143(tmp_path):
    proc = subprocess.Popen(fake_ranks("wait"), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    pids = wait_for_ranks(tmp_path, proc)
    start = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    assert time.monotonic() - start < PROMPT
    assert all((tmp_path / f"sigterm{r}").exists() for r in range(2)) and not any(map(running, pids))
    assert proc.stderr.read().endswith("unilmv2-launch: stopped by SIGTERM\n")


def test_ranks_end_when_the_launcher_is_killed(tmp_path):
    """torchrun starts each rank in a session of its own and cannot pass on its own SIGKILL: the
    rank asked Linux for a SIGTERM when its parent dies."""
    proc = subprocess.Popen(fake_ranks("wait"), cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    pids = wait_for_ranks(tmp_path, proc)
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + PROMPT
    while any(map(running, pids)) and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        assert not any(map(running, pids)), "ranks outlived the killed launcher"
    finally:
        for pid in filter(running, pids):
            os.kill(pid, signal.SIGKILL)
    assert all((tmp_path / f"sigterm{r}").exists() for r in range(2))


def test_dry_run_prints_torchrun_and_each_rank_command():
    proc = subprocess.run([LAUNCH, "--nproc-per-node", "2", "--master-port", "29512", "--grace-period", "2.5",
                           "--dry-run", "--", "fairseq-train", "bin"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    torchrun, rank0, rank1 = proc.stdout.splitlines()
    assert torchrun == (
        f"torchrun: {sys.executable} -m torch.distributed.run --nnodes 1 --node-rank 0 --nproc-per-node 2 "
        f"--master-addr 127.0.0.1 --master-port 29512 --shutdown-timeout 3 "
        f"--signals-to-handle SIGTERM,SIGINT,SIGHUP,SIGQUIT,SIGUSR1,SIGUSR2 --no-python {sys.executable} -P "
        f"{Path(launch.__file__).resolve()} -- fairseq-train bin --cpu")  # no GPU here: --cpu for every rank
    assert rank1 == ("rank 1: fairseq-train bin --cpu --distributed-world-size 2 --distributed-rank 1 "
                     "--distributed-init-method env:// --distributed-no-spawn --device-id 1 "
                     "--distributed-backend gloo --ddp-backend legacy_ddp")
    assert rank0.startswith("rank 0: ")


def test_launcher_help_imports_neither_fairseq_nor_torch():
    code = ("import sys, unilmv2_cli; status = unilmv2_cli.launch(['--help']); "
            "print(status, sorted({m.split('.')[0] for m in sys.modules} & {'fairseq', 'fairseq_unilmv2', 'torch'}))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.splitlines()[-1] == "0 []", proc.stdout + proc.stderr
    assert "--nproc-per-node" in proc.stdout


def test_launcher_usage_errors_are_one_line_and_status_2():
    proc = subprocess.run([LAUNCH, "--nproc-per-node", "2", "--", "fairseq-train", "bin", "--cpu",
                           "--distributed-world-size", "2"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr == ("unilmv2-launch: error: the command sets --distributed-world-size; unilmv2-launch sets "
                           "it for every process: remove it\n")


# ---------------------------------------------------------------------------------------------
# 2 processes = 1 process with --update-freq 2, through each way in


def test_launcher_two_cpu_processes_equal_update_freq_two(ws):
    """``unilmv2-launch --nproc-per-node 2 -- fairseq-train ...`` as a user runs it: same losses and
    batches every update, same parameters after 10 (kill -9 and resume: test_resume.py)."""
    reference, ref_save = ws.reference("pmlm", "pmlm")
    save = ws.save_dir("launch")
    out = check_cli(["unilmv2-launch", "--nproc-per-node", "2", "--", "fairseq-train",
                     *train_args("pmlm", "pmlm", "--save-dir", str(save))], cwd=ws.root)
    assert "training on 2 devices" in out
    assert_same_updates(rows_by_update(out), reference, range(1, 11))
    assert_same_parameters(save, ref_save)


def test_torchrun_starts_two_cpu_ranks_through_the_launcher(ws):
    """``torchrun --nproc-per-node 2 --no-python unilmv2-launch -- fairseq-train ...``: stock
    fairseq under torchrun on CPU trains every process alone (its default world size is the GPU
    count, 0)."""
    reference, ref_save = ws.reference("unilm_seq2seq")
    save = ws.save_dir("torchrun")
    port = launch.free_port("127.0.0.1")
    out = check_cli(["torchrun", "--nproc-per-node", "2", "--master-addr", "127.0.0.1", "--master-port", str(port),
                     "--no-python", "unilmv2-launch", "--", "fairseq-train",
                     *train_args("unilm_seq2seq", None, "--save-dir", str(save))], cwd=ws.root)
    assert "distributed init (rank 1): env://" in out
    assert_same_updates(rows_by_update(out), reference, range(1, 11))
    assert_same_parameters(save, ref_save)


# srun as far as the recipe needs it: start SLURM_NTASKS copies of the command on this machine,
# each with the variables srun gives a task of a one-node step; fail if any fails.
FAKE_SRUN = """#!{python}
import os, subprocess, sys
args = sys.argv[1:]
while args[0].startswith("--"):
    args.pop(0)
tasks = [subprocess.Popen(args, env=dict(os.environ, SLURM_STEP_ID="0", SLURM_PROCID=str(r), SLURM_LOCALID=str(r),
                                         SLURM_NODEID="0")) for r in range(int(os.environ["SLURM_NTASKS"]))]
sys.exit(max(t.wait() for t in tasks))
"""


def test_slurm_recipe_trains_two_srun_tasks_as_two_ranks(ws, tmp_path):
    """recipes/slurm_pretrain.sh under an srun stand-in: two tasks, each made a rank by
    unilmv2-launch from its SLURM variables (no SLURM here; the node list names this machine)."""
    (tmp_path / "bin").mkdir()
    srun = tmp_path / "bin" / "srun"
    srun.write_text(FAKE_SRUN.format(python=sys.executable))
    srun.chmod(0o755)
    data = tmp_path / "data-bin"
    data.mkdir()
    (data / "data-path").write_text(str(ws.root / "bin") + "\n")
    port = launch.free_port("127.0.0.1")
    env = dict(os.environ, PATH=f"{tmp_path / 'bin'}:{Path(sys.executable).parent}:{os.environ['PATH']}",
               PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1", SLURM_JOB_ID="77", SLURM_NTASKS="2", SLURM_NNODES="1",
               SLURM_JOB_NODELIST="localhost", SLURM_SUBMIT_DIR=str(REPO), MASTER_PORT=str(port), DATA=str(data),
               SAVE_DIR=str(tmp_path / "ck"), ARCH="unilmv2_tiny", TOKENS="64", BATCH="8", SEQUENCES="32",
               UPDATES="3", WARMUP="1", CPU="1", WORKERS="0")
    proc = subprocess.run(["bash", str(REPO / "recipes" / "slurm_pretrain.sh")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "2 processes on 1 nodes: 8 x 2 x 2 = 32 sequences an update" in out  # --update-freq 2, hand-counted
    assert f"distributed init (rank 1): tcp://localhost:{port}" in out
    assert "training on 2 devices" in out
    state = torch.load(tmp_path / "ck" / "checkpoint_last.pt", map_location="cpu", weights_only=False)
    assert state["optimizer_history"][-1]["num_updates"] == 3
