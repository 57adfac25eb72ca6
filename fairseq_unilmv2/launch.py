"""``unilmv2-launch``: data-parallel fairseq training on N processes, on one or several machines,
on CPU (gloo) or GPU (NCCL), started through torchrun (``torch.distributed.run``) or SLURM's
``srun``.

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

    --distributed-world-size W --distributed-rank R --distributed-init-method tcp://HOST:PORT|env://
    --distributed-no-spawn --device-id LOCAL_RANK --distributed-backend gloo|nccl
    (+ on CPU: --cpu --ddp-backend legacy_ddp)

global rank R = node_rank * N + local_rank, W = M * N (torchrun's numbering). This module
translates commands; starting, supervising and stopping processes is torchrun's job:

- **alone** (``--nproc-per-node`` given, or no launcher around): runs torchrun's entry point
  ``torch.distributed.run.main`` in this process with the matching options (static rendezvous at
  ``--master-addr:--master-port``, ``--shutdown-timeout`` = ``--grace-period``, ``--log-dir`` with
  ``--tee 3``); each rank torchrun starts runs this file again, which is the next case. Output,
  signals and fail-fast are torchrun's; the exit status is the first failing rank's (torchrun's
  own is 1 for every failure and every signal). Inside an ``srun`` step with one task per node,
  ``--nnodes/--node-rank/--master-addr/--master-port`` default from SLURM.
- **torchrun** (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT`` set,
  no ``--nproc-per-node``): this process becomes its one rank, rendezvous ``env://`` (torchrun's
  store).
- **srun** (inside an ``srun`` step: ``SLURM_STEP_ID``, ``SLURM_PROCID``, ``SLURM_LOCALID``,
  ``SLURM_NTASKS``; no ``--nproc-per-node``): one task per GPU (or per CPU process); rank =
  ``SLURM_PROCID``, master = the step's first node (``MASTER_ADDR`` overrides), port =
  ``MASTER_PORT`` or one derived from the job id, the same in every task.

The device: CPU when the command has ``--cpu`` (``common.cpu=true`` for fairseq-hydra-train) or
torch sees no CUDA device (then ``--cpu`` is added); else CUDA with NCCL and fairseq's own DDP.
``fairseq-hydra-train`` commands get the same settings as ``key=value`` overrides.

This module is loaded alone by ``unilmv2_cli.launch`` (no package ``__init__``, no fairseq): the
standard library only at module level, torch imported only to count GPUs and to run torchrun.
"""
import argparse
import ctypes
import math
import os
import shlex
import shutil
import signal
import socket
import sys
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

# The signals torchrun passes on to the ranks (it then stops them): its default set, plus the
# SIGUSR1/SIGUSR2 that SLURM's ``--signal`` sends before a time limit.
FORWARDED_SIGNALS = "SIGTERM,SIGINT,SIGHUP,SIGQUIT,SIGUSR1,SIGUSR2"

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
    ranks: List[Tuple[int, int]]  # (global rank, local rank) torchrun starts here (spawn) or this process is
    init_method: str
    source: str  # spawn | torchrun | srun
    torchrun: List[str] = field(default_factory=list)  # spawn: torchrun's options for the job's shape


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
    parser.add_argument("--log-dir", default=None,
                        help="also write each rank's output to files under LOG_DIR (torchrun --log-dir LOG_DIR "
                        "--tee 3: LOG_DIR/<run id>/attempt_0/<local rank>/stdout.log and stderr.log)")
    parser.add_argument("--grace-period", type=float, default=10.0,
                        help="seconds the ranks get to exit after a stop signal before SIGKILL (torchrun "
                        "--shutdown-timeout, whole seconds; default 10). After a rank's failure torchrun "
                        "gives the others its own 30 s")
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
    # torchrun's static rendezvous: its agent on node 0 holds the store at addr:port, and every rank
    # joins it with env:// (a tcp:// address there would open a second server on that port)
    options = ["--nnodes", str(nnodes), "--node-rank", str(node_rank), "--nproc-per-node", str(nproc),
               "--master-addr", addr, "--master-port", str(port)]
    return Plan(nnodes * nproc, ranks, "env://", "spawn", options)


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
# processes: torchrun starts and supervises them; each rank execs its command


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


def with_device(command: List[str], device: str) -> List[str]:
    """The command handed to torchrun's ranks: on CPU with ``--cpu`` (``common.cpu=true``), so that
    every rank runs on the device chosen here without counting GPUs again."""
    if device != "cpu" or wants_cpu(command):
        return command
    return command + (["common.cpu=true"] if is_hydra(command) else ["--cpu"])


def torchrun_arguments(plan: Plan, command: List[str], grace: float, log_dir: Optional[str]) -> List[str]:
    """torchrun's command line (``torch.distributed.run``) for this machine's ranks: each one runs
    this file under torchrun's variables, i.e. becomes its rank (``-P``: this file's folder, the
    package's, must not shadow top-level modules)."""
    options = plan.torchrun + ["--shutdown-timeout", str(math.ceil(grace)), "--signals-to-handle", FORWARDED_SIGNALS]
    if log_dir:
        options += ["--log-dir", log_dir, "--tee", "3"]
    return options + ["--no-python", sys.executable, "-P", os.path.abspath(__file__), "--", *command]


def run_torchrun(arguments: List[str]) -> int:
    """Run torchrun's entry point in this process (what ``python -m torch.distributed.run
    ARGUMENTS`` runs), for its exceptions: torchrun exits with 1 for a failed rank and for a stop
    signal alike (measured, torch 2.13), where this returns the shell status of the first failing
    rank (torchrun's ``ChildFailedError.get_first_failure``; killed by signal N: 128 + N), or
    128 + N when this process was stopped by signal N (torchrun's ``SignalException``)."""
    from torch.distributed import run as torchrun
    from torch.distributed.elastic.multiprocessing import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    try:
        torchrun.main(arguments)
    except ChildFailedError as error:
        rank, failure = error.get_first_failure()
        status = exit_status(failure.exitcode)
        sys.stderr.write(f"{error}\nunilmv2-launch: rank {rank} failed with exit status {status}; "
                         f"torchrun stopped the other ranks\n")
        return status
    except SignalException as error:
        sys.stderr.write(f"unilmv2-launch: stopped by {signal.Signals(error.sigval).name}\n")
        return 128 + error.sigval
    return 0


def threads_per_rank(nproc: int) -> str:
    """OMP_NUM_THREADS for ``nproc`` processes sharing this machine's cores (torchrun's default is
    1, torch's own all the cores in every process)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return str(max(1, cores // nproc))


def become_rank(argv: List[str]) -> int:
    """Replace this process by the rank's command (signals and exit status go straight through)."""
    if "TORCHELASTIC_RUN_ID" in os.environ:
        # torchrun starts each rank in a session of its own: a SIGKILL of torchrun's agent would
        # leave the ranks running, so ask Linux for a SIGTERM when the agent dies (kept by exec)
        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    sys.stdout.flush()
    try:
        os.execvp(argv[0], argv)
    except OSError as error:
        sys.stderr.write(f"unilmv2-launch: error: cannot run {argv[0]}: {error}\n")
        return 127


def main(argv=None) -> int:
    """Parse, plan, then run this machine's ranks through torchrun (spawn) or become the one rank
    (torchrun/srun)."""
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
    if plan.source != "spawn":
        # torchrun/srun started this process as one rank
        argv = rank_command(command, plan, *plan.ranks[0], device, gpus)
        if args.dry_run:
            sys.stdout.write(f"rank {plan.ranks[0][0]}: {shlex.join(argv)}\n")
            return 0
        return become_rank(argv)
    command = with_device(command, device)
    arguments = torchrun_arguments(plan, command, args.grace_period, args.log_dir)
    if args.dry_run:
        sys.stdout.write(f"torchrun: {shlex.join([sys.executable, '-m', 'torch.distributed.run', *arguments])}\n")
        for rank, local in plan.ranks:
            sys.stdout.write(f"rank {rank}: {shlex.join(rank_command(command, plan, rank, local, device, gpus))}\n")
        return 0
    if "OMP_NUM_THREADS" not in os.environ:
        os.environ["OMP_NUM_THREADS"] = threads_per_rank(len(plan.ranks))
    return run_torchrun(arguments)


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


if __name__ == "__main__":  # each rank of the torchrun this launcher runs (torchrun_arguments)
    sys.exit(main())
