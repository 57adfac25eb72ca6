"""GLUE fine-tuning support for ``--task sentence_prediction`` on the unilmv2 backbone: each
task's files (``tasks``), preparation into fairseq's data-bin layout (``prepare``), GLUE's metrics
(``metrics``), prediction, scoring and submission files (``predict``), the command line (``cli``,
``python -m fairseq_unilmv2.glue``). See docs/glue.md."""
