"""Role codes of the tokens in a packed sequence; each objective's attention rule reads them.

PMLM and UniLM seq2seq share CONTEXT/PSEUDO/ORIGINAL, because the seq2seq pseudo-mask layout is
the PMLM layout with one token per factorization step: source = CONTEXT, target token t =
ORIGINAL of step t, pseudo mask t = PSEUDO of step t. MPNet's predicted tokens are ORIGINAL
(content stream), followed by MASK copies (content stream) and QUERY copies (query stream).
MAE-LM's removed tokens are MASK.
"""

PAD = -1
CONTEXT = 0  # unmasked tokens and [M] (PMLM, MLM), the source (seq2seq), non-predicted (MPNet)
PSEUDO = 1  # appended [P] pseudo masks (PMLM, seq2seq)
ORIGINAL = 2  # original tokens of a span (PMLM), teacher-forced target (seq2seq), predicted (MPNet)
MASK = 3  # MPNet content-stream [M]; MAE-LM [MASK] that the encoder never sees
QUERY = 4  # MPNet query stream: the token that makes the prediction
