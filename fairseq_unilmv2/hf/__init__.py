"""Conversion between HuggingFace checkpoints and unilmv2 fairseq checkpoints (unilmv2-convert-hf,
unilmv2-export-hf)."""
