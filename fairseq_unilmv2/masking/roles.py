"""Role codes of the tokens in a packed sequence.

One vocabulary of roles serves PMLM pre-training and UniLM seq2seq fine-tuning, because the
seq2seq pseudo-mask layout is the PMLM layout with one token per factorization step:
source = CONTEXT, target token t = ORIGINAL of step t, pseudo mask t = PSEUDO of step t.
"""

PAD = -1
CONTEXT = 0  # unmasked tokens and [M] (PMLM), or the source (seq2seq)
PSEUDO = 1  # appended [P] pseudo masks
ORIGINAL = 2  # appended original tokens of a span (PMLM), or teacher-forced target (seq2seq)
