"""Damaged input files (issue 20, item 12): unilmv2-convert-hf names the file and what is wrong with
it, in one line, with a non-zero exit status and nothing written -- where it used to print the
parser's bare ``Expecting value: line 3 column 24`` or ``[Errno 22] Invalid argument``."""
import json
import os
import subprocess

import pytest
import torch

transformers = pytest.importorskip("transformers")

from fairseq_unilmv2.hf import convert as hf_convert  # noqa: E402

from .test_hf_convert import TINY, _randomise, _save_hf  # noqa: E402


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    hf = _randomise(transformers.BertForMaskedLM(transformers.BertConfig(**TINY)), 21)
    folder = _save_hf(hf, tmp_path_factory.mktemp("hf_good"))
    torch.save(hf.state_dict(), folder / "pytorch_model.bin")
    return folder


def _variant(good, d, weights="model.safetensors", config=None, weights_bytes=None):
    d.mkdir()
    (d / "vocab.txt").write_bytes((good / "vocab.txt").read_bytes())
    (d / "config.json").write_text(config if config is not None else (good / "config.json").read_text())
    data = (good / weights).read_bytes()
    (d / weights).write_bytes(weights_bytes(data) if weights_bytes else data)
    return d


def _refused(d, tmp_path, capsys, console=False):
    """Run the command (the console script itself where ``console``); return its one message line.
    Nothing may be written."""
    out = tmp_path / "out"
    before = sorted(os.listdir(tmp_path))
    if console:
        done = subprocess.run(["unilmv2-convert-hf", str(d), str(out)], capture_output=True, text=True, timeout=300)
        code, err, stdout = done.returncode, done.stderr, done.stdout
    else:
        code = hf_convert.run(hf_convert.build_parser().parse_args([str(d), str(out)]))
        captured = capsys.readouterr()
        err, stdout = captured.err, captured.out
    assert code == 2, err
    assert "Traceback" not in err
    ours = [line for line in err.splitlines() if line.startswith("unilmv2-convert-hf:")]
    assert len(ours) == 1 and err.rstrip().endswith(ours[0]), err
    assert sorted(os.listdir(tmp_path)) == before  # no OUT_DIR, no temporary or lock beside it
    assert stdout == ""
    return ours[0]


def _broken_config(good):
    # "hidden_size": <nothing>: json's "Expecting value: line 3 column 18"
    lines = (good / "config.json").read_text().splitlines()
    lines.insert(2, '  "hidden_size": ,')
    return "\n".join(lines)


@pytest.mark.parametrize("case,weights,config,cut,expected", [
    ("truncated_bin_cli", "pytorch_model.bin", None, lambda b: b[: len(b) // 2],
     ["pytorch_model.bin is truncated", "download or copy it again"]),
    ("truncated_bin", "pytorch_model.bin", None, lambda b: b[: len(b) // 2],
     ["pytorch_model.bin is truncated", "download or copy it again"]),
    ("truncated_safetensors", "model.safetensors", None, lambda b: b[: len(b) * 2 // 3],
     ["model.safetensors is truncated", "the file has"]),
    ("empty_bin", "pytorch_model.bin", None, lambda b: b"", ["pytorch_model.bin is empty"]),
    ("lfs_pointer", "pytorch_model.bin", None,
     lambda b: b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 123\n", ["Git LFS pointer"]),
    ("broken_json_cli", "model.safetensors", "broken", None, ["config.json:3:18: not valid JSON (Expecting value)"]),
    ("broken_json", "model.safetensors", "broken", None, ["config.json:3:18: not valid JSON (Expecting value)"]),
    ("truncated_json", "model.safetensors", "truncated", None, ["config.json:", "not valid JSON", "truncated?"]),
    ("json_array", "model.safetensors", "[1, 2]", None,
     ["config.json holds a JSON array, not a JSON object"]),
    ("field_type", "model.safetensors", "hidden_size", None,
     ["config.json: 'hidden_size' is \"32\" (a JSON string), expected an integer"]),
    ("field_null", "model.safetensors", "layers_null", None, ["config.json: 'num_hidden_layers' is null"]),
])
def test_damaged_input_is_named_in_one_line(good, tmp_path, capsys, case, weights, config, cut, expected):
    text = (good / "config.json").read_text()
    if config == "broken":
        config = _broken_config(good)
    elif config == "truncated":
        config = text[: len(text) // 2]
    elif config == "hidden_size":
        config = json.dumps(dict(json.loads(text), hidden_size="32"))
    elif config == "layers_null":
        config = json.dumps(dict(json.loads(text), num_hidden_layers=None))
    d = _variant(good, tmp_path / case, weights, config, cut)
    line = _refused(d, tmp_path, capsys, console=case.endswith("_cli"))
    for phrase in expected:
        assert phrase in line, line
    assert str(d) in line  # the file is named by its path


def test_vocab_and_tokenizer_files_are_named(good, tmp_path, capsys):
    d = _variant(good, tmp_path / "latin1")
    (d / "vocab.txt").write_bytes((good / "vocab.txt").read_bytes() + "caf\xe9\n".encode("latin-1"))
    line = _refused(d, tmp_path, capsys)
    assert f"{d / 'vocab.txt'}:28: not UTF-8" in line
    d = _variant(good, tmp_path / "tokcfg")
    (d / "tokenizer_config.json").write_text('{"do_lower_case": true,\n "cls_token": "[CLS]"')
    line = _refused(d, tmp_path, capsys)
    assert f"{d / 'tokenizer_config.json'}:2:" in line and "not valid JSON" in line
