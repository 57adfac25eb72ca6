"""The extractive question-answering head: start and end logits of every token.

BERT's SQuAD head (Devlin et al. 2019 §4.2; transformers' ``*ForQuestionAnswering.qa_outputs``):
one linear map from each final hidden state to two scores, the start and the end logit. Tokens
that cannot begin or end an answer (the question, separators, padding) are masked with -inf, so
the softmax of the loss and the arg-max of prediction range over the allowed ones only.
"""
import torch
from torch import nn


class SpanHead(nn.Module):
    def __init__(self, input_dim: int):
        super().__init__()
        self.qa_outputs = nn.Linear(input_dim, 2)

    def forward(self, features: torch.Tensor, allowed: torch.Tensor):
        """``features`` (B, T, C), ``allowed`` (B, T) bool -> ``(start, end)`` logits, each (B, T),
        in float32, -inf where not ``allowed`` (every row must allow at least one token)."""
        start, end = self.qa_outputs(features).float().unbind(-1)
        blocked = ~allowed
        return start.masked_fill(blocked, float("-inf")), end.masked_fill(blocked, float("-inf"))
