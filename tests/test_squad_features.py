"""SQuAD preparation: character offsets -> subword spans for SentencePiece and WordPiece, the
windows of long contexts, the two input layouts, and the refusals of bad input."""
import json
import logging

import numpy as np
import pytest
from fairseq.data import Dictionary

from fairseq_unilmv2 import vocab_ids
from fairseq_unilmv2.squad.cli import main as squad_main
from fairseq_unilmv2.squad.databin import read_split
from fairseq_unilmv2.squad.features import (
    FeatureConfig, OffsetTokenizer, Specials, answer_token_span, encode_examples, example_features, max_context,
    read_squad, windows,
)
from fairseq_unilmv2.tasks.dictionary import load_dictionary

from .helpers import WhitespaceTokenizer

CONTEXT = "Café Müller opened in 1928 near the Tokyo station; its owner, Ana, sold coffee."
ANSWERS = ["Café Müller", "1928", "Tokyo station", "Ana", "coffee"]


def squad_file(path, version="1.1", context=CONTEXT, answers=ANSWERS, question="Who sold coffee near the station?"):
    qas = [{"id": f"q{i}", "question": question, "answers": [{"text": a, "answer_start": context.index(a)}]}
           for i, a in enumerate(answers)]
    path.write_text(json.dumps({"version": version, "data": [{"title": "t", "paragraphs": [
        {"context": context, "qas": qas}]}]}))
    return path


def test_windows_and_max_context_follow_bert():
    assert windows(10, 4, 3) == [(0, 4), (3, 4), (6, 4)]  # each window starts 3 after the last; the last ends at 10
    assert windows(10, 4, 9) == [(0, 4), (4, 4), (8, 2)]  # a stride longer than a window: no subword skipped
    assert windows(3, 4, 2) == [(0, 3)] and windows(0, 4, 2) == [(0, 0)]
    spans = windows(10, 4, 3)
    # subword 4: window 1 (1 left, 2 right) beats window 0 (absent); subword 3: a tie (0 each side
    # in both windows), the first wins; subword 7: window 2 (1 left, 2 right) over window 1 (3 left, 0 right)
    assert [max_context(spans, w, 4) for w in range(3)] == [False, True, False]
    assert [max_context(spans, w, 3) for w in range(3)] == [True, False, False]
    assert [max_context(spans, w, 7) for w in range(3)] == [False, False, True]


def test_answer_token_span_overlap():
    spans = [(0, 4), (5, 11), (11, 12), (13, 13), (13, 17)]  # (13, 13): a subword with no character
    assert answer_token_span(spans, 5, 12) == (1, 2)
    assert answer_token_span(spans, 6, 8) == (1, 1)  # inside a subword: that subword
    assert answer_token_span(spans, 12, 17) == (4, 4)  # the empty subword never starts a span
    assert answer_token_span(spans, 4, 5) is None  # the space between subwords


def _check_offsets(tokenizer, context, answers):
    pieces, spans = tokenizer.encode(context)
    assert len(pieces) == len(spans)
    for a in answers:
        start = context.index(a)
        first, last = answer_token_span(spans, start, start + len(a))
        assert context[spans[first][0]:spans[last][1]] == a, (a, pieces[first:last + 1])


def test_wordpiece_offsets_are_characters_of_the_original_text(tmp_path):
    words = ["caf", "##e", "muller", "opened", "in", "19", "##28", "near", "the", "tokyo", "station", ";", "its",
             "owner", ",", "ana", "sold", "coffee", ".", "[", "]", "sep"]
    (tmp_path / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words) + "\n")
    tok = OffsetTokenizer(wordpiece_vocab=str(tmp_path / "vocab.txt"))
    pieces, spans = tok.encode(CONTEXT)
    assert pieces[:3] == ["caf", "##e", "muller"]  # lowercased and accents stripped, offsets on the original
    _check_offsets(tok, CONTEXT, ANSWERS)
    assert tok.encode("Ana [SEP] sold")[0] == ["ana", "[", "sep", "]", "sold"]  # literal specials are text


def test_sentencepiece_offsets_skip_the_word_boundary_space(tmp_path):
    import sentencepiece as spm

    text = tmp_path / "text.txt"
    text.write_text("\n".join([CONTEXT, "the owner sold coffee in Tokyo", "Müller opened the station"] * 20) + "\n")
    spm.SentencePieceTrainer.train(input=str(text), model_prefix=str(tmp_path / "spm"), vocab_size=40,
                                   minloglevel=2, num_threads=1)
    tok = OffsetTokenizer(spm_model=str(tmp_path / "spm.model"))
    context = "  " + CONTEXT.replace(" near", "\u00a0 near")  # leading spaces, a no-break space
    pieces, spans = tok.encode(context)
    assert all(not context[s:e].startswith((" ", "\u00a0")) for s, e in spans)
    _check_offsets(tok, context, ANSWERS)


def _ids_dictionary(words):
    d = Dictionary()
    for w in words:
        d.add_symbol(w)
    return d


def test_windows_carry_the_answer_where_they_hold_it_all():
    words = [f"t{i}" for i in range(12)]
    context = " ".join(words)
    d = _ids_dictionary(words + ["q"])
    ex = read_squad_examples(context, "t5 t6", "q q q")
    cfg = FeatureConfig(version="1.1", max_seq_length=10, doc_stride=2, max_query_length=2)
    enc = encode_examples(ex, WhitespaceTokenizer(), d, cfg, "mem.json")
    # question cut to 2; room = 10 - 2 - 4 = 4: windows at 0, 2, 4, 6, 8
    assert [f.doc_offset for f in enc.features] == [0, 2, 4, 6, 8]
    for f in enc.features:
        held = f.doc_offset <= 5 and 6 < f.doc_offset + 4
        toks = list(f.tokens)
        assert toks[:5] == [d.bos(), d.index("q"), d.index("q"), d.eos(), d.eos()]  # <s> q </s></s>
        assert toks[-1] == d.eos() and f.context_start == 5 and f.context_end == len(toks) - 1
        if held:
            assert [d[t] for t in toks[f.start:f.end + 1]] == ["t5", "t6"]
        else:
            assert (f.start, f.end) == (0, 0)
    assert sum(f.start > 0 for f in enc.features) == 1  # only the window at 4 holds t5 and t6


def read_squad_examples(context, answer, question):
    from fairseq_unilmv2.squad.features import Example

    return [Example("x", question, context, [(answer, context.index(answer))], False)]


def test_bert_layout_for_converted_vocabulary(tmp_path):
    symbols = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "?"]
    vocab_ids.write(str(tmp_path / "dict.txt"), symbols,
                    {"bos": "[CLS]", "pad": "[PAD]", "eos": "[SEP]", "unk": "[UNK]", "mask": "[MASK]"})
    d = load_dictionary(str(tmp_path / "dict.txt"))
    [f] = example_features(0, [7], [5, 6], (1, 1), Specials(d.bos(), d.eos(), "bert"), FeatureConfig())
    assert list(f.tokens) == [2, 7, 3, 5, 6, 3]  # [CLS] ? [SEP] hello world [SEP]
    assert (f.context_start, f.context_end, f.start, f.end) == (3, 5, 4, 4)


def test_prepare_wordpiece_end_to_end_and_long_questions(tmp_path, caplog):
    words = ["who", "sold", "coffee", "near", "the", "station", "?", "ana", "caf", "##e", "muller", "opened", "in",
             "1928", "tokyo", ";", "its", "owner", ","]
    (tmp_path / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words) + "\n")
    (tmp_path / "dict.txt").write_text("".join(f"{w} 1\n" for w in words))
    squad_file(tmp_path / "train.json")
    with caplog.at_level(logging.WARNING):
        assert squad_main(["prepare", "--train", str(tmp_path / "train.json"), "--dict", str(tmp_path / "dict.txt"),
                           "--wordpiece-vocab", str(tmp_path / "vocab.txt"), "--max-seq-length", "16",
                           "--doc-stride", "4", "--max-query-length", "3", "--destdir", str(tmp_path / "bin")]) == 0
    assert "5 questions are longer than --max-query-length 3 subwords and were cut" in caplog.text
    split = read_split(str(tmp_path / "bin"), "train")
    d = load_dictionary(str(tmp_path / "bin" / "dict.txt"))
    found = {}
    for i in range(len(split)):
        a, tokens = split.arrays, split.tokens(i)
        assert len(tokens) <= 16 and list(tokens[1:4]) == [d.index("who"), d.index("sold"), d.index("coffee")]
        if a["start"][i]:
            j = a["example"][i]
            spans = split.example_spans(j)
            first = a["doc_offset"][i] + a["start"][i] - a["context_start"][i]
            last = a["doc_offset"][i] + a["end"][i] - a["context_start"][i]
            found[int(j)] = CONTEXT[spans[first][0]:spans[last][1]]
    assert found == dict(enumerate(ANSWERS))


@pytest.mark.parametrize("fault, message", [
    ("offset", "train.json: question q1: answer '1928' at answer_start 23 does not match the context there "
               "('928 '; the text occurs at character 22): correct answer_start or the answer text"),
    ("impossible", "question q0 is unanswerable (is_impossible), which SQuAD 1.1 has not: prepare this file with "
                   "--version 2.0"),
    ("no_answer", "question q0 has no answer and is not marked is_impossible"),
])
def test_prepare_refuses_bad_answers_and_writes_nothing(tmp_path, capsys, fault, message):
    (tmp_path / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nana\n")
    (tmp_path / "dict.txt").write_text("ana 1\n")
    data = json.loads(squad_file(tmp_path / "train.json").read_text())
    qas = data["data"][0]["paragraphs"][0]["qas"]
    if fault == "offset":
        qas[1]["answers"][0]["answer_start"] += 1
    elif fault == "impossible":
        qas[0].update(answers=[], is_impossible=True)
    else:
        qas[0]["answers"] = []
    (tmp_path / "train.json").write_text(json.dumps(data))
    assert squad_main(["prepare", "--train", str(tmp_path / "train.json"), "--valid", str(tmp_path / "train.json"),
                       "--dict", str(tmp_path / "dict.txt"), "--wordpiece-vocab", str(tmp_path / "vocab.txt"),
                       "--destdir", str(tmp_path / "bin")]) == 2
    err = capsys.readouterr().err
    assert message in err and str(tmp_path / "train.json") in err
    assert not (tmp_path / "bin").exists()


def test_read_squad_v2_keeps_unanswerable(tmp_path):
    path = squad_file(tmp_path / "dev.json", version="v2.0")
    data = json.loads(path.read_text())
    data["data"][0]["paragraphs"][0]["qas"][0].update(answers=[], is_impossible=True,
                                                      plausible_answers=[{"text": "x", "answer_start": 999}])
    path.write_text(json.dumps(data))
    examples, version = read_squad(str(path))
    assert version == "2.0" and examples[0].is_impossible and examples[0].answers == []
    assert np.all([not e.is_impossible for e in examples[1:]])
