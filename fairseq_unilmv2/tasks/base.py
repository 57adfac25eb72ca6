"""What both tasks share: one dictionary for source and target (one Transformer, one
embedding table), the criteria each task trains with, and a check that the checkpoint
fairseq-train is about to load fits the model. Every example of every split is batched: see
``data/batching.py``."""
import os

from fairseq.criterions import CRITERION_REGISTRY
from fairseq.tasks import FairseqTask
from omegaconf import DictConfig

from ..models.checkpoint_fit import config_value, misfit_message, read_checkpoint
from .dictionary import load_dictionary


class UniLMTask(FairseqTask):
    dictionary = None  # set by the subclass: the one vocabulary of the one Transformer
    # Set by the subclass: criterion classes whose batches and model calls fit the task (a
    # criterion registered as a subclass of one fits too), and the flag naming the right one.
    criterion_classes = ()
    criterion_hint = ""

    @classmethod
    def load_dictionary(cls, filename):
        """fairseq-preprocess ``--srcdict`` with ``--task pmlm``/``unilm_seq2seq`` reads dict.txt here:
        fairseq's format or the vocabulary-id one of converted checkpoints (``vocab_ids.py``)."""
        return load_dictionary(filename)

    @property
    def source_dictionary(self):
        return self.dictionary

    @property
    def target_dictionary(self):
        return self.dictionary

    def dictionary_path(self) -> str:
        """The dictionary file this task read (for messages)."""
        return ""

    def build_criterion(self, cfg, from_checkpoint=False):
        """Refuse a criterion built for the other task (or fairseq's default ``cross_entropy``
        on pre-training) before it fails in its first forward with a ``KeyError``/``TypeError``."""
        name = criterion_name(cfg)
        cls = CRITERION_REGISTRY.get(name)
        if cls is None or not issubclass(cls, self.criterion_classes):
            task = self.cfg._name if isinstance(self.cfg, DictConfig) else type(self).__name__
            default = " (fairseq's default when --criterion is not given)" if name == "cross_entropy" else ""
            raise ValueError(f"--task {task} does not train with --criterion {name}{default}: {self.criterion_hint}")
        return super().build_criterion(cfg, from_checkpoint=from_checkpoint)

    def check_checkpoint_fits(self, model, model_cfg):
        """Raise ValueError, before fairseq's trainer buries it, when the checkpoint fairseq-train
        will load (resume or --finetune-from-model) does not fit ``model``."""
        found = checkpoint_to_load(model_cfg)
        if found is None:
            return
        raise_if_unfit(found, read_checkpoint(found[0]), model, model_cfg, self.dictionary_path())


def raise_if_unfit(found, state, model, model_cfg, dictionary_path: str) -> None:
    """ValueError when the checkpoint ``state`` that ``found`` (``checkpoint_to_load``) names cannot
    start this run: another run's state resumed, or weights that do not fit ``model``."""
    path, source, resumed = found
    message = (resume_mismatch_message(state, model_cfg, path, source) if resumed else "") or \
        misfit_message(source, state, model, model_cfg, dictionary_path)
    if message:
        raise ValueError(message)


def criterion_name(cfg):
    if isinstance(cfg, str):
        return cfg
    if isinstance(cfg, DictConfig):
        return cfg.get("_name", None)
    return getattr(cfg, "criterion", None) or getattr(cfg, "_name", None)


def run_config(model_cfg, group):
    """The ``group`` section (e.g. ``checkpoint``, ``task``) of the whole config that ``model_cfg``
    belongs to, or None: fairseq hands build_model only ``cfg.model``, a node of that config."""
    root = model_cfg._get_parent() if isinstance(model_cfg, DictConfig) else None
    return root.get(group, None) if root is not None else None


def checkpoint_to_load(model_cfg):
    """``(path, description, resumed)`` of the checkpoint fairseq-train will load into the model
    built from ``model_cfg``, or None (nothing to load, or not run by fairseq-train). Follows
    ``fairseq.checkpoint_utils.load_checkpoint``: ``--save-dir``'s checkpoint_last.pt if it
    exists, else ``--continue-once`` or ``--finetune-from-model``; or ``--restore-file``.
    ``resumed``: whether fairseq will also restore the optimizer and criterion state (a resumed
    run) rather than the weights alone (``--finetune-from-model``, ``--reset-optimizer``)."""
    ck = run_config(model_cfg, "checkpoint")
    if ck is None or ck.get("restore_file", None) is None:
        return None
    suffix = ck.get("checkpoint_suffix", "") or ""
    resets = bool(ck.get("reset_optimizer", False))
    if ck.restore_file == "checkpoint_last.pt":
        last = os.path.join(ck.save_dir, f"checkpoint_last{suffix}.pt")
        if os.path.isfile(last):
            return last, (f"the checkpoint {last} that this run resumes (it is in --save-dir {ck.save_dir}; "
                          f"give a new run its own --save-dir)"), not resets
        for flag, name in (("--continue-once", "continue_once"), ("--finetune-from-model", "finetune_from_model")):
            path = ck.get(name, None)
            if path and os.path.isfile(path):
                return path, f"{flag} {path}", flag == "--continue-once" and not resets
        return None
    path = ck.restore_file.replace(".pt", suffix + ".pt")
    return (path, f"--restore-file {path}", not resets) if os.path.isfile(path) else None


def group_name(section, group: str):
    """The registered name of a config ``section`` (``task``, ``criterion``, ...): ``_name`` in a
    dataclass config, the ``--task``/``--criterion`` value in a legacy ``argparse.Namespace`` (e.g. of
    fairseq's ``sentence_ranking``, whose checkpoints keep one); None when absent."""
    return config_value(section, "_name") or config_value(section, group)


def resume_mismatch_message(state, model_cfg, path: str, description: str) -> str:
    """Why the run about to resume ``state`` (read from ``path``) cannot: it was written by another
    task or criterion, whose optimizer and criterion state fairseq would restore (fairseq stops
    with "Criterion does not match; please reset the optimizer (--reset-optimizer)", and that
    advice then clashes with --finetune-from-model). '' when it fits."""
    saved = state.get("cfg") or {}
    root = model_cfg._get_parent() if isinstance(model_cfg, DictConfig) else None
    if root is None or not hasattr(saved, "get"):
        return ""
    differs = []
    for group in ("task", "criterion"):
        was, now = group_name(saved.get(group), group), group_name(root.get(group), group)
        if was and now and was != now:
            differs.append(f"--{group} {was} (this run: --{group} {now})")
    if not differs:
        return ""
    if "--save-dir" in description:
        save_dir = os.path.dirname(path) or "."
        return (f"--save-dir {save_dir} holds {os.path.basename(path)} of another run, trained with "
                f"{' and '.join(differs)}; fairseq-train would resume it as this run. Give this run its own "
                f"--save-dir, and start it from that run with --finetune-from-model {path}")
    return (f"{description} was trained with {' and '.join(differs)}: to start this run from its weights alone, "
            f"pass --finetune-from-model {path} instead (or add --reset-optimizer --reset-dataloader "
            f"--reset-meters --reset-lr-scheduler)")
