"""SQuAD JSON -> model inputs: questions and contexts as subword ids, windows over long contexts,
and answer character offsets mapped to subword spans.

The rules are BERT's (google-research/bert ``run_squad.py``, Devlin et al. 2019 §4.2-4.3), which
MPNet's ``squad2`` task inherits through transformers' ``squad_convert_examples_to_features``:

- a question longer than ``max_query_length`` subwords keeps its first ``max_query_length``;
- the context is cut into windows of at most ``max_seq_length - len(question) - specials``
  subwords, each starting ``doc_stride`` subwords after the previous one;
- a training window that does not hold the whole answer, and every window of an unanswerable
  (SQuAD 2.0) question, points its start and end at position 0 (``[CLS]`` / ``<s>``);
- a subword seen by several windows is scored at prediction time only in the window where it
  has the most context on both sides (``max_context``).

Subword spans come from character offsets (the tokenizers' offset mappings, as transformers'
fast-tokenizer ``run_qa.py`` does): a subword belongs to the answer when its characters overlap
the answer's. Predicted text is then the context's own characters between the first and the
last subword of the span, so no de-tokenization is needed.

Input layouts (``LAYOUTS``): ``bert`` ``[CLS] question [SEP] context [SEP]`` (context on segment
1) for the vocabulary-id dictionaries of converted BERT/UniLM/MiniLM checkpoints, whose ``bos`` is
``[CLS]``; ``roberta`` ``<s> question </s></s> context </s>`` for every other dictionary (ours,
and converted MPNet's, as RoBERTa and MPNet pair sentences).
"""
import json
import logging
import os
from dataclasses import dataclass, field
from typing import List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

logger = logging.getLogger(__name__)

VERSIONS = ("1.1", "2.0")
LAYOUTS = ("bert", "roberta")


class SquadInputError(ValueError):
    """Bad input: the message names the file and what to do."""


@dataclass
class FeatureConfig:
    """How examples become windows. Defaults: BERT's ``run_squad.py`` (also transformers' and
    MPNet's ``squad2``, except MPNet's ``max_seq_length`` 512)."""

    version: str = field(default="1.1", metadata={"help": "SQuAD version: 1.1, or 2.0 (unanswerable questions)"})
    max_seq_length: int = field(
        default=384, metadata={"help": "subwords per window, specials included (at most the model's --max-positions)"})
    doc_stride: int = field(
        default=128, metadata={"help": "subwords between the starts of consecutive windows of a long context"})
    max_query_length: int = field(
        default=64, metadata={"help": "question subwords kept; longer questions are cut (with a warning)"})

    def check(self):
        if self.version not in VERSIONS:
            raise SquadInputError(f"--version {self.version}: choose one of {', '.join(VERSIONS)}")
        if self.doc_stride < 1 or self.max_query_length < 1:
            raise SquadInputError("--doc-stride and --max-query-length must be at least 1")
        if self.max_seq_length - self.max_query_length - 4 < 1:
            raise SquadInputError(
                f"--max-seq-length {self.max_seq_length} leaves no room for the context after a question of "
                f"--max-query-length {self.max_query_length} and 4 special tokens: raise --max-seq-length or "
                f"lower --max-query-length")


class Example(NamedTuple):
    qid: str
    question: str
    context: str
    answers: List[Tuple[str, int]]  # (text, answer_start in characters); [] for unanswerable
    is_impossible: bool


def read_squad(path: str, version: Optional[str] = None) -> Tuple[List[Example], str]:
    """The examples of an official SQuAD JSON file, and its version (``--version``, else the
    file's own ``version`` field: "1.1" or "v2.0").

    Every answer is checked: ``context[answer_start:answer_start + len(text)] == text``.

    Raises:
        SquadInputError: naming the file (and question id) for a file that is not SQuAD JSON, an
            unknown version, an answer whose text does not match its offsets, an answerable
            question without answers, or an unanswerable one in a SQuAD 1.1 file.
    """
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SquadInputError(f"{path}: cannot read it as SQuAD JSON ({e})") from None
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise SquadInputError(f"{path}: not a SQuAD file (expected an object with a 'data' list of articles)")
    declared = str(data.get("version", "")).lstrip("v")
    if version is None:
        if declared not in VERSIONS:
            raise SquadInputError(f"{path}: its 'version' field is {data.get('version')!r}: pass --version 1.1 or 2.0")
        version = declared
    elif declared and declared != version:
        logger.warning("%s says version %s, read as --version %s", path, data.get("version"), version)
    examples, bad = [], []
    try:
        for article in data["data"]:
            for paragraph in article["paragraphs"]:
                context = paragraph["context"]
                for qa in paragraph["qas"]:
                    qid, impossible = str(qa["id"]), bool(qa.get("is_impossible", False))
                    answers = [] if impossible else [(a["text"], int(a["answer_start"])) for a in qa["answers"]]
                    if impossible and version == "1.1":
                        raise SquadInputError(
                            f"{path}: question {qid} is unanswerable (is_impossible), which SQuAD 1.1 has not: "
                            f"prepare this file with --version 2.0")
                    if not impossible and not answers:
                        raise SquadInputError(
                            f"{path}: question {qid} has no answer and is not marked is_impossible: give it an "
                            f"answer, or mark it is_impossible (SQuAD 2.0)")
                    for text, start in answers:
                        if context[start:start + len(text)] != text or not text:
                            bad.append((qid, text, start, context))
                    examples.append(Example(qid, qa["question"], context, answers, impossible))
    except (KeyError, TypeError, ValueError) as e:
        if isinstance(e, SquadInputError):
            raise
        raise SquadInputError(f"{path}: not in SQuAD's layout (data/paragraphs/qas/answers): {e!r}") from None
    if bad:
        qid, text, start, context = bad[0]
        found = context.find(text) if text else -1
        where = f"the text occurs at character {found}" if found >= 0 else "the text does not occur in the context"
        more = f" ({len(bad) - 1} more answers like it)" if len(bad) > 1 else ""
        raise SquadInputError(
            f"{path}: question {qid}: answer {text!r} at answer_start {start} does not match the context there "
            f"({context[start:start + len(text)]!r}; {where}){more}: correct answer_start or the answer text")
    return examples, version


class OffsetTokenizer:
    """A subword tokenizer that also returns each subword's character span in the input text.

    ``encode(text)`` -> ``(pieces, spans)``: subword strings (dictionary symbols) and
    ``[start, end)`` character offsets into ``text``, leading whitespace excluded (a
    SentencePiece ``▁`` covers the space before a word; a subword of whitespace alone, or one
    that normalisation created, such as the ``f`` of a ``ﬁ`` ligature, spans no character).
    """

    def __init__(self, spm_model: Optional[str] = None, wordpiece_vocab: Optional[str] = None, cased: bool = False):
        if (spm_model is None) == (wordpiece_vocab is None):
            raise SquadInputError("pass one of --spm-model and --wordpiece-vocab: the tokenizer the dictionary was built with")
        self.spec = {"spm_model": spm_model, "wordpiece_vocab": wordpiece_vocab, "cased": cased}
        path = spm_model or wordpiece_vocab
        if not os.path.isfile(path):
            raise SquadInputError(f"{path}: no such file")
        if spm_model is not None:
            import sentencepiece as spm

            try:
                self.sp = spm.SentencePieceProcessor(model_file=spm_model, num_threads=1)
            except (OSError, RuntimeError) as e:
                raise SquadInputError(f"{spm_model}: not a SentencePiece model ({e})") from None
            self.tok = None
        else:
            # preprocess/subword.py's WordPieceTokenizer pipeline (BertWordPieceTokenizer's normaliser,
            # pre-tokenizer and model), without its special tokens, so "[SEP]" written in a text is
            # text ("[", "sep", "]") there and here alike
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

            try:
                self.tok = Tokenizer(models.WordPiece.from_file(wordpiece_vocab, unk_token="[UNK]"))
            except Exception as e:  # noqa: BLE001  (tokenizers raises its own exception type)
                raise SquadInputError(f"{wordpiece_vocab}: not a WordPiece vocab.txt ({e})") from None
            self.tok.normalizer = normalizers.BertNormalizer(
                clean_text=True, handle_chinese_chars=True, strip_accents=False if cased else None, lowercase=not cased)
            self.tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
            self.sp = None

    def encode(self, text: str) -> Tuple[List[str], List[Tuple[int, int]]]:
        if self.sp is not None:
            out = self.sp.EncodeAsOffsetMapping(text)
            pieces, spans = out["pieces"], out["offsets"]
        else:
            enc = self.tok.encode(text, add_special_tokens=False)
            pieces, spans = enc.tokens, enc.offsets
        return list(pieces), [_skip_space(text, s, e) for s, e in spans]


def _skip_space(text, start, end):
    while start < end and text[start].isspace():
        start += 1
    return start, end


def layout_of(dictionary) -> str:
    """``bert`` for a dictionary whose sentence start is ``[CLS]`` (converted BERT-style
    checkpoints), ``roberta`` otherwise (see the module docstring)."""
    return "bert" if getattr(dictionary, "bos_word", None) == "[CLS]" else "roberta"


def answer_token_span(spans: Sequence[Tuple[int, int]], start: int, end: int) -> Optional[Tuple[int, int]]:
    """``(first, last)`` subword indices (inclusive) whose character spans overlap ``[start, end)``,
    or None when none does (e.g. an answer of characters the tokenizer drops)."""
    hits = [i for i, (s, e) in enumerate(spans) if s < e and s < end and e > start]
    return (hits[0], hits[-1]) if hits else None


def windows(n_tokens: int, room: int, stride: int) -> List[Tuple[int, int]]:
    """``(offset, length)`` of the windows over ``n_tokens`` context subwords, at most ``room``
    each, each starting ``min(length, stride)`` after the previous one, the last reaching the
    end (BERT ``run_squad.py``). An empty context gives one empty window."""
    out, offset = [], 0
    while True:
        length = min(n_tokens - offset, room)
        out.append((offset, length))
        if offset + length >= n_tokens:
            return out
        offset += min(length, stride)


def max_context(spans: Sequence[Tuple[int, int]], index: int, position: int) -> bool:
    """Whether context subword ``position`` has its most context in window ``spans[index]``:
    the window maximising ``min(left, right) + 0.01 * length`` (BERT ``_check_is_max_context``)."""
    best, best_score = None, None
    for i, (offset, length) in enumerate(spans):
        if not offset <= position < offset + length:
            continue
        score = min(position - offset, offset + length - 1 - position) + 0.01 * length
        if best_score is None or score > best_score:
            best, best_score = i, score
    return best == index


class Feature(NamedTuple):
    """One window: ``tokens`` (int32, the model input), context subwords at token positions
    ``[context_start, context_end)`` = context subwords ``[doc_offset, doc_offset + length)`` of
    example ``example``; ``start``/``end``: target token positions (0: no answer in this window);
    ``max_context`` (bool, one per context subword of the window)."""

    tokens: np.ndarray
    context_start: int
    context_end: int
    doc_offset: int
    start: int
    end: int
    example: int
    max_context: np.ndarray


@dataclass
class Specials:
    bos: int
    eos: int
    layout: str  # "bert" or "roberta"

    def wrap(self, question: List[int], context: List[int]) -> Tuple[List[int], int]:
        """The input ids and the position of the first context subword."""
        middle = [self.eos] if self.layout == "bert" else [self.eos, self.eos]
        head = [self.bos] + question + middle
        return head + context + [self.eos], len(head)

    @property
    def count(self) -> int:
        return 3 if self.layout == "bert" else 4


def example_features(index: int, question: List[int], context: List[int], answer: Optional[Tuple[int, int]],
                     specials: Specials, cfg: FeatureConfig) -> List[Feature]:
    """The windows of one example. ``question``/``context``: subword ids (question already cut);
    ``answer``: ``(first, last)`` context-subword indices of the training answer, None for an
    unanswerable question."""
    room = cfg.max_seq_length - len(question) - specials.count
    spans = windows(len(context), room, cfg.doc_stride)
    out = []
    for w, (offset, length) in enumerate(spans):
        tokens, cstart = specials.wrap(question, context[offset:offset + length])
        start = end = 0
        if answer is not None and offset <= answer[0] and answer[1] < offset + length:
            start, end = cstart + answer[0] - offset, cstart + answer[1] - offset
        best = np.array([max_context(spans, w, offset + i) for i in range(length)], dtype=bool)
        out.append(Feature(np.asarray(tokens, dtype=np.int32), cstart, cstart + length, offset, start, end, index, best))
    return out


class Encoded(NamedTuple):
    features: List[Feature]
    spans: List[List[Tuple[int, int]]]  # per example: the character span of each context subword
    unknown: int  # subwords the dictionary maps to <unk>
    total: int


def encode_examples(examples: Sequence[Example], tokenizer: OffsetTokenizer, dictionary, cfg: FeatureConfig,
                    path: str) -> Encoded:
    """Every window of every example. The training answer of an answerable question is its first
    (SQuAD 1.1 train has one per question; BERT trains on the first).

    Raises:
        SquadInputError: naming ``path`` and the question, for an answer that covers no subword.
    """
    specials = Specials(dictionary.bos(), dictionary.eos(), layout_of(dictionary))
    features, all_spans, cut, unknown, total = [], [], [], 0, 0
    contexts = {}  # SQuAD asks several questions about each paragraph: tokenize it once
    for i, ex in enumerate(examples):
        if ex.context not in contexts:
            pieces, spans = tokenizer.encode(ex.context)
            contexts[ex.context] = ([dictionary.index(p) for p in pieces], spans)
        context, spans = contexts[ex.context]
        question = [dictionary.index(p) for p in tokenizer.encode(ex.question)[0]]
        unknown += sum(t == dictionary.unk() for t in question + context)
        total += len(question) + len(context)
        if len(question) > cfg.max_query_length:
            cut.append(ex.qid)
            question = question[:cfg.max_query_length]
        answer = None
        if ex.answers:
            text, start = ex.answers[0]
            answer = answer_token_span(spans, start, start + len(text))
            if answer is None:
                raise SquadInputError(
                    f"{path}: question {ex.qid}: answer {text!r} at answer_start {start} covers no subword of the "
                    f"context (the tokenizer drops its characters): correct the answer, or remove the question")
        features.extend(example_features(i, question, context, answer, specials, cfg))
        all_spans.append(spans)
    if cut:
        logger.warning("%s: %d questions are longer than --max-query-length %d subwords and were cut (e.g. %s)",
                       path, len(cut), cfg.max_query_length, ", ".join(cut[:3]))
    return Encoded(features, all_spans, unknown, total)
