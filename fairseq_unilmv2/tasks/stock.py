"""fairseq's stock NLU tasks read the plugin's vocabulary-id ``dict.txt``.

``sentence_prediction`` and ``sentence_ranking`` load ``input0/dict.txt`` with fairseq's
``Dictionary.load``, which refuses the ``#unilmv2:vocab-ids`` header of dictionaries that
``unilmv2-convert-hf`` writes (on purpose: read the fairseq way every id would be 4 off; see
``vocab_ids.py``). ``install`` wraps those two tasks' ``load_dictionary`` so that a file with the
header is read by the plugin (``tasks/dictionary.py``), with ``<mask>`` naming the vocabulary's
own mask token (``[MASK]``) instead of a new row; every other file is read exactly as fairseq reads
it. It also records whether their ``build_model`` loads a saved checkpoint (``loading_checkpoint``):
fairseq-train's start checks (``models/nlu.py``) must not run when the hub or fairseq-validate
loads a fine-tuned model. Nothing else in fairseq changes.
"""
import functools

from .. import vocab_ids
from .dictionary import MASK_SYMBOL, VocabDictionary

_INSTALLED = "_unilmv2_wrapped"  # marks a wrapper of ours (install is idempotent)


def _read(filename):
    vocab = vocab_ids.read(filename)
    if vocab is None:
        return None
    dictionary = VocabDictionary(vocab)
    if dictionary.mask_word:  # the task's add_symbol("<mask>") then finds the vocabulary's mask
        dictionary.indices.setdefault(MASK_SYMBOL, dictionary.index(dictionary.mask_word))
    else:
        dictionary.add_symbol(MASK_SYMBOL)
    return dictionary


def _wrap_load_dictionary(task_cls, filename_arg: int):
    original = task_cls.__dict__["load_dictionary"].__func__
    if getattr(original, _INSTALLED, False):
        return

    @functools.wraps(original)
    def load_dictionary(cls, *args, **kwargs):
        filename = kwargs.get("filename", args[filename_arg] if len(args) > filename_arg else None)
        dictionary = _read(filename) if isinstance(filename, str) else None
        return dictionary if dictionary is not None else original(cls, *args, **kwargs)

    setattr(load_dictionary, _INSTALLED, True)
    task_cls.load_dictionary = classmethod(load_dictionary)


_FROM_CHECKPOINT = "_unilmv2_from_checkpoint"


def loading_checkpoint(task) -> bool:
    """Whether ``task`` is building a model to load a saved checkpoint into (hub, fairseq-validate,
    prediction) rather than for fairseq-train: fairseq passes ``from_checkpoint`` to the task's
    ``build_model`` but not on to the model's."""
    return bool(getattr(task, _FROM_CHECKPOINT, False))


def _wrap_build_model(task_cls):
    original = task_cls.__dict__["build_model"]
    if getattr(original, _INSTALLED, False):
        return

    @functools.wraps(original)
    def build_model(self, cfg, from_checkpoint=False):
        setattr(self, _FROM_CHECKPOINT, from_checkpoint)
        return original(self, cfg, from_checkpoint)

    setattr(build_model, _INSTALLED, True)
    task_cls.build_model = build_model


def install():
    from fairseq.tasks.sentence_prediction import SentencePredictionTask
    from fairseq.tasks.sentence_ranking import SentenceRankingTask

    _wrap_load_dictionary(SentencePredictionTask, 0)  # load_dictionary(cls, filename)
    _wrap_load_dictionary(SentenceRankingTask, 1)  # load_dictionary(cls, args, filename, source=True)
    for task_cls in (SentencePredictionTask, SentenceRankingTask):
        _wrap_build_model(task_cls)
