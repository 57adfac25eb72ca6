"""Generation for ``--task unilm_seq2seq`` (placeholder: fairseq's stock generator)."""
from fairseq.tasks import FairseqTask


def build_generator(task, models, args, seq_gen_cls=None, extra_gen_cls_kwargs=None, **kwargs):
    return FairseqTask.build_generator(task, models, args, seq_gen_cls, extra_gen_cls_kwargs, **kwargs)
