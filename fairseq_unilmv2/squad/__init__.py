"""SQuAD 1.1 / 2.0 extractive question answering: ``python -m fairseq_unilmv2.squad
{prepare,predict,evaluate}`` (``cli.py``), ``--task squad`` and ``--criterion squad`` for
fairseq-train. See docs/squad.md.

``cli``, ``features``, ``databin``, ``predict`` and ``evaluate`` import neither fairseq nor the rest
of the package at module level (``dataset`` and ``inference`` do), so a console script can load
this folder without the package's fairseq-importing ``__init__``.
"""
