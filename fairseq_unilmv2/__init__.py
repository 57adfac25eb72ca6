"""fairseq-unilmv2: UniLMv2 (PMLM) pre-training, seq2seq fine-tuning and generation for fairseq.

Importing the package registers every task, criterion, model and architecture (fairseq does
not auto-import a user dir's ``criterions/``) and makes fairseq's checkpoint loader work
under torch >= 2.6 without turning ``weights_only`` off (see ``checkpoint_safety``), and
``--bf16`` train without a TPU (see ``bf16``), and lets fairseq's stock ``sentence_prediction`` /
``sentence_ranking`` read converted vocabularies (see ``tasks/stock``).
"""
from . import bf16, checkpoint_safety

checkpoint_safety.install()
bf16.install()

from .criterions import pmlm as _pmlm_criterion  # noqa: E402,F401
from .criterions import squad as _squad_criterion  # noqa: E402,F401
from .criterions import unilm_seq2seq as _seq2seq_criterion  # noqa: E402,F401
from .models import unilmv2 as _unilmv2_model  # noqa: E402,F401
from .optim import unilm_adam as _unilm_adam  # noqa: E402,F401
from .tasks import pmlm as _pmlm_task  # noqa: E402,F401
from .tasks import squad as _squad_task  # noqa: E402,F401
from .tasks import unilm_seq2seq as _seq2seq_task  # noqa: E402,F401
from .tasks import stock as _stock_tasks  # noqa: E402

_stock_tasks.install()
