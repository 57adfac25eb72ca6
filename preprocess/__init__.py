"""Corpus preparation for fairseq data-bins (run the modules here as scripts; see README.md)."""
