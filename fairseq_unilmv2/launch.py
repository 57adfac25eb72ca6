"""``unilmv2-launch``: data-parallel fairseq training on N processes, on one or several machines,
on CPU (gloo) or GPU (NCCL), started by itself, by ``torchrun`` or by SLURM's ``srun``.

    unilmv2-launch --nproc-per-node N [--nnodes M --node-rank R --master-addr HOST --master-port P] \\
        -- fairseq-train DATA --user-dir fairseq_unilmv2 ...

Why: stock fairseq cannot start several processes on a machine without CUDA. Its
``--distributed-world-size N`` asserts ("world size is N but have 0 available devices"); under
``torchrun`` its default world size is the GPU count, so on CPU every process trains alone (and
all write one ``--save-dir``; measured), and with ``--distributed-world-size`` it divides by the
GPU count; its default NCCL and DDP backends are right on GPU but fail on CPU (torch's DDP
refuses ``device_ids`` for CPU modules; CPU tensors need gloo). What works on both is the
explicit form fairseq documents for its own multi-node runs, which this command fills in for
every process (``fairseq.distributed.utils.call_main`` with ``--distributed-no-spawn``):

    --distributed-world-size W --distributed-rank R --distributed-init-method tcp://HOST:PORT
    --distributed-no-spawn --device-id LOCAL_RANK --distributed-backend gloo|nccl
    (+ on CPU: --cpu --ddp-backend legacy_ddp)

global rank R = node_rank * N + local_rank, W = M * N (torchrun's numbering). Three ways in:

- **spawn** (``--nproc-per-node`` given, or no launcher around): this command starts the N
  local processes, prefixes their output lines with ``[rank R]`` (``--log-dir`` also keeps
  each rank's own log), forwards SIGINT/SIGTERM/SIGHUP/SIGUSR1/SIGUSR2 to them, and when one
  rank fails stops the others (SIGTERM, then SIGKILL after ``--grace-period``) and exits with the
  failing rank's status after repeating the end of its stderr. Inside an ``srun`` step with one
  task per node, ``--nnodes/--node-rank/--master-addr/--master-port`` default from SLURM.
- **torchrun** (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT`` set,
  no ``--nproc-per-node``): ``torchrun ... --no-python unilmv2-launch -- fairseq-train ...``;
  this process becomes its one rank, rendezvous ``env://`` (torchrun's store).
- **srun** (inside an ``srun`` step: ``SLURM_STEP_ID``, ``SLURM_PROCID``, ``SLURM_LOCALID``,
  ``SLURM_NTASKS``; no ``--nproc-per-node``): one task per GPU (or per CPU process); rank =
  ``SLURM_PROCID``, master = the step's first node (``MASTER_ADDR`` overrides), port =
  ``MASTER_PORT`` or one derived from the job id, the same in every task.

The device: CPU when the command has ``--cpu`` (``common.cpu=true`` for fairseq-hydra-train) or
torch sees no CUDA device (then ``--cpu`` is added); else CUDA with NCCL and fairseq's own DDP.
``fairseq-hydra-train`` commands get the same settings as ``key=value`` overrides.

This module is loaded alone by ``unilmv2_cli.launch`` (no package ``__init__``, no fairseq): the
standard library only at module level, torch imported only to count GPUs.
"""
import argparse
import ctypes
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)
STOPPING_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # the others are only passed on
TAIL_LINES = 20  # stderr lines of a failed rank repeated at the end

# fairseq-train flag -> fairseq-hydra-train key, for what the launcher sets or refuses
KEYS = {
    "--distributed-world-size": "distributed_training.distributed_world_size",
    "--distributed-rank": "distributed_training.distributed_rank",
    "--distributed-init-method": "distributed_training.distributed_init_method",
    "--distributed-no-spawn": "distributed_training.distributed_no_spawn",
    "--device-id": "distributed_training.device_id",
    "--distributed-backend": "distributed_training.distributed_backend",
    "--ddp-backend": "distributed_training.ddp_backend",
    "--cpu": "common.cpu",
    "--distributed-port": "distributed_training.distributed_port",
    "--distributed-num-procs": "distributed_training.distributed_num_procs",
}
# Set by the launcher, so refused in the command (a second value would silently win or lose).
OWNED = ("--distributed-world-size", "--distributed-rank", "--distributed-init-method",
         "--distributed-no-spawn", "--device-id", "--distributed-port", "--distributed-num-procs",
         "--local-rank", "--local_rank")
# DDP backends that train on CPU modules: fairseq's own all-reduce (no_c10d is its old name).
CPU_DDP_BACKENDS = ("legacy_ddp", "no_c10d")


class LaunchError(Exception):
    """A usage error, reported as one line and exit status 2."""


@dataclass
class Plan:
    """Where the processes of this machine sit in the job."""

    world_size: int
    ranks: List[Tuple[int, int]]  # (global rank, local rank) this launcher starts (spawn) or is
    init_method: str
    source: str  # spawn | torchrun | srun
    env: Dict[str, str] = field(default_factory=dict)  # torchrun's variables for every rank (spawn)


# ---------------------------------------------------------------------------------------------
# pure rules: command line, environment -> plan -> per-rank arguments


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="unilmv2-launch",
        description="Run a fairseq training command on N processes per machine (CPU: gloo; GPU: NCCL), "
        "alone, under torchrun or under srun. Put the command after --.",
        epilog="examples:\n"
        "  unilmv2-launch --nproc-per-node 8 -- fairseq-train data-bin --user-dir fairseq_unilmv2 ...\n"
        "  unilmv2-launch --nproc-per-node 4 -- fairseq-train data-bin --cpu ...   (4 CPU processes)\n"
        "  unilmv2-launch --nproc-per-node 8 --nnodes 2 --node-rank 0 --master-addr node0 --master-port 29500 -- ...\n"
        "  torchrun --nnodes 2 --nproc-per-node 8 ... --no-python unilmv2-launch -- fairseq-train ...\n"
        "  srun --ntasks-per-node 8 unilmv2-launch -- fairseq-train ...\n"
        "See docs/scaling.md.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--nproc-per-node", default=None,
                        help="processes to start on this machine: a number, or 'auto' (the GPUs torch "
                        "sees, or 1 without CUDA). Not given under torchrun/srun: they started the processes")
    parser.add_argument("--nnodes", type=int, default=None, help="machines taking part (default 1)")
    parser.add_argument("--node-rank", type=int, default=None, help="this machine's index, 0..nnodes-1 (default 0)")
    parser.add_argument("--master-addr", default=None,
                        help="address of node 0, reachable from every machine (default $MASTER_ADDR, "
                        "else 127.0.0.1 on one machine)")
    parser.add_argument("--master-port", type=int, default=None,
                        help="free TCP port on node 0 (default $MASTER_PORT, else a free port on one machine)")
    parser.add_argument("--log-dir", default=None, help="also write rank R's output to LOG_DIR/rank<R>.log")
    parser.add_argument("--grace-period", type=float, default=10.0,
                        help="seconds the other ranks get to exit after a failure or a stop signal before "
                        "SIGKILL (default 10)")
    parser.add_argument("--dry-run", action="store_true", help="print each rank's command and exit")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the training command")
    return parser


def is_hydra(command: Sequence[str]) -> bool:
    """fairseq-hydra-train takes ``key=value`` overrides instead of ``--flags``."""
    return any(os.path.basename(a) == "fairseq-hydra-train" or a == "fairseq_cli.hydra_train" for a in command[:3])


def flag_value(command: Sequence[str], flag: str) -> Optional[str]:
    """The value of ``flag`` (``--flag V`` or ``--flag=V``; "" for a bare switch), else None.
    For hydra commands, ``flag`` is looked up by its ``KEYS`` key (``key=V``)."""
    if is_hydra(command):
        key = KEYS.get(flag, flag)
        for arg in command:
            name, _, value = arg.lstrip("+").partition("=")
            if name == key:
                return value
        return None
    for i, arg in enumerate(command):
        if arg == flag:
            nxt = command[i + 1] if i + 1 < len(command) else ""
            return "" if nxt.startswith("--") else nxt
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def wants_cpu(command: Sequence[str]) -> bool:
    """``--cpu`` (a switch: what follows it is another argument) or ``common.cpu=true``."""
    if not is_hydra(command):
        return "--cpu" in command
    value = flag_value(command, "--cpu")
    return value is not None and value.lower() in ("true", "1", "yes")


def check_command(command: Sequence[str], device: str) -> None:
    """Raise LaunchError when the command sets what the launcher sets, or what fails on ``device``."""
    if not command:
        raise LaunchError("no command: put the training command after --, e.g. "
                          "unilmv2-launch --nproc-per-node 2 -- fairseq-train DATA ...")
    for flag in OWNED:
        if flag_value(command, flag) is not None:
            name = KEYS.get(flag, flag) if is_hydra(command) else flag
            raise LaunchError(f"the command sets {name}; unilmv2-launch sets it for every process: remove it")
    if device == "cpu":
        backend = flag_value(command, "--distributed-backend")
        if backend not in (None, "gloo"):
            raise LaunchError(f"--distributed-backend {backend} does not run on CPU: remove it (gloo is used)")
        ddp = flag_value(command, "--ddp-backend")
        if ddp not in (None,) + CPU_DDP_BACKENDS:
            raise LaunchError(f"--ddp-backend {ddp} does not train CPU modules (torch's DDP refuses device_ids "
                              f"there): remove it, legacy_ddp is used on CPU")


def rank_arguments(command: Sequence[str], rank: int, local_rank: int, world_size: int,
                   init_method: str, device: str) -> List[str]:
    """What to append to ``command`` for global ``rank`` (fairseq-train flags or hydra overrides)."""
    settings = [
        ("--distributed-world-size", str(world_size)),
        ("--distributed-rank", str(rank)),
        ("--distributed-init-method", init_method),
        ("--distributed-no-spawn", None),
        ("--device-id", str(local_rank)),
    ]
    if flag_value(command, "--distributed-backend") is None:
        settings.append(("--distributed-backend", "gloo" if device == "cpu" else "nccl"))
    if device == "cpu":
        if flag_value(command, "--ddp-backend") is None:
            settings.append(("--ddp-backend", "legacy_ddp"))
        if not wants_cpu(command):
            settings.append(("--cpu", None))
    out = []
    for flag, value in settings:
        if is_hydra(command):
            out.append(f"{KEYS[flag]}={'true' if value is None else value}")
        else:
            out += [flag] if value is None else [flag, value]
    return out


def first_host(nodelist: str) -> str:
    """The first host of a SLURM node list: ``gpu[07-09,12],cpu1`` -> ``gpu07``.

    Same result as the first line of ``scontrol show hostnames NODELIST`` for SLURM's
    ``prefix[ranges]`` syntax (zero padding kept); raises LaunchError on an empty list."""
    first = ""
    depth = 0
    for ch in nodelist.strip():
        if ch == "," and depth == 0:
            break
        depth += ch == "["
        depth -= ch == "]"
        first += ch
    if not first:
        raise LaunchError(f"empty SLURM node list {nodelist!r}: set MASTER_ADDR to node 0's address")
    if "[" not in first:
        return first
    prefix, rest = first.split("[", 1)
    ranges, suffix = rest.split("]", 1)
    lowest = ranges.split(",")[0].split("-")[0]  # "07-09,12" -> "07"
    return prefix + lowest + (first_host(suffix) if suffix else "")


def slurm_nodelist(env: Dict[str, str]) -> str:
    """The step's nodes (srun), else the job's, as fairseq reads them."""
    return env.get("SLURM_STEP_NODELIST") or env.get("SLURM_JOB_NODELIST", "")


def slurm_port(env: Dict[str, str]) -> int:
    """A port every task of a SLURM step derives alike: from the job id (and the step id, so that
    consecutive steps of one job do not meet a port still held by the previous one)."""
    job = int(env.get("SLURM_JOB_ID", "0"))
    step = int(env.get("SLURM_STEP_ID", "0")) if env.get("SLURM_STEP_ID", "").isdigit() else 0
    return 20000 + (job * 31 + step) % 40000


def in_srun_step(env: Dict[str, str]) -> bool:
    """Inside a task started by srun (a batch script itself has no SLURM_STEP_ID)."""
    return all(k in env for k in ("SLURM_STEP_ID", "SLURM_PROCID", "SLURM_LOCALID", "SLURM_JOB_ID"))


def external_plan(env: Dict[str, str], master_port: Optional[int] = None) -> Optional[Plan]:
    """The plan when torchrun or srun started this process as one rank, else None."""
    torchrun = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
    if all(k in env for k in torchrun):
        # env:// joins torchrun's own store at MASTER_ADDR:MASTER_PORT (a tcp:// address there
        # would try to open a second server on the port torchrun's agent already holds)
        return Plan(int(env["WORLD_SIZE"]), [(int(env["RANK"]), int(env["LOCAL_RANK"]))], "env://", "torchrun")
    if in_srun_step(env):
        world = int(env.get("SLURM_STEP_NUM_TASKS") or env.get("SLURM_NTASKS") or 0)
        if world < 1:
            raise LaunchError("srun set no SLURM_NTASKS: run with srun --ntasks N (or --ntasks-per-node)")
        host = env.get("MASTER_ADDR") or first_host(slurm_nodelist(env))
        port = master_port or int(env.get("MASTER_PORT") or slurm_port(env))
        return Plan(world, [(int(env["SLURM_PROCID"]), int(env["SLURM_LOCALID"]))], f"tcp://{host}:{port}", "srun")
    return None


def spawn_plan(args, env: Dict[str, str], nproc: int) -> Plan:
    """The plan when this launcher starts ``nproc`` processes on this machine."""
    nnodes, node_rank, addr, port = args.nnodes, args.node_rank, args.master_addr, args.master_port
    if in_srun_step(env) and nnodes is None:
        tasks = int(env.get("SLURM_STEP_NUM_TASKS") or env.get("SLURM_NTASKS") or 1)
        nodes = int(env.get("SLURM_STEP_NUM_NODES") or env.get("SLURM_NNODES") or 1)
        if tasks != nodes:
            raise LaunchError(
                f"srun started {tasks} tasks on {nodes} nodes and each would start --nproc-per-node {nproc} "
                f"processes: run srun --ntasks-per-node 1 for that, or drop --nproc-per-node (one task a process)")
        nnodes, node_rank = nodes, int(env.get("SLURM_NODEID", "0"))
        addr = addr or env.get("MASTER_ADDR") or first_host(slurm_nodelist(env))
        port = port or int(env.get("MASTER_PORT") or slurm_port(env))
    nnodes = 1 if nnodes is None else nnodes
    node_rank = 0 if node_rank is None else node_rank
    addr = addr or env.get("MASTER_ADDR")
    port = port or (int(env["MASTER_PORT"]) if env.get("MASTER_PORT") else None)
    if nnodes < 1 or not 0 <= node_rank < nnodes:
        raise LaunchError(f"--node-rank {node_rank} is not in 0..{nnodes - 1} (--nnodes {nnodes})")
    if nnodes > 1 and (not addr or not port):
        raise LaunchError(f"--nnodes {nnodes}: give every machine the same --master-addr (node 0's address) "
                          f"and --master-port (a free port there)")
    addr = addr or "127.0.0.1"
    port = port or free_port(addr)
    ranks = [(node_rank * nproc + local, local) for local in range(nproc)]  # torchrun's numbering
    env = {"MASTER_ADDR": addr, "MASTER_PORT": str(port), "WORLD_SIZE": str(nnodes * nproc),
           "LOCAL_WORLD_SIZE": str(nproc), "GROUP_RANK": str(node_rank)}
    return Plan(nnodes * nproc, ranks, f"tcp://{addr}:{port}", "spawn", env)


def free_port(addr: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((addr if addr in ("127.0.0.1", "localhost") else "", 0))
        return s.getsockname()[1]


def cuda_count() -> int:
    """GPUs torch sees (0 without torch's CUDA build); imported here only, it takes a second."""
    try:
        import torch

        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    except ImportError:
        return 0


# ---------------------------------------------------------------------------------------------
# processes


def _die_with_parent():  # runs in the child before exec (Linux): SIGTERM when the launcher dies
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Rank:
    def __init__(self, rank: int, argv: List[str], env: Dict[str, str], log_dir: Optional[str]):
        self.rank = rank
        self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        self.tail = deque(maxlen=TAIL_LINES)
        self.log = open(os.path.join(log_dir, f"rank{rank}.log"), "ab") if log_dir else None
        self.lock = threading.Lock()
        self.threads = []

    def pump(self):
        """Copy the child's stdout/stderr lines to ours, prefixed with its rank."""
        for stream, out, keep in ((self.proc.stdout, sys.stdout, False), (self.proc.stderr, sys.stderr, True)):
            t = threading.Thread(target=self._copy, args=(stream, out, keep), daemon=True)
            t.start()
            self.threads.append(t)

    def _copy(self, stream, out, keep):
        prefix = f"[rank {self.rank}] ".encode()
        for line in iter(stream.readline, b""):
            if keep:
                self.tail.append(line.decode(errors="replace").rstrip("\n"))
            with self.lock:
                if self.log:
                    self.log.write(line)
                    self.log.flush()
            try:
                if hasattr(out, "buffer"):
                    out.buffer.write(prefix + line)
                else:  # a text-only stream (e.g. replaced by a caller)
                    out.write((prefix + line).decode(errors="replace"))
                out.flush()
            except (BrokenPipeError, ValueError):  # our reader left; keep draining the child
                pass

    def finish(self):
        for t in self.threads:
            t.join(timeout=5)
        if self.log:
            self.log.close()


def exit_status(returncode: int) -> int:
    """A shell's exit status for a child's return code (killed by signal N -> 128 + N)."""
    return 128 - returncode if returncode < 0 else returncode


def device_id(local_rank: int, device: str, gpus: int) -> int:
    """The GPU of a local rank: its index, or modulo the GPUs this process sees (srun
    --gpus-per-task 1 shows each task one GPU, as device 0)."""
    return local_rank % gpus if device == "cuda" and gpus > 0 else local_rank


def rank_command(command: List[str], plan: Plan, rank: int, local: int, device: str, gpus: int) -> List[str]:
    return command + rank_arguments(command, rank, device_id(local, device, gpus), plan.world_size,
                                    plan.init_method, device)


def run_ranks(plan: Plan, command: List[str], device: str, gpus: int, grace: float, log_dir: Optional[str]) -> int:
    """Start this machine's ranks, stream their output, stop them all on the first failure or a
    stop signal; the exit status is the failing rank's (0 when all succeed)."""
    if log_dir:
        os.makedirs(log_dir, exist_ok=True)
    base_env = dict(os.environ, **plan.env)
    if "OMP_NUM_THREADS" not in base_env:  # N processes share the cores (torch would use them all)
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        base_env["OMP_NUM_THREADS"] = str(max(1, cores // len(plan.ranks)))
    state = {"signal": None, "failed": None, "since": None}
    ranks: List[Rank] = []

    def forward(signum, _frame):
        if signum in STOPPING_SIGNALS and state["signal"] is None and state["failed"] is None:
            state["signal"], state["since"] = signum, time.monotonic()
        for r in ranks:
            if r.proc.poll() is None:
                r.proc.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in FORWARDED_SIGNALS}
    try:
        for rank, local in plan.ranks:  # all started before any thread: preexec_fn and threads do not mix
            env = dict(base_env, RANK=str(rank), LOCAL_RANK=str(local))
            ranks.append(Rank(rank, rank_command(command, plan, rank, local, device, gpus), env, log_dir))
        for r in ranks:
            r.pump()
        while True:
            codes = [r.proc.poll() for r in ranks]
            if state["failed"] is None and state["signal"] is None:
                state["failed"] = next((r for r, c in zip(ranks, codes) if c not in (None, 0)), None)
                if state["failed"] is not None:
                    state["since"] = time.monotonic()
                    for r in ranks:
                        if r.proc.poll() is None:
                            r.proc.terminate()
            if all(c is not None for c in codes):
                break
            if state["since"] is not None and time.monotonic() - state["since"] > grace:
                for r in ranks:
                    if r.proc.poll() is None:
                        r.proc.kill()
            time.sleep(0.05)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        for r in ranks:
            if r.proc.poll() is None:
                r.proc.kill()
                r.proc.wait()
            r.finish()
    failed = state["failed"]
    if failed is not None:
        status = exit_status(failed.proc.returncode)
        lines = "".join(f"  {line}\n" for line in failed.tail)
        sys.stderr.write(f"unilmv2-launch: rank {failed.rank} failed with exit status {status}; the other ranks "
                         f"were stopped. Last lines of its stderr:\n{lines}")
        return status
    if state["signal"] is not None:
        sys.stderr.write(f"unilmv2-launch: stopped by {signal.Signals(state['signal']).name}\n")
        return 128 + state["signal"]
    return 0


def main(argv=None) -> int:
    """Parse, plan, then run the ranks (spawn) or become the one rank (torchrun/srun)."""
    args = build_parser().parse_args(argv)
    command = list(args.command)
    if command[:1] == ["--"]:
        command = command[1:]
    env = dict(os.environ)
    try:
        if not command:
            raise LaunchError("no command: put the training command after --, e.g. "
                              "unilmv2-launch --nproc-per-node 2 -- fairseq-train DATA ...")
        if shutil.which(command[0]) is None:
            raise LaunchError(f"{command[0]}: command not found (is the environment with fairseq active?)")
        if all(k in env for k in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")):
            given = [flag for flag, value in (("--nproc-per-node", args.nproc_per_node), ("--nnodes", args.nnodes),
                                              ("--node-rank", args.node_rank), ("--master-addr", args.master_addr),
                                              ("--master-port", args.master_port)) if value is not None]
            if given:
                # else each torchrun process would start its own group of ranks (measured: two
                # separate 2-rank jobs meeting on torchrun's port and sharing one --save-dir)
                raise LaunchError(f"under torchrun every process is one rank and torchrun sets the ranks and "
                                  f"the rendezvous: drop {' '.join(given)} (give them to torchrun)")
        plan = external_plan(env, args.master_port) if args.nproc_per_node is None else None
        gpus = 0 if wants_cpu(command) else cuda_count()
        device = "cuda" if gpus else "cpu"
        check_command(command, device)
        if plan is None:
            plan = spawn_plan(args, env, nproc_per_node(args.nproc_per_node, device, gpus))
    except LaunchError as error:
        sys.stderr.write(f"unilmv2-launch: error: {error}\n")
        return 2
    if args.dry_run:
        for rank, local in plan.ranks:
            sys.stdout.write(f"rank {rank}: {shlex.join(rank_command(command, plan, rank, local, device, gpus))}\n")
        return 0
    if plan.source != "spawn":
        # torchrun/srun started this process as one rank: become it (signals and status go straight through)
        rank, local = plan.ranks[0]
        argv = rank_command(command, plan, rank, local, device, gpus)
        sys.stdout.flush()
        try:
            os.execvp(argv[0], argv)
        except OSError as error:
            sys.stderr.write(f"unilmv2-launch: error: cannot run {argv[0]}: {error}\n")
            return 127
    return run_ranks(plan, command, device, gpus, args.grace_period, args.log_dir)


def nproc_per_node(value: Optional[str], device: str, gpus: int) -> int:
    """--nproc-per-node: a number, or auto (default) = the GPUs, or 1 process on CPU."""
    if value in (None, "auto"):
        return max(1, gpus) if device == "cuda" else 1
    try:
        n = int(value)
    except ValueError:
        raise LaunchError(f"--nproc-per-node {value}: give a number or 'auto'") from None
    if n < 1:
        raise LaunchError(f"--nproc-per-node {n}: give at least 1")
    if device == "cuda" and n > gpus:
        raise LaunchError(f"--nproc-per-node {n} but torch sees {gpus} GPUs: one process a GPU "
                          f"(or add --cpu to the command for CPU processes)")
    return n
