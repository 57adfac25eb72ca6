"""The span logits the criterion and predict share: the context's segment in the BERT layout, the
mask over question and padding, and the loss."""
from types import SimpleNamespace

import torch
from torch import nn

from fairseq_unilmv2.criterions.squad import SquadCriterion, span_logits
from fairseq_unilmv2.modules.span_head import SpanHead
from fairseq_unilmv2.squad.dataset import span_mask


class RecordingModel(nn.Module):
    """Stands in for unilmv2: features = the token ids, and it records the segments it got."""

    def __init__(self, second_segment):
        super().__init__()
        self.span_heads = nn.ModuleDict({"h": SpanHead(1)})
        nn.init.ones_(self.span_heads["h"].qa_outputs.weight)
        nn.init.zeros_(self.span_heads["h"].qa_outputs.bias)
        self._second = second_segment

    def second_segment(self):
        return self._second

    def forward(self, tokens, features_only, segments):
        self.segments = segments
        return tokens.unsqueeze(-1).float(), {}


def sample():
    tokens = torch.tensor([[2, 7, 3, 5, 6, 3], [2, 7, 8, 3, 9, 3]])  # [CLS] q [SEP] c [SEP]
    cs, ce = torch.tensor([3, 4]), torch.tensor([5, 5])
    return {"net_input": {"src_tokens": tokens}, "context_start": cs, "context_end": ce,
            "span_mask": span_mask(cs, ce, 6), "start_positions": torch.tensor([4, 0]),
            "end_positions": torch.tensor([4, 0]), "ntokens": 12, "nsentences": 2}


def test_bert_layout_puts_the_context_on_the_second_segment():
    task = SimpleNamespace(layout="bert", cfg=SimpleNamespace(span_head_name="h"))
    model = RecordingModel(second_segment=1)
    start, end = span_logits(model, task, sample())
    assert model.segments.tolist() == [[0, 0, 0, 1, 1, 1], [0, 0, 0, 0, 1, 1]]
    inf = float("-inf")
    assert start.tolist() == [[2, inf, inf, 5, 6, inf], [2, inf, inf, inf, 9, inf]]  # context and position 0
    model = RecordingModel(second_segment=0)  # no trained segment-1 row: all on 0
    span_logits(model, task, sample())
    assert model.segments.abs().sum() == 0
    task.layout = "roberta"  # the model decides (its --pair-segment)
    span_logits(model, task, sample())
    assert model.segments is None


def test_loss_is_the_mean_of_start_and_end_cross_entropy():
    task = SimpleNamespace(layout="bert", cfg=SimpleNamespace(span_head_name="h"))
    criterion = SquadCriterion(task)
    loss, size, log = criterion(RecordingModel(1), sample())
    # window 0: logits 2, 5, 6 at positions 0, 3, 4; target 4. window 1: 2, 9 at 0, 4; target 0
    ce0 = -torch.log_softmax(torch.tensor([2.0, 5.0, 6.0]), 0)[2]
    ce1 = -torch.log_softmax(torch.tensor([2.0, 9.0]), 0)[0]
    assert torch.allclose(loss, ce0 + ce1) and size == 2  # (start + end) / 2, start and end logits equal here
    assert (log["start_correct"], log["end_correct"]) == (1, 1)  # window 1 picks 4, not its target 0
