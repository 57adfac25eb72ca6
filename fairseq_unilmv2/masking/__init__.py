"""Pure, vectorised masking and attention-mask building (no nn.Modules here)."""
