"""docs/options.md: generated from the plugin's dataclass configs, complete, and current."""
import pytest
from fairseq import options

import fairseq_unilmv2  # noqa: F401  (registers the plugin's components)
from fairseq_unilmv2 import options_doc

from .helpers import REPO, USER_DIR

PAGE = REPO / "docs" / "options.md"


def test_page_is_current():
    assert PAGE.exists(), "docs/options.md is missing: run python -m fairseq_unilmv2.options_doc"
    assert PAGE.read_text(encoding="utf-8") == options_doc.render(), (
        "docs/options.md is out of date: run python -m fairseq_unilmv2.options_doc and commit it")


def test_page_lists_defaults_as_written_in_the_configs():
    page = PAGE.read_text(encoding="utf-8")
    # the defaults as declared in tasks/pmlm.py, criterions/*.py and models/unilmv2.py
    for row in ("| `--mask-prob` | `0.15` |", "| `--objective` | `'pmlm'` |", "| `--max-ngram` | `6` |",
                "| `--ae-weight` | `1.0` |", "| `--par-weight` | `1.0` |", "| `--label-smoothing` | `0.1` |",
                "| `--target-mask-prob` | `0.5` |", "| `--source-lang`, `-s` | `None` |",
                "| `--seq2seq-mode` | `'pseudo'` |", "| `--mae-decoder-layers` | `4` |",
                "| `--report-accuracy` | off |"):
        assert row in page, row
    # models/unilmv2.py's presets: layers, hidden size, heads (FFN = 4 x hidden)
    assert ("| `--arch` | `--encoder-attention-heads` | `--encoder-embed-dim` | `--encoder-ffn-embed-dim` "
            "| `--encoder-layers` |") in page
    for row in ("| `unilmv2_tiny` | 2 | 128 | 512 | 2 |", "| `unilmv2_small` | 12 | 384 | 1536 | 6 |",
                "| `unilmv2_base` | 12 | 768 | 3072 | 12 |", "| `unilmv2_large` | 16 | 1024 | 4096 | 24 |"):
        assert row in page, row


def _train_flags(task, criterion, arch):
    """Option strings fairseq-train's own parser accepts with these components."""
    parser = options.get_training_parser()
    options.parse_args_and_arch(parser, ["bin", "--user-dir", USER_DIR, "--task", task, "--criterion",
                                         criterion, "--arch", arch], parse_known=True)
    return {s for action in parser._actions for s in action.option_strings}


@pytest.mark.parametrize("task,criterion", [("pmlm", "pmlm"), ("unilm_seq2seq", "unilm_seq2seq")])
def test_every_flag_fairseq_train_gains_is_on_the_page(task, criterion):
    """Independent of the generator: what fairseq-train accepts with the plugin's task, criterion
    and arch, beyond what it accepts with fairseq's own (dummy_lm, cross_entropy, transformer_lm)."""
    page = PAGE.read_text(encoding="utf-8")
    added = _train_flags(task, criterion, "unilmv2_tiny") - _train_flags("dummy_lm", "cross_entropy", "transformer_lm")
    assert {"--mask-prob", "--label-smoothing"} & added  # the comparison sees plugin flags at all
    missing = sorted(flag for flag in added if f"`{flag}`" not in page)
    assert missing == []
