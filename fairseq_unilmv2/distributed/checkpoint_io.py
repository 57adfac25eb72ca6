"""Checkpoint writing and sharing that survive ``kill -9`` and several processes.

Two faults of fairseq's own checkpoint I/O, fixed from the plugin without editing fairseq:

1. **Copies are not atomic.** ``fairseq.checkpoint_utils.save_checkpoint`` writes the first
   checkpoint of a save atomically (``torch_persistent_save``: ``.tmp`` then rename) but makes
   every other one (``checkpoint_last.pt``, ``checkpoint_best.pt``, ...) with
   ``PathManager.copy``, i.e. ``shutil.copyfile`` straight onto the destination. A process killed
   during that copy leaves a truncated ``checkpoint_last.pt``: the next run of the same command
   fails in ``torch.load`` instead of resuming. :func:`atomic_copy` copies to a temporary file in
   the same directory and renames it over the destination (``os.replace``, atomic on POSIX), so a
   reader sees the old file or the new one, never a part.

2. **The checkpoint broadcast fails under torch >= 2.6.** With more than one process, rank 0
   alone reads the checkpoint (through the safe loader of ``checkpoint_safety``) and
   ``fairseq.distributed.utils.broadcast_object`` sends it to the other ranks, which unpickle it
   with ``torch.load(buffer)``: torch's ``weights_only`` default refuses the ``DictConfig`` (and
   fairseq's own ``_TensorPlaceholder``) in it, so resuming or ``--finetune-from-model`` on 2+
   processes ends with ``UnpicklingError`` (measured). The bytes are made by rank 0 of the same
   job from a checkpoint it loaded through the safe loader, and fairseq already unpickles peers'
   bytes with ``pickle.loads`` (``all_gather_list``), so :func:`broadcast_object_slow` loads them
   as fairseq did before torch 2.6 (``weights_only=False``); files are still read safely.

3. **A finished run trains again when rerun.** ``fairseq_cli.train`` loads ``checkpoint_last.pt``
   and then runs an epoch, which checks ``--max-update`` only after its first update: rerunning a
   finished command trains one more update and overwrites ``checkpoint_last.pt`` (update 121 of
   120), once per rerun. :func:`load_checkpoint_or_stop` ends such a rerun right after loading,
   with status 0 and one line saying why, before any update or write.
"""
import io
import os
import shutil


def atomic_copy(src_path: str, dst_path: str, overwrite: bool = False) -> bool:
    """Copy ``src_path`` to ``dst_path`` so that ``dst_path`` is never partly written.

    Same contract as ``fairseq.file_io.PathManager.copy`` on local paths without ``iopath``
    (``shutil.copyfile``: replaces ``dst_path``, ``overwrite`` is not looked at); returns True.
    On any error (or a kill) the previous ``dst_path``, if any, is left as it was.
    """
    # Same directory (os.replace does not cross file systems); named after the process so two
    # processes never share one; created with the umask's permissions, as copyfile would.
    tmp = f"{dst_path}.{os.getpid()}.tmp"
    remove_stale_copies(dst_path)
    try:
        shutil.copyfile(src_path, tmp)
        os.replace(tmp, dst_path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return True


def remove_stale_copies(dst_path: str) -> None:
    """Delete ``dst_path.PID.tmp`` files left by a copy whose process was killed (each up to a
    checkpoint's size; a job requeued many times would pile them up). A PID still running is
    left alone: it may be another process copying right now."""
    import glob

    for path in glob.glob(f"{glob.escape(dst_path)}.*.tmp"):
        pid = path[len(dst_path) + 1 : -len(".tmp")]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            try:
                os.remove(path)
            except FileNotFoundError:
                pass
        except PermissionError:  # alive, another user's
            pass


def broadcast_object_slow(obj, src_rank, group, dist_device):
    """``fairseq.distributed.utils._broadcast_object_slow`` with the receiving ranks loading the
    sender's bytes as fairseq did before torch 2.6 (see the module docstring, fault 2)."""
    import torch
    from fairseq.distributed.utils import broadcast, get_rank

    if get_rank(group) == src_rank:
        buffer = io.BytesIO()
        torch.save(obj, buffer)
        buffer = torch.ByteTensor(buffer.getbuffer()).to(dist_device)
        length = torch.LongTensor([len(buffer)]).to(dist_device)
        broadcast(length, src=src_rank, group=group)
        broadcast(buffer, src=src_rank, group=group)
        return obj
    length = torch.LongTensor([0]).to(dist_device)
    broadcast(length, src=src_rank, group=group)
    buffer = torch.ByteTensor(int(length.item())).to(dist_device)
    broadcast(buffer, src=src_rank, group=group)
    return torch.load(io.BytesIO(buffer.cpu().numpy()), map_location="cpu", weights_only=False)


def finished_message(num_updates: int, max_update: int, next_epoch: int, max_epoch: int, save_dir: str) -> str:
    """The line a rerun of a finished run prints, or '' when there is work left (a limit of 0 means
    none, as in fairseq). ``next_epoch``: the epoch the loaded iterator would start."""
    if max_update and num_updates >= max_update:
        limit = f"update {num_updates} and --max-update is {max_update}"
    elif max_epoch and next_epoch > max_epoch:
        limit = f"the end of epoch {next_epoch - 1} and --max-epoch is {max_epoch}"
    else:
        return ""
    return (f"nothing to do: the checkpoint in --save-dir {save_dir} is at {limit}, so this run already "
            f"finished (raise the limit to train further, or give a new run its own --save-dir)")


def load_checkpoint_or_stop(original):
    """Wrap ``fairseq.checkpoint_utils.load_checkpoint``: after it loaded a checkpoint, exit 0 (every
    rank alike, since each loads the same checkpoint) when training is already over (fault 3)."""
    import functools
    import logging

    @functools.wraps(original)
    def load_checkpoint(cfg, trainer, **kwargs):
        extra_state, epoch_itr = original(cfg, trainer, **kwargs)
        if extra_state is not None:
            limits = trainer.cfg.optimization
            message = finished_message(trainer.get_num_updates(), limits.max_update, epoch_itr.next_epoch_idx,
                                       limits.max_epoch, cfg.save_dir)
            if message:
                logging.getLogger("fairseq_unilmv2").warning(message)
                raise SystemExit(0)
        return extra_state, epoch_itr

    load_checkpoint._unilmv2 = True
    return load_checkpoint


def install() -> None:
    """Put :func:`atomic_copy`, :func:`broadcast_object_slow` and :func:`load_checkpoint_or_stop` in
    place of fairseq's (module attributes, looked up at call time by ``save_checkpoint``,
    ``broadcast_object`` and ``fairseq_cli.train``).
    Idempotent. Only local paths get the atomic copy: with ``iopath`` installed, fairseq's copy
    of other URIs (e.g. ``s3://``) is left to ``iopath``."""
    from fairseq import file_io
    from fairseq.distributed import utils as distributed_utils

    if not getattr(file_io.PathManager.copy, "_unilmv2", False):
        original_copy = file_io.PathManager.copy

        def copy(src_path: str, dst_path: str, overwrite: bool = False) -> bool:
            if "://" in str(src_path) or "://" in str(dst_path):
                return original_copy(src_path, dst_path, overwrite)
            return atomic_copy(src_path, dst_path, overwrite)

        copy._unilmv2 = True
        file_io.PathManager.copy = staticmethod(copy)
    distributed_utils._broadcast_object_slow = broadcast_object_slow
    from fairseq import checkpoint_utils

    if not getattr(checkpoint_utils.load_checkpoint, "_unilmv2", False):
        checkpoint_utils.load_checkpoint = load_checkpoint_or_stop(checkpoint_utils.load_checkpoint)
