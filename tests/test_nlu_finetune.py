"""fairseq's stock NLU tasks on the unilmv2 backbone (RoBERTa's contract): sentence_prediction
(pairs, regression) and sentence_ranking through fairseq-train, from random weights and from a
--task pmlm checkpoint; the hub's predict; segments, head position and head upgrades as units."""
import random
import shutil

import pytest
import torch

from fairseq_unilmv2.models.heads import pair_segment_ids

from .helpers import PRETRAIN, USER_DIR, check_cli

WORDS = [f"w{i}" for i in range(20) if i != 3]


def _sentence(rng, has_marker, length=6):
    s = [rng.choice(WORDS) for _ in range(length)]
    if has_marker:
        s[rng.randrange(length)] = "w3"
    return " ".join(s)


def _write_pairs(d, n_train=480, n_valid=100):
    """Label "pos" iff BOTH sentences hold w3 (each does 70% of the time): one sentence alone
    predicts at most ~79%, the majority class 51%."""
    rng = random.Random(0)
    for split, n in (("train", n_train), ("valid", n_valid)):
        rows = []
        for _ in range(n):
            x, y = rng.random() < 0.7, rng.random() < 0.7
            rows.append((_sentence(rng, x), _sentence(rng, y), "pos" if x and y else "neg", str(float(x + y))))
        for i, name in enumerate(("input0", "input1", "label", "score")):
            (d / f"{split}.{name}").write_text("".join(r[i] + "\n" for r in rows))


def _binarize(d, out, inputs, label=None):
    for i, name in enumerate(inputs):
        extra = ["--srcdict", str(out / "input0" / "dict.txt")] if i else []
        check_cli(["fairseq-preprocess", "--only-source", "--trainpref", f"train.{name}", "--validpref",
                   f"valid.{name}", "--destdir", str(out / f"input{i}"), "--workers", "1", *extra], cwd=d)
    if label:
        check_cli(["fairseq-preprocess", "--only-source", "--trainpref", f"train.{label}", "--validpref",
                   f"valid.{label}", "--destdir", str(out / "label"), "--workers", "1"], cwd=d)


COMMON = ["--user-dir", USER_DIR, "--arch", "unilmv2_tiny", "--max-positions", "64", "--batch-size", "16",
          "--optimizer", "adam", "--lr", "1e-3", "--cpu", "--num-workers", "0", "--dropout", "0",
          "--attention-dropout", "0", "--no-epoch-checkpoints", "--log-format", "simple", "--seed", "3"]
PREDICTION = ["--task", "sentence_prediction", "--criterion", "sentence_prediction", "--init-token", "0",
              "--separator-token", "2"]


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    d = tmp_path_factory.mktemp("nlu")
    _write_pairs(d)
    _binarize(d, d / "bin", ["input0", "input1"], "label")
    return d


def _valid_accuracy(log):
    rows = [line for line in log.splitlines() if "valid on 'valid' subset" in line]
    return float(rows[-1].split("| accuracy ")[1].split()[0])


def _hub(d, save_dir, data="bin"):
    from fairseq_unilmv2.models.unilmv2 import UniLMv2Model

    hub = UniLMv2Model.from_pretrained(str(d / save_dir), "checkpoint_last.pt", str(d / data))
    return hub.eval()


def _hub_accuracy(hub, d, head="sentence_classification_head"):
    src, labels = hub.task.source_dictionary, hub.task.label_dictionary
    correct = 0
    rows = list(zip((d / "valid.input0").read_text().splitlines(), (d / "valid.input1").read_text().splitlines(),
                    (d / "valid.label").read_text().splitlines()))
    for a, b, label in rows:
        tokens = torch.cat([torch.tensor([src.bos()]), src.encode_line(a, add_if_not_exist=False).long(),
                            torch.tensor([src.eos()]), src.encode_line(b, add_if_not_exist=False).long()])
        with torch.no_grad():
            guess = hub.predict(head, tokens).argmax().item()
        correct += labels[guess + labels.nspecial] == label
    return 100 * correct / len(rows)


def test_pair_classification_from_random_weights_trains_and_reloads(pairs):
    log = check_cli(["fairseq-train", "bin", *COMMON, *PREDICTION, "--num-classes", "2", "--max-update", "80",
                     "--save-dir", "ck-random"], cwd=pairs)
    assert _valid_accuracy(log) >= 90, log[-2000:]  # both sentences are needed above ~79%
    hub = _hub(pairs, "ck-random")
    assert str(hub.model.cfg.pair_segment) == "1"  # random start: BERT's token types
    assert _hub_accuracy(hub, pairs) >= 90
    with pytest.raises(KeyError, match="no classification head 'nope' .*sentence_classification_head"):
        hub.predict("nope", torch.tensor([0, 5, 2]))


def test_pair_classification_from_a_pmlm_checkpoint(pairs, monkeypatch):
    pre = [a if a != "bin" else "bin/input0" for a in PRETRAIN]
    pre[pre.index("--save-dir") + 1] = "ck-pre"
    check_cli([*pre, "--max-update", "5", "--tokens-per-sample", "64", "--max-positions", "64",
               "--valid-subset", "valid"], cwd=pairs)
    log = check_cli(["fairseq-train", "bin", *COMMON, *PREDICTION, "--num-classes", "2", "--max-update", "80",
                     "--finetune-from-model", "ck-pre/checkpoint_last.pt", "--save-dir", "ck-from-pmlm"], cwd=pairs)
    assert "--pair-segment auto: the second sentence of a pair is on segment 0" in log
    assert _valid_accuracy(log) >= 90, log[-2000:]
    assert str(_hub(pairs, "ck-from-pmlm").model.cfg.pair_segment) == "0"
    # Loading a fine-tuned model runs none of fairseq-train's start checks: here its training
    # --save-dir (relative to where it ran) now holds another task's checkpoint_last.pt
    (pairs / "moved").mkdir()
    shutil.copy(pairs / "ck-from-pmlm/checkpoint_last.pt", pairs / "moved/checkpoint_last.pt")
    shutil.copy(pairs / "ck-pre/checkpoint_last.pt", pairs / "ck-from-pmlm/checkpoint_last.pt")
    monkeypatch.chdir(pairs)
    assert _hub_accuracy(_hub(pairs, "moved"), pairs) >= 85  # loads and predicts (majority: 51)


def test_regression_target(pairs):
    check_cli(["fairseq-preprocess", "--only-source", "--trainpref", "train.input0", "--validpref", "valid.input0",
               "--destdir", "reg/input0", "--workers", "1"], cwd=pairs)
    check_cli(["fairseq-preprocess", "--only-source", "--srcdict", "reg/input0/dict.txt", "--trainpref",
               "train.input1", "--validpref", "valid.input1", "--destdir", "reg/input1", "--workers", "1"], cwd=pairs)
    (pairs / "reg/label").mkdir()
    for split in ("train", "valid"):  # fairseq reads regression targets as text: label/SPLIT.label
        (pairs / f"reg/label/{split}.label").write_text((pairs / f"{split}.score").read_text())
    check_cli(["fairseq-train", "reg", *COMMON, *PREDICTION, "--num-classes", "1", "--regression-target",
               "--best-checkpoint-metric", "loss", "--max-update", "80", "--save-dir", "ck-reg"], cwd=pairs)
    hub = _hub(pairs, "ck-reg", "reg")
    src = hub.task.source_dictionary
    guesses, golds = [], []
    for a, b, score in zip(*((pairs / f"valid.{n}").read_text().splitlines() for n in ("input0", "input1", "score"))):
        tokens = torch.cat([torch.tensor([src.bos()]), src.encode_line(a, add_if_not_exist=False).long(),
                            torch.tensor([src.eos()]), src.encode_line(b, add_if_not_exist=False).long()])
        with torch.no_grad():
            guesses.append(hub.predict("sentence_classification_head", tokens, return_logits=True).item())
        golds.append(float(score))
    corr = torch.corrcoef(torch.tensor([guesses, golds]))[0, 1].item()
    assert corr > 0.9, corr  # the target counts w3 over both sentences


def test_sentence_ranking(tmp_path):
    """Two options after a shared context; the right one holds the word the context starts with."""
    rng = random.Random(1)
    for split, n in (("train", 480), ("valid", 100)):
        cols = {"input0": [], "input1": [], "input2": [], "label": []}
        for _ in range(n):
            key = rng.choice(WORDS[:5])
            right = _sentence(rng, False).split()
            right[rng.randrange(6)] = key
            wrong = [w for w in _sentence(rng, False).split() if w != key] or ["w19"]
            answer = rng.randrange(2)
            options = [" ".join(wrong), " ".join(right)] if answer else [" ".join(right), " ".join(wrong)]
            cols["input0"].append(key + " " + _sentence(rng, False))
            cols["input1"].append(options[0])
            cols["input2"].append(options[1])
            cols["label"].append(str(answer))
        for name, lines in cols.items():
            (tmp_path / f"{split}.{name}").write_text("".join(x + "\n" for x in lines))
    _binarize(tmp_path, tmp_path / "bin", ["input0", "input1", "input2"])
    (tmp_path / "bin/label").mkdir()
    for split in ("train", "valid"):
        (tmp_path / f"bin/label/{split}.label").write_text((tmp_path / f"{split}.label").read_text())
    train = ["fairseq-train", "bin", *COMMON, "--task", "sentence_ranking", "--criterion", "sentence_ranking",
             "--num-classes", "2", "--init-token", "0", "--separator-token", "2", "--save-dir", "ck"]
    log = check_cli([*train, "--max-update", "120"], cwd=tmp_path)
    assert _valid_accuracy(log) >= 70, log[-2000:]  # chance: 50
    # its checkpoints keep a legacy argparse task config: rerun, resume and reload read it
    assert "nothing to do" in check_cli([*train, "--max-update", "120"], cwd=tmp_path)
    assert "num_updates: 125" in check_cli([*train, "--max-update", "125"], cwd=tmp_path)
    from fairseq_unilmv2.models.unilmv2 import UniLMv2Model

    hub = UniLMv2Model.from_pretrained(str(tmp_path / "ck"), "checkpoint_last.pt", str(tmp_path / "bin")).eval()
    assert hub.predict("sentence_classification_head", torch.tensor([0, 5, 6, 2]), return_logits=True).shape == (1, 1)


# ---- units -------------------------------------------------------------------------------------

def test_pair_segment_ids_follow_bert_and_fairseq_layouts():
    cls_, sep, pad = 101, 102, 0  # BERT: [CLS] a a [SEP] b [SEP] [PAD]
    bert = torch.tensor([[cls_, 5, 6, sep, 7, sep, pad]])
    assert pair_segment_ids(bert, sep, 1).tolist() == [[0, 0, 0, 0, 1, 1, 1]]
    fairseq = torch.tensor([[0, 5, 2, 2, 7, 2]])  # <s> a </s></s> b </s>
    assert pair_segment_ids(fairseq, 2, 1).tolist() == [[0, 0, 0, 1, 1, 1]]
    single = torch.tensor([[0, 5, 6, 2]])
    assert pair_segment_ids(single, 2, 1).tolist() == [[0, 0, 0, 0]]
    assert pair_segment_ids(fairseq, 2, 0).tolist() == [[0] * 6]


def _tiny_model(pair_segment="1"):
    import argparse

    from fairseq.data import Dictionary

    from fairseq_unilmv2.models.unilmv2 import UniLMv2Model, unilmv2_tiny

    args = argparse.Namespace(pair_segment=pair_segment, dropout=0.0, attention_dropout=0.0)
    unilmv2_tiny(args)
    d = Dictionary()
    for i in range(20):
        d.add_symbol(f"w{i}")
    torch.manual_seed(0)
    return UniLMv2Model(args, d).eval(), d


def test_features_put_the_second_sentence_on_its_segment_and_the_head_reads_the_first_token():
    model, d = _tiny_model("1")
    tokens = torch.tensor([[d.bos(), 8, 9, d.eos(), d.eos(), 10, 11, d.eos()]])
    with torch.no_grad():
        features, _ = model(tokens, features_only=True)
        expected = model.extract_features(tokens, segments=torch.tensor([[0, 0, 0, 0, 1, 1, 1, 1]]))
        flat = model.extract_features(tokens, segments=torch.zeros_like(tokens))
        assert torch.allclose(features, expected, atol=1e-6)
        assert not torch.allclose(features, flat, atol=1e-3)  # segment 1 is really used
        model.register_classification_head("h", num_classes=3)
        logits, _ = model(tokens, classification_head_name="h")
        head = model.classification_heads["h"]
        assert torch.allclose(logits, head.out_proj(torch.tanh(head.dense(features[:, 0]))), atol=1e-6)
        _, extra = model(tokens, features_only=True, return_all_hiddens=True)
    assert len(extra["inner_states"]) == model.cfg.encoder_layers + 1
    assert torch.allclose(extra["inner_states"][-1].transpose(0, 1), features, atol=1e-6)
    model0, _ = _tiny_model("0")
    with torch.no_grad():
        f0, _ = model0(tokens, features_only=True)
        assert torch.allclose(f0, model0.extract_features(tokens, segments=torch.zeros_like(tokens)), atol=1e-6)


def test_heads_are_added_kept_or_dropped_on_load_as_roberta_does():
    model, _ = _tiny_model()
    pretrained = {k: v.clone() for k, v in model.state_dict().items()}  # no head yet
    model.register_classification_head("new", num_classes=2)
    state = dict(pretrained)
    model.upgrade_state_dict_named(state, "")
    model.load_state_dict(state, strict=True)  # the new head's initial weights were copied in

    trained = {k: v.clone() for k, v in model.state_dict().items()}
    other, _ = _tiny_model()
    other.register_classification_head("new", num_classes=5)  # other shape: the checkpoint's is dropped
    state = dict(trained)
    other.upgrade_state_dict_named(state, "")
    other.load_state_dict(state, strict=True)
    assert state["classification_heads.new.out_proj.weight"].shape[0] == 5

    plain, _ = _tiny_model()  # not registered, not asked to load: dropped
    state = dict(trained)
    plain.upgrade_state_dict_named(state, "")
    assert not any(k.startswith("classification_heads.") for k in state)

    loader, _ = _tiny_model()
    loader.cfg.load_checkpoint_heads = True
    state = dict(trained)
    loader.upgrade_state_dict_named(state, "")
    loader.load_state_dict(state, strict=True)
    assert torch.equal(loader.classification_heads["new"].out_proj.weight, trained["classification_heads.new.out_proj.weight"])


def test_stock_tasks_read_a_vocab_ids_dictionary(tmp_path):
    from fairseq.tasks.sentence_prediction import SentencePredictionTask
    from fairseq.tasks.sentence_ranking import SentenceRankingTask

    import fairseq_unilmv2  # noqa: F401  (installs the loaders)
    from fairseq_unilmv2 import vocab_ids

    symbols = ["[PAD]", "[unused0]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world"]
    path = tmp_path / "dict.txt"
    vocab_ids.write(str(path), symbols, {"bos": "[CLS]", "pad": "[PAD]", "eos": "[SEP]", "unk": "[UNK]", "mask": "[MASK]"})
    for d in (SentencePredictionTask.load_dictionary(str(path)),
              SentenceRankingTask.load_dictionary(None, str(path))):
        assert d.index("hello") == 6 and d.pad() == 0 and d.bos() == 3 and d.eos() == 4
        assert d.add_symbol("<mask>") == 5 and len(d) == len(symbols)  # the vocabulary's [MASK], no new row
    plain = tmp_path / "plain.txt"
    plain.write_text("hello 3\nworld 2\n")
    d = SentencePredictionTask.load_dictionary(str(plain))  # fairseq's own format: fairseq's own reading
    assert d.index("hello") == 4 and d.index("<mask>") == 6
