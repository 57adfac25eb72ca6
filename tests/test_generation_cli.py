"""Generation on small trained reversal models (both --seq2seq-mode's): n-gram blocking and the
ban on internal symbols through fairseq-interactive and the hub interface, with beam search and
sampling, batches of several sources. The models are trained for 150 updates only: they reverse
roughly and repeat themselves often, which is what these checks need."""
import random
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch
from omegaconf import open_dict

from .helpers import USER_DIR, check_cli, run_cli

COMMON = ["--user-dir", USER_DIR, "--task", "unilm_seq2seq", "-s", "src", "-t", "tgt",
          "--max-source-positions", "16", "--max-target-positions", "16"]
# Sources whose reversals repeat bigrams, and an empty one.
SOURCES = ["a b c a b c a b", "", "d e d e d e", "f g h f g h f"]
INTERNAL = {"<pseudo>", "<mask>"} | {f"madeupword{i:04d}" for i in range(8)}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """data-bin of 1000 reversal pairs over 16 letters; one checkpoint per --seq2seq-mode."""
    d = tmp_path_factory.mktemp("gen_reverse")
    rng = random.Random(0)
    letters = [chr(ord("a") + i) for i in range(16)]
    for name, n in (("train", 1000), ("valid", 20)):
        src = [[rng.choice(letters) for _ in range(rng.randint(3, 8))] for _ in range(n)]
        (d / f"{name}.src").write_text("\n".join(" ".join(s) for s in src) + "\n")
        (d / f"{name}.tgt").write_text("\n".join(" ".join(reversed(s)) for s in src) + "\n")
    check_cli(["fairseq-preprocess", "-s", "src", "-t", "tgt", "--trainpref", "train", "--validpref", "valid",
               "--joined-dictionary", "--destdir", "bin", "--workers", "1"], cwd=d)
    for mode in ("pseudo", "causal"):
        check_cli(["fairseq-train", "bin", *COMMON, "--arch", "unilmv2_tiny", "--seq2seq-mode", mode,
                   "--criterion", "unilm_seq2seq", "--optimizer", "adam", "--lr", "2e-3", "--lr-scheduler",
                   "inverse_sqrt", "--warmup-updates", "20", "--batch-size", "32", "--max-update", "150",
                   "--dropout", "0", "--attention-dropout", "0", "--seed", "1", "--save-dir", f"ck_{mode}",
                   "--no-epoch-checkpoints", "--no-save-optimizer-state", "--disable-validation",
                   "--num-workers", "0", "--log-format", "simple"], cwd=d)
    return d


@pytest.fixture(scope="module")
def hubs(trained):
    from fairseq_unilmv2.models.seq2seq import UniLMSeq2SeqModel

    return {mode: UniLMSeq2SeqModel.from_pretrained(str(trained / f"ck_{mode}"), "checkpoint_last.pt",
                                                    str(trained / "bin"), max_source_positions=16,
                                                    max_target_positions=16)
            for mode in ("pseudo", "causal")}


def repeated(hyp, n):
    """The n-grams that occur more than once in ``hyp`` (a list of symbols)."""
    grams = [tuple(hyp[i : i + n]) for i in range(len(hyp) - n + 1)]
    return {g for g in grams if grams.count(g) > 1}


def hub_hypotheses(hub, seed=0, **kwargs):
    """Every hypothesis (``nbest`` per source) of SOURCES, as lists of symbols."""
    torch.manual_seed(seed)
    out = hub.generate([hub.encode(s) for s in SOURCES], **kwargs)
    assert len(out) == len(SOURCES)
    return [hub.string(h["tokens"]).split() for sent in out for h in sent]


def test_interactive_no_repeat_ngram_size(trained):
    """The issue's example through fairseq-interactive: 'a b c a b c a b' reversed is
    'b a c b a c b a', which repeats 'b a', 'a c' and 'c b'; with --no-repeat-ngram-size 2 no
    hypothesis of any of the 4 sources (one batch, beam 4) repeats a bigram."""
    exe = str(Path(sys.executable).parent / "fairseq-interactive")
    args = [exe, "bin", *COMMON, "--path", "ck_pseudo/checkpoint_last.pt", "--beam", "4", "--nbest", "4",
            "--batch-size", "4", "--buffer-size", "4", "--no-repeat-ngram-size", "2"]
    proc = subprocess.run(args, input="\n".join(SOURCES) + "\n", cwd=trained, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    hyps = [line.split("\t")[2].split() for line in proc.stdout.splitlines() if line.startswith("H-")]
    assert len(hyps) == 16
    assert [h for h in hyps if repeated(h, 2)] == []
    assert [h for h in hyps if INTERNAL & set(h)] == []


@pytest.mark.parametrize("mode", ["pseudo", "causal"])
def test_hub_no_repeat_ngram_with_beam_and_sampling(hubs, mode):
    hub = hubs[mode]
    for search in (dict(beam=4, nbest=4), dict(sampling=True, beam=10, nbest=10)):
        plain = hub_hypotheses(hub, **search)
        assert any(repeated(h, 2) for h in plain), f"{search}: the control run repeats no bigram"
        for n in (2, 3):
            blocked = hub_hypotheses(hub, no_repeat_ngram_size=n, **search)
            assert len(blocked) == len(plain)
            assert [h for h in blocked if repeated(h, n)] == [], (search, n)


@pytest.mark.parametrize("mode", ["pseudo", "causal"])
def test_hub_ignore_word_may_repeat(hubs, mode):
    """--no-repeat-ngram-ignore a: bigrams holding 'a' may repeat, no other bigram may."""
    hub = hubs[mode]
    with open_dict(hub.task.cfg):
        hub.task.cfg.no_repeat_ngram_ignore = "a"
    try:
        hyps = hub_hypotheses(hub, beam=4, nbest=4, no_repeat_ngram_size=2)
        hyps += hub_hypotheses(hub, sampling=True, beam=10, nbest=10, no_repeat_ngram_size=2)
    finally:
        with open_dict(hub.task.cfg):
            hub.task.cfg.no_repeat_ngram_ignore = ""
    reps = set().union(*(repeated(h, 2) for h in hyps))
    assert reps, "no bigram repeated at all: the exemption is not exercised"
    assert all("a" in gram for gram in reps), reps


@pytest.mark.parametrize("mode", ["pseudo", "causal"])
def test_hub_never_emits_internal_symbols(hubs, mode):
    """Beam search and 25 draws per source (4 sources, one of them empty): no <pseudo>, <mask>
    or madeupword in any hypothesis (fairseq's stock generator drew one in about 1 of 4 here)."""
    hub = hubs[mode]
    hyps = hub_hypotheses(hub, beam=4, nbest=4) + hub_hypotheses(hub, sampling=True, beam=25, nbest=25)
    assert len(hyps) == 4 * 4 + 4 * 25
    assert [h for h in hyps if INTERNAL & set(h)] == []


def test_generate_bf16_decodes_in_bfloat16(trained):
    """fairseq-generate --bf16 (here on CPU) decodes in bfloat16: the pinned fairseq casts the
    models for --fp16 only. The hypotheses of the reversal model stay those of float32 decoding
    for most sources (bf16 rounding can flip a near tie)."""
    args = ["fairseq-generate", "bin", *COMMON, "--path", "ck_pseudo/checkpoint_last.pt", "--beam", "2",
            "--batch-size", "8", "--gen-subset", "valid", "--cpu", "--num-workers", "0"]
    fp32 = check_cli(args, cwd=trained)
    bf16 = check_cli([*args, "--bf16"], cwd=trained)
    assert "--bf16: decoding in bfloat16" in bf16 and "decoding in bfloat16" not in fp32

    def hyps(out):
        return {line.split("\t")[0]: line.split("\t")[2] for line in out.splitlines() if line.startswith("H-")}

    a, b = hyps(fp32), hyps(bf16)
    assert len(a) == len(b) == 20
    assert sum(a[k] == b[k] for k in a) >= 15


def test_generate_ends_hypotheses_that_blocking_leaves_without_a_token(trained):
    """fairseq-generate --no-repeat-ngram-size 1 --min-len 20 on the 16-letter vocabulary: after
    the 16 letters and <unk> every token but </s> is banned, and </s> is banned before --min-len,
    which stopped fairseq's beam search with 'AssertionError: 23 < 23'. Every hypothesis now ends
    (shorter than --min-len) with finite scores; a --min-len beyond the target positions is one
    message naming the flags."""
    args = ["fairseq-generate", "bin", *COMMON, "--path", "ck_pseudo/checkpoint_last.pt", "--beam", "3",
            "--batch-size", "8", "--gen-subset", "valid", "--cpu", "--num-workers", "0",
            "--max-target-positions", "24", "--no-repeat-ngram-size", "1", "--min-len", "20"]
    out = check_cli(args, cwd=trained)
    hyps = [line.split("\t") for line in out.splitlines() if line.startswith("H-")]
    assert len(hyps) == 20
    for _, score, text in hyps:
        words = text.split()
        assert len(words) == len(set(words)) and len(words) < 20, words
        assert float(score) > -1e9
    proc = run_cli([*args[:-1], "30"], cwd=trained)
    assert proc.returncode != 0
    assert "ValueError: --min-len 30 is longer than any hypothesis may be: 23 tokens at most" in proc.stderr


def test_generate_reads_dictconfig_checkpoints_and_refuses_unsafe_ones(trained, tmp_path):
    """A checkpoint whose config is an omegaconf DictConfig (other fairseq versions and tools
    write it so) decodes as the plain one does; the same checkpoint with a payload nested in its
    DictConfig stops fairseq-generate with one message naming the file, a non-zero exit status,
    no hypothesis and nothing run."""
    from omegaconf import OmegaConf

    state = torch.load(trained / "ck_pseudo/checkpoint_last.pt", weights_only=False)
    state["cfg"] = OmegaConf.create(state["cfg"], flags={"allow_objects": True})
    torch.save(state, tmp_path / "dictconfig.pt")
    args = ["fairseq-generate", "bin", *COMMON, "--beam", "2", "--batch-size", "8", "--gen-subset", "valid",
            "--cpu", "--num-workers", "0"]

    def hyps(out):
        return sorted(line for line in out.splitlines() if line.startswith("H-"))

    plain = hyps(check_cli([*args, "--path", "ck_pseudo/checkpoint_last.pt"], cwd=trained))
    assert len(plain) == 20
    assert hyps(check_cli([*args, "--path", str(tmp_path / "dictconfig.pt")], cwd=trained)) == plain

    target = tmp_path / "pwned"
    state["cfg"].task.data = f"__import__('pathlib').Path('{target}').write_text('x')"  # the placeholder
    torch.save(state, tmp_path / "evil.pt")
    exec_call = b"cbuiltins\nexec\n(" + _binunicode(str(state["cfg"].task.data)) + b"tR"
    with zipfile.ZipFile(tmp_path / "evil.pt") as z:
        entries = [(i.filename, z.read(i.filename)) for i in z.infolist()]
    with zipfile.ZipFile(tmp_path / "evil.pt", "w", zipfile.ZIP_STORED) as z:
        for name, data in entries:
            if name.endswith("/data.pkl"):
                placeholder = _binunicode(str(state["cfg"].task.data))
                assert data.count(placeholder) == 1
                data = data.replace(placeholder, exec_call)
            z.writestr(name, data)
    proc = run_cli([*args, "--path", str(tmp_path / "evil.pt")], cwd=trained)
    assert proc.returncode != 0 and hyps(proc.stdout) == []
    assert f"UnsafeCheckpointError: {tmp_path / 'evil.pt'}: refused by safe loading" in proc.stderr
    assert "GLOBAL exec was not an allowed global" in proc.stderr and not target.exists()
    torch.load(tmp_path / "evil.pt", weights_only=False)  # sanity: the payload does run when unsafe
    assert target.exists()


def _binunicode(text):
    data = text.encode()
    return b"X" + struct.pack("<I", len(data)) + data
