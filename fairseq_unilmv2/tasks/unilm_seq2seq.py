"""``--task unilm_seq2seq``: fine-tune and generate with the UniLM seq2seq attention mask."""
import logging
import os
from dataclasses import dataclass, field
from typing import Optional

from fairseq import utils
from fairseq.criterions.cross_entropy import CrossEntropyCriterion
from fairseq.criterions.label_smoothed_cross_entropy import LabelSmoothedCrossEntropyCriterion
from fairseq.data import data_utils, indexed_dataset
from fairseq.dataclass import ChoiceEnum, FairseqDataclass
from fairseq.tasks import register_task
from omegaconf import II, MISSING, open_dict

from ..data.batching import persistent_workers_field
from ..data.seq2seq_dataset import Seq2SeqDataset, TargetNoise
from ..distributed import checkpoint_io
from ..models.seq2seq import UniLMSeq2SeqModel
from ..models.checkpoint_fit import config_value
from .base import UniLMTask, group_name, run_config
from .databin import check_data_dirs, wrong_databin_message
from .dictionary import add_special_symbols, load_dictionary

logger = logging.getLogger(__name__)

# s2s-ft's SQuAD / XSum-like defaults; a fine-tuned model records what it was trained with
DEFAULT_MAX_SOURCE, DEFAULT_MAX_TARGET = 464, 48
RECORD = "fine_tuned_"  # model-config prefix of the recorded limits
LIMITS = (("max_source_positions", DEFAULT_MAX_SOURCE, "source"), ("max_target_positions", DEFAULT_MAX_TARGET, "target"))


@dataclass
class UniLMSeq2SeqConfig(FairseqDataclass):
    data: str = field(default=MISSING, metadata={"help": "data-bin from fairseq-preprocess -s SRC -t TGT"})
    source_lang: Optional[str] = field(default=None, metadata={"help": "source suffix", "argparse_alias": "-s"})
    target_lang: Optional[str] = field(default=None, metadata={"help": "target suffix", "argparse_alias": "-t"})
    max_source_positions: Optional[int] = field(
        default=None,
        metadata={"help": "source tokens kept (<s> and </s> included); longer sources are truncated "
                  f"(default: the fine-tuned checkpoint's value when decoding, else {DEFAULT_MAX_SOURCE})"},
    )
    max_target_positions: Optional[int] = field(
        default=None,
        metadata={"help": "target tokens kept (</s> included); longer targets are truncated "
                  f"(default: the fine-tuned checkpoint's value when decoding, else {DEFAULT_MAX_TARGET})"},
    )
    target_mask_prob: float = field(
        default=0.5, metadata={"help": "pseudo mode: probability of replacing a teacher-forced target "
                               "token by the noised pseudo input (s2s-ft word-drop)"}
    )
    random_token_prob: float = field(
        default=0.1, metadata={"help": "pseudo mode: fraction of pseudo inputs given a random token"}
    )
    leave_unmasked_prob: float = field(
        default=0.1, metadata={"help": "pseudo mode: fraction of pseudo inputs given the true token (s2s-ft)"}
    )
    no_repeat_ngram_ignore: str = field(
        default="",
        metadata={"help": "generation: space-separated dictionary symbols that --no-repeat-ngram-size lets "
                  "repeat (s2s-ft --forbid_ignore_word; e.g. '.'): an n-gram is not blocked when its "
                  "completion or its prefix holds one of them"},
    )
    length_penalty_formula: ChoiceEnum(["fairseq", "gnmt"]) = field(
        default="fairseq",
        metadata={"help": "generation: how --lenpen ranks finished hypotheses: 'fairseq' divides the summed "
                  "log-probability by length ** lenpen; 'gnmt' by ((5 + length) / 6) ** lenpen, as s2s-ft ranked "
                  "the published UniLM results (its --length_penalty; lenpen 0 = the raw sum). Length counts </s>"},
    )
    seed: int = II("common.seed")
    train_subset: str = II("dataset.train_subset")
    persistent_workers: bool = persistent_workers_field()


@register_task("unilm_seq2seq", dataclass=UniLMSeq2SeqConfig)
class UniLMSeq2SeqTask(UniLMTask):
    cfg: UniLMSeq2SeqConfig
    # --criterion unilm_seq2seq is label_smoothed_cross_entropy with s2s-ft's 0.1 smoothing
    criterion_classes = (LabelSmoothedCrossEntropyCriterion, CrossEntropyCriterion)
    criterion_hint = ("pass --criterion unilm_seq2seq (label-smoothed cross-entropy over the target; "
                      "--criterion pmlm belongs to --task pmlm pre-training)")

    def __init__(self, cfg: UniLMSeq2SeqConfig, dictionary):
        super().__init__(cfg)
        self.dictionary = dictionary
        self.mask_idx, self.pseudo_idx, self.random_high = add_special_symbols(dictionary)
        # The model's --seq2seq-mode decides whether training batches get pseudo-mask noise;
        # fairseq-train builds the model before it loads the training subset.
        self.seq2seq_mode = "pseudo"
        # Limits the user gave; the others come from the checkpoint when decoding (build_model).
        self.given_limits = {name: getattr(cfg, name) for name, _, _ in LIMITS}
        for name, default, _ in LIMITS:
            if getattr(cfg, name) is None:
                setattr(cfg, name, default)

    @classmethod
    def setup_task(cls, cfg: UniLMSeq2SeqConfig, **kwargs):
        checkpoint_io.install()  # atomic checkpoint copies; multi-process resume (see there)
        paths = utils.split_paths(cfg.data)
        if not paths:
            raise ValueError("--task unilm_seq2seq needs a data-bin directory (positional DATA argument)")
        check_data_dirs(paths, "unilm_seq2seq")
        problem = wrong_databin_message(paths[0], "unilm_seq2seq")
        if problem:
            raise ValueError(problem)
        if cfg.source_lang is None or cfg.target_lang is None:
            cfg.source_lang, cfg.target_lang = data_utils.infer_language_pair(paths[0])
        if cfg.source_lang is None:
            raise ValueError(f"could not infer the language pair in {paths[0]}: pass -s SRC -t TGT")
        src_path = os.path.join(paths[0], f"dict.{cfg.source_lang}.txt")
        tgt_path = os.path.join(paths[0], f"dict.{cfg.target_lang}.txt")
        dictionary = load_dictionary(src_path)
        if os.path.exists(tgt_path) and load_dictionary(tgt_path).symbols != dictionary.symbols:
            raise ValueError(
                f"{src_path} and {tgt_path} differ: source and target share one Transformer and one "
                f"embedding table; binarize with fairseq-preprocess --joined-dictionary (or --srcdict/--tgtdict "
                f"set to the same dict.txt)"
            )
        return cls(cfg, dictionary)

    def load_dataset(self, split, epoch=1, combine=False, **kwargs):
        paths = utils.split_paths(self.cfg.data)
        data_path = paths[(epoch - 1) % len(paths)]
        src, tgt = self.cfg.source_lang, self.cfg.target_lang
        prefix = None
        for a, b in ((src, tgt), (tgt, src)):
            candidate = os.path.join(data_path, f"{split}.{a}-{b}.")
            if indexed_dataset.dataset_exists(candidate + src, impl=None):
                prefix = candidate
                break
        if prefix is None:
            raise FileNotFoundError(
                f"Dataset not found: {split} ({data_path}/{split}.{src}-{tgt}.{src}.bin/.idx); "
                f"binarize it with fairseq-preprocess -s {src} -t {tgt} --{split}pref ..."
            )
        src_ds = data_utils.load_indexed_dataset(prefix + src, self.dictionary)
        tgt_ds = data_utils.load_indexed_dataset(prefix + tgt, self.dictionary)
        if tgt_ds is not None and len(src_ds) != len(tgt_ds):
            raise ValueError(f"{prefix}{src} has {len(src_ds)} lines but {prefix}{tgt} has {len(tgt_ds)}")
        self.datasets[split] = self._dataset(src_ds, tgt_ds, split)

    def _dataset(self, src, tgt, name, constraints=None):
        noise = None
        if tgt is not None and self.seq2seq_mode == "pseudo":
            noise = TargetNoise(
                self.pseudo_idx, self.dictionary.nspecial, self.random_high, self.cfg.target_mask_prob,
                self.cfg.random_token_prob, self.cfg.leave_unmasked_prob,
            )
        return Seq2SeqDataset(src, tgt, self.dictionary, self.cfg.max_source_positions,
                              self.cfg.max_target_positions, noise, self.cfg.seed, name, constraints)

    def build_dataset_for_inference(self, src_tokens, src_lengths, constraints=None, **kwargs):
        from fairseq.data import ListDataset

        return self._dataset(ListDataset(src_tokens, src_lengths), None, "input", constraints)

    def train_step(self, sample, model, criterion, optimizer, update_num, ignore_grad=False):
        """Train on the noised input (pseudo mode) that the dataset batches beside the clean one."""
        if "train_net_input" in sample and self.seq2seq_mode == "pseudo":
            sample = {**sample, "net_input": sample["train_net_input"]}
        return super().train_step(sample, model, criterion, optimizer, update_num, ignore_grad)

    def build_model(self, cfg, from_checkpoint=False):
        if from_checkpoint:
            refuse_unfinetuned(cfg)
            self._limits_from_checkpoint(cfg)
        else:
            # Recorded in the checkpoint's model config under names of their own, so that an
            # override of the task's limits (CLI, hub kwargs) leaves the record intact
            with open_dict(cfg):
                for name, _, _ in LIMITS:
                    cfg[RECORD + name] = getattr(self.cfg, name)
                # the target trains segment 1: NLU fine-tuning from this model may use it (--pair-segment auto)
                cfg["segments_trained"] = cfg.get("num_segments", 0)
        base = super().build_model(cfg, from_checkpoint)
        room = base.max_positions()
        if self.cfg.max_source_positions + self.cfg.max_target_positions > room:
            raise ValueError(
                f"--max-source-positions {self.cfg.max_source_positions} + --max-target-positions "
                f"{self.cfg.max_target_positions} exceed the model's --max-positions {room}: lower them or "
                f"raise --max-positions (a shorter pre-trained position table is tiled to fit)"
            )
        self.seq2seq_mode = cfg.seq2seq_mode
        model = UniLMSeq2SeqModel(
            cfg, base.transformer, self.dictionary, cfg.seq2seq_mode, self.pseudo_idx,
            self.cfg.max_source_positions, self.cfg.max_target_positions,
        )
        if not from_checkpoint:
            self.check_checkpoint_fits(model, cfg)
        return model

    def dictionary_path(self):
        return os.path.join(utils.split_paths(self.cfg.data)[0], f"dict.{self.cfg.source_lang}.txt")

    def _limits_from_checkpoint(self, model_cfg):
        """Decode with the position limits the model was fine-tuned with, unless the user gave
        others (and then say when they truncate)."""
        for name, default, side in LIMITS:
            trained = _recorded_limit(model_cfg, name)
            given = self.given_limits[name]
            if given is None:
                setattr(self.cfg, name, trained if trained is not None else default)
                if trained is None:
                    logger.warning("the checkpoint does not record its --%s; using %d", name.replace("_", "-"), default)
            elif trained is not None and given < trained:
                what = (f"sources longer than {given} tokens are truncated" if side == "source"
                        else f"hypotheses are cut at {given - 1} tokens")
                logger.warning("--%s %d is below the %d the model was fine-tuned with: %s",
                               name.replace("_", "-"), given, trained, what)
        logger.info("position limits: source %d, target %d", self.cfg.max_source_positions, self.cfg.max_target_positions)

    def build_generator(self, models, args, seq_gen_cls=None, extra_gen_cls_kwargs=None, **kwargs):
        from ..generation import build_generator

        return build_generator(self, models, args, seq_gen_cls, extra_gen_cls_kwargs, **kwargs)

    def max_positions(self):
        return (self.cfg.max_source_positions, self.cfg.max_target_positions)


def refuse_unfinetuned(model_cfg):
    """ValueError for a checkpoint that was never fine-tuned with ``--task unilm_seq2seq`` (a
    ``--task pmlm`` pre-training checkpoint, any objective; an NLU model): its
    prediction head was never trained to continue a target, so decoding it prints repeated
    tokens and scoring it measures nothing. The checkpoint's own task config (the model
    config's parent) says which task trained it. A converted checkpoint (``segments_trained``
    recorded under ``--task pmlm``) only gets a warning: its original may be fine-tuned (s2s-ft)."""
    task = run_config(model_cfg, "task")
    name = group_name(task, "task")
    if name is None or name == "unilm_seq2seq" or _recorded_limit(model_cfg, LIMITS[0][0]) is not None:
        return
    if name == "pmlm" and config_value(model_cfg, "segments_trained") is not None:
        # written by unilmv2-convert-hf (our pre-training records no segments_trained): the original
        # may be a checkpoint fine-tuned elsewhere, e.g. by s2s-ft (docs/s2s-ft.md)
        logger.warning("this checkpoint was converted by unilmv2-convert-hf and never fine-tuned here: its output "
                       "means something only if the original was fine-tuned for seq2seq (e.g. by s2s-ft)")
        return
    what = f"--task {name}"
    if name == "pmlm":
        what += f" --objective {config_value(task, 'objective') or 'pmlm'} pre-training"
    raise ValueError(
        f"this checkpoint was trained by {what} and never fine-tuned for seq2seq: decoding it would print "
        f"repeated tokens. Fine-tune it first: fairseq-train DATA --user-dir fairseq_unilmv2 --task unilm_seq2seq "
        f"-s SRC -t TGT --arch ARCH --criterion unilm_seq2seq --finetune-from-model THIS_CHECKPOINT --save-dir "
        f"NEW_DIR ... (README.md, 'Your own data, step by step'), then generate with NEW_DIR/checkpoint_best.pt"
    )


def _recorded_limit(model_cfg, name):
    """The limit a checkpoint was fine-tuned with, or None. Checkpoints written before the model
    config recorded it hold it in their task config, the model config's parent node."""
    value = model_cfg.get(RECORD + name, None)
    if value is None:
        task = run_config(model_cfg, "task")
        if group_name(task, "task") == "unilm_seq2seq":
            value = config_value(task, name)
    return value
