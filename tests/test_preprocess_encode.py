"""preprocess/: tokenization of real bundled text (gensim's test corpora) by the CLIs, as
subprocesses: order with workers, bad input, resumable atomic outputs, WordPiece dict.txt."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sentencepiece as spm

from preprocess.parallel import BrokenProcessPool, ordered_map
from preprocess.subword import cut_long

from . import survivors
from .helpers import LEE, LEE_TEST, REPO, WIKI_PARAGRAPHS, check_script, read_lines, run_script


@pytest.fixture(scope="module")
def spm_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("spm")
    proc = run_script("spm.py", "train", "--input", LEE, "--model-prefix", d / "spm", "--vocab-size", "1500",
                      "--character-coverage", "1.0", "--max-sentence-length", "65536", cwd=d)
    assert proc.returncode == 0, proc.stderr
    return d


def test_spm_train_writes_model_and_dict_atomically(spm_dir):
    assert sorted(p.name for p in spm_dir.iterdir()) == ["spm.dict.txt", "spm.model", "spm.vocab"]
    symbols = [line.rsplit(" ", 1)[0] for line in read_lines(spm_dir / "spm.dict.txt")]
    sp = spm.SentencePieceProcessor(model_file=str(spm_dir / "spm.model"))
    assert symbols == [sp.id_to_piece(i) for i in range(1, sp.get_piece_size())]  # <unk> (id 0) is fairseq's


def test_spm_encode_keeps_one_output_line_per_input_line(spm_dir):
    """The stdin/stdout interface of recipes/prepare_demo_data.sh: empty lines stay, a lone \\r or
    another line-break character inside a line becomes a space, CRLF ends one line, invalid UTF-8
    is exit 2 with the line number."""
    sp = spm.SentencePieceProcessor(model_file=str(spm_dir / "spm.model"))

    def enc(text):
        return " ".join(sp.encode(text, out_type=str))

    raw = "Hundreds of people\n\nforced\rto vacate\r\nfire\x0bcrews\u2028and\x85police\nno final newline"
    proc = run_script("spm.py", "encode", "--model", spm_dir / "spm.model", input=raw.encode(), text=False,
                      cwd=spm_dir)
    assert proc.returncode == 0, proc.stderr
    assert read_lines_bytes(proc.stdout) == [enc("Hundreds of people"), "", enc("forced to vacate"),
                                             enc("fire crews and police"), enc("no final newline")]
    proc = run_script("spm.py", "decode", "--model", spm_dir / "spm.model", input=proc.stdout, text=False,
                      cwd=spm_dir)
    assert read_lines_bytes(proc.stdout) == ["Hundreds of people", "", "forced to vacate", "fire crews and police",
                                             "no final newline"]
    proc = run_script("spm.py", "encode", "--model", spm_dir / "spm.model", input=b"ok\n\xa3\n", text=False,
                      cwd=spm_dir)
    assert proc.returncode == 2 and b"<stdin>:2: invalid UTF-8" in proc.stderr


def read_lines_bytes(data):
    text = data.decode("utf-8")
    return text[:-1].split("\n") if text.endswith("\n") else text.split("\n")


def test_two_workers_keep_line_order_and_equal_direct_encoding(spm_dir, tmp_path):
    out1 = check_script("encode.py", "--spm-model", spm_dir / "spm.model", "--input", LEE, "--output", "one.txt",
                        "--tokens-per-sample", "0", cwd=tmp_path)
    out2 = check_script("encode.py", "--spm-model", spm_dir / "spm.model", "--input", LEE, "--output", "two.txt",
                        "--tokens-per-sample", "0", "--workers", "2", "--chunk-bytes", "3000", cwd=tmp_path)
    sp = spm.SentencePieceProcessor(model_file=str(spm_dir / "spm.model"))
    raw = [line for line in read_lines(LEE) if line.strip()]
    assert read_lines(tmp_path / "two.txt") == read_lines(tmp_path / "one.txt")
    assert read_lines(tmp_path / "one.txt") == [" ".join(sp.encode(line, out_type=str)) for line in raw]
    assert out1["lines_out"] == out2["lines_out"] == len(raw) and out2["lines_in"] == 300
    assert not list(tmp_path.glob("*.tmp"))


def test_ordered_map_reads_a_bounded_number_of_items_ahead():
    pulled = []

    def items():
        for i in range(40):
            pulled.append(i)
            yield i

    for i, result in enumerate(ordered_map(abs, items(), workers=2, max_in_flight=3)):
        assert result == i
        assert len(pulled) <= i + 3  # never more than 3 read and not yet yielded


def test_invalid_utf8_names_file_and_line_or_is_skipped_and_counted(spm_dir, tmp_path):
    proc = run_script("encode.py", "--spm-model", spm_dir / "spm.model", "--input", LEE_TEST,
                      "--output-dir", "out", cwd=tmp_path)
    assert proc.returncode == 2
    assert f"{LEE_TEST}:41: invalid UTF-8 (byte 0xa3" in proc.stderr and "--invalid-utf8 skip" in proc.stderr
    assert os.listdir(tmp_path / "out") == [".plan.json"]  # neither a final nor a .tmp file is left
    out = check_script("encode.py", "--spm-model", spm_dir / "spm.model", "--input", LEE_TEST,
                       "--output-dir", "out", "--invalid-utf8", "skip", cwd=tmp_path)
    assert out["invalid_utf8_skipped"] == 1 and out["lines_in"] == 50 and out["lines_out"] == 49
    assert "lee.cor:41" in run_script("encode.py", "--spm-model", spm_dir / "spm.model", "--input", LEE_TEST,
                                      "--output-dir", "out2", "--invalid-utf8", "skip", cwd=tmp_path).stderr


def test_empty_lines_dropped_and_paragraphs_become_one_document_a_line(spm_dir, tmp_path):
    sp = spm.SentencePieceProcessor(model_file=str(spm_dir / "spm.model"))
    paragraphs = [p for p in read_lines(WIKI_PARAGRAPHS) if p.strip()]
    # blank-line separated documents, each written one sentence a line; extra blank lines between
    doc_text = "\n\n\n".join("\n".join(s.strip() + "." for s in p.split(". ") if s.strip()) for p in paragraphs)
    (tmp_path / "docs.txt").write_text(doc_text + "\n")
    out = check_script("encode.py", "--spm-model", spm_dir / "spm.model", "--input", "docs.txt", "--output",
                       "docs.spm", "--format", "paragraphs", "--tokens-per-sample", "0", cwd=tmp_path)
    docs = [" ".join(s.strip() + "." for s in p.split(". ") if s.strip()) for p in paragraphs]
    assert read_lines(tmp_path / "docs.spm") == [" ".join(sp.encode(d, out_type=str)) for d in docs]
    assert out["lines_out"] == len(paragraphs)
    # one document a line: the blank lines are dropped and counted
    out = check_script("encode.py", "--spm-model", spm_dir / "spm.model", "--input", "docs.txt", "--output",
                       "lines.spm", "--tokens-per-sample", "0", cwd=tmp_path)
    n_lines = doc_text.count("\n") + 1
    assert out["empty_dropped"] == 2 * (len(paragraphs) - 1) and out["lines_out"] == n_lines - out["empty_dropped"]


def test_long_documents_split_at_word_starts_or_dropped_with_counts(spm_dir, tmp_path):
    sp = spm.SentencePieceProcessor(model_file=str(spm_dir / "spm.model"))
    raw = [line for line in read_lines(LEE) if line.strip()]
    full = [sp.encode(line, out_type=str) for line in raw]
    n_long = sum(len(p) > 254 for p in full)
    assert 0 < n_long < len(raw)
    out = check_script("encode.py", "--spm-model", spm_dir / "spm.model", "--input", LEE, "--output", "split.txt",
                       "--tokens-per-sample", "256", "--workers", "2", cwd=tmp_path)
    lines = [line.split() for line in read_lines(tmp_path / "split.txt")]
    assert out["long_split"] == n_long and max(map(len, lines)) <= 254
    assert [t for line in lines for t in line] == [t for p in full for t in p]  # nothing lost or reordered
    assert all(line[0].startswith("\u2581") for line in lines)  # cut before a word start
    out = check_script("encode.py", "--spm-model", spm_dir / "spm.model", "--input", LEE, "--output", "drop.txt",
                       "--tokens-per-sample", "256", "--long-lines", "drop", cwd=tmp_path)
    assert out["long_dropped"] == n_long
    assert read_lines(tmp_path / "drop.txt") == [" ".join(p) for p in full if len(p) <= 254]


def test_cut_long_without_word_starts_cuts_at_the_limit():
    pieces = ["a", "##b", "##c", "##d", "##e"]
    assert cut_long(pieces, 2, lambda p: not p.startswith("##")) == [["a", "##b"], ["##c", "##d"], ["##e"]]
    assert cut_long(["x", "y", "##z"], 2, lambda p: not p.startswith("##")) == [["x"], ["y", "##z"]]


def test_parallel_line_count_mismatch_is_refused_before_any_work(spm_dir, tmp_path):
    lines = read_lines(LEE)
    (tmp_path / "train.src").write_text("\n".join(lines[:40]) + "\n")
    (tmp_path / "train.tgt").write_text("\n".join(lines[:39]) + "\n")
    (tmp_path / "ok.src").write_text("\n".join(lines[:5]) + "\n")
    (tmp_path / "ok.tgt").write_text("\n".join(lines[:5]) + "\n")
    proc = run_script("encode.py", "--spm-model", spm_dir / "spm.model", "--input", "ok", "train", "-s", "src",
                      "-t", "tgt", "--output-dir", "out", cwd=tmp_path)
    assert proc.returncode == 2
    assert "train.src has 40 lines but train.tgt has 39" in proc.stderr
    assert not (tmp_path / "out").exists()  # not even the good pair was encoded


def test_parallel_pairs_stay_aligned_when_a_side_is_skipped(spm_dir, tmp_path):
    raw = LEE_TEST.read_bytes().split(b"\n")
    (tmp_path / "a.src").write_bytes(b"\n".join(raw))  # line 41 is not UTF-8
    (tmp_path / "a.tgt").write_text("\n".join(f"line {i + 1}" if i != 10 else "" for i in range(len(raw))))
    out = check_script("encode.py", "--spm-model", spm_dir / "spm.model", "--input", "a", "-s", "src", "-t", "tgt",
                       "--output-dir", "enc", "--invalid-utf8", "skip", "--workers", "2", "--chunk-bytes", "500",
                       "--long-lines", "keep", cwd=tmp_path)
    assert out["invalid_utf8_skipped"] == 1 and out["empty_dropped"] == 1  # line 41; line 11's empty target
    sp = spm.SentencePieceProcessor(model_file=str(spm_dir / "spm.model"))
    kept = [i for i in range(len(raw)) if i not in (10, 40)]
    assert read_lines(tmp_path / "enc/a.tgt") == [" ".join(sp.encode(f"line {i + 1}", out_type=str)) for i in kept]
    assert read_lines(tmp_path / "enc/a.src") == [" ".join(sp.encode(raw[i].decode(), out_type=str)) for i in kept]


def test_killed_encoding_leaves_no_complete_looking_file_and_rerun_finishes(spm_dir, tmp_path):
    text = LEE.read_bytes().rstrip(b"\n") + b"\n"
    (tmp_path / "big.txt").write_bytes(text * 30)  # ~11 MB of real text
    args = [sys.executable, str(REPO / "preprocess/encode.py"), "--spm-model", str(spm_dir / "spm.model"),
            "--input", "big.txt", "small.txt", "--output-dir", "enc", "--workers", "2"]
    (tmp_path / "small.txt").write_bytes(text)
    env, tag = survivors.tagged()
    proc = subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    tmp = tmp_path / "enc/big.txt.tmp"
    deadline = time.time() + 60
    while not (tmp.exists() and tmp.stat().st_size > 0) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, "encoding finished before it could be interrupted"
    assert len(survivors.alive(tag)) == 3  # encode.py and its 2 workers
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    survivors.assert_none_survive(tag)  # its workers die with it
    assert not (tmp_path / "enc/big.txt").exists() and not (tmp_path / "enc/small.txt").exists()
    out = check_script("encode.py", *args[2:], cwd=tmp_path)
    assert out["files_encoded"] == 2
    assert read_lines(tmp_path / "enc/big.txt") == read_lines(tmp_path / "enc/small.txt") * 30
    out = check_script("encode.py", *args[2:], cwd=tmp_path)  # everything complete: skipped
    assert out["files_skipped"] == 2 and "files_encoded" not in out


def test_wordpiece_vocab_gives_a_dict_the_tasks_accept(tmp_path):
    from tokenizers import BertWordPieceTokenizer

    from fairseq_unilmv2.tasks.dictionary import load_dictionary

    trainer = BertWordPieceTokenizer(lowercase=True)
    specials = ["[PAD]", *[f"[unused{i}]" for i in range(5)], "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    trainer.train([str(LEE)], vocab_size=2000, special_tokens=specials, show_progress=False)
    trainer.save_model(str(tmp_path))  # vocab.txt in BERT's layout
    vocab = read_lines(tmp_path / "vocab.txt")
    proc = run_script("wordpiece.py", "dict", "--vocab", "vocab.txt", "--output", "dict.txt", "--print-map",
                      cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    symbols = [line.rsplit(" ", 1)[0] for line in read_lines(tmp_path / "dict.txt")]
    assert symbols == [t for t in vocab if t not in specials]
    mapping = {line.split()[2]: line.split()[1] for line in proc.stdout.splitlines()}
    assert (mapping["[PAD]"], mapping["[UNK]"], mapping["[CLS]"], mapping["[SEP]"]) == ("1", "3", "0", "2")
    assert mapping["[MASK]"] == "<mask>" and mapping["[unused0]"] == "-"
    dictionary = load_dictionary(str(tmp_path / "dict.txt"))
    assert len(dictionary) == 4 + len(symbols)

    check_script("encode.py", "--wordpiece-vocab", "vocab.txt", "--input", LEE, "--output", "wp.txt",
                 "--workers", "2", "--tokens-per-sample", "0", cwd=tmp_path)
    raw = [line for line in read_lines(LEE) if line.strip()]
    tok = BertWordPieceTokenizer(str(tmp_path / "vocab.txt"), lowercase=True)
    expected = [" ".join(e.tokens) for e in tok.encode_batch(raw, add_special_tokens=False)]
    assert read_lines(tmp_path / "wp.txt") == expected
    assert all(t in dictionary.indices for line in expected for t in line.split())
    # a character not in the vocab is [UNK] -> <unk>; BERT's specials written in the text are text
    (tmp_path / "odd.txt").write_text("fire \u2603 crews [MASK] [SEP]\n")
    check_script("encode.py", "--wordpiece-vocab", "vocab.txt", "--input", "odd.txt", "--output", "odd.wp", cwd=tmp_path)
    plain = [t if t != "[UNK]" else "<unk>" for t in tok.encode("fire \u2603 crews [ mask ] [ sep ]",
                                                                 add_special_tokens=False).tokens]
    assert read_lines(tmp_path / "odd.wp") == [" ".join(plain)]
    assert plain[:2] == ["fire", "<unk>"] and plain.count("<unk>") == 1 and "[" in plain


def test_line_breaks_inside_lines_crlf_no_final_newline_and_empty_files(spm_dir, tmp_path):
    sp = spm.SentencePieceProcessor(model_file=str(spm_dir / "spm.model"))

    def enc(text):
        return " ".join(sp.encode(text, out_type=str))

    inside = ["\r", "\x0b", "\x1c", "\x85", "\u2028"]
    (tmp_path / "breaks.txt").write_bytes("".join(f"fire{c}crews {i}\n" for i, c in enumerate(inside)).encode())
    (tmp_path / "crlf.txt").write_bytes(b"fire crews\r\nand police\r\n")
    (tmp_path / "nofinal.txt").write_bytes(b"fire crews\nand police")
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "p.src").write_bytes("fire\rcrews\r\nand\x85police".encode())  # no final newline either
    (tmp_path / "p.tgt").write_bytes("a\u2028b\nc\n".encode())
    out = check_script("encode.py", "--spm-model", spm_dir / "spm.model", "--input", "breaks.txt", "crlf.txt",
                       "nofinal.txt", "empty.txt", "--output-dir", "enc", cwd=tmp_path)
    assert read_lines(tmp_path / "enc/breaks.txt") == [enc(f"fire crews {i}") for i in range(len(inside))]
    assert read_lines(tmp_path / "enc/crlf.txt") == read_lines(tmp_path / "enc/nofinal.txt") == \
        [enc("fire crews"), enc("and police")]
    assert (tmp_path / "enc/empty.txt").read_bytes() == b""
    assert out["files_encoded"] == 4 and out["lines_in"] == 5 + 2 + 2 + 0 and out["lines_out"] == 9
    check_script("encode.py", "--spm-model", spm_dir / "spm.model", "--input", "p", "-s", "src", "-t", "tgt",
                 "--output-dir", "pairs", cwd=tmp_path)
    assert read_lines(tmp_path / "pairs/p.src") == [enc("fire crews"), enc("and police")]
    assert read_lines(tmp_path / "pairs/p.tgt") == [enc("a b"), enc("c")]


def test_wrong_arguments_are_refused_before_any_output(spm_dir, tmp_path):
    (tmp_path / "p.src").write_text("a\n")
    (tmp_path / "p.tgt").write_text("b\n")
    model = spm_dir / "spm.model"
    cases = [
        (["--input", "p", "-s", "src", "-t", "tgt", "--output", "out.txt"], "--output writes one file"),
        (["--input", "p.src", "--output", "p.src", "--force"], "p.src is the input p.src"),
        (["--input", "p.src", "--output", "./sub/../p.src"], "is the input p.src"),
        (["--input", "p", "-s", "src", "-t", "tgt", "--output-dir", "."], "is the input"),
        (["--input", "p.src", "--output", "o.txt", "--tokens-per-sample", "1"], "--tokens-per-sample 1: give 0"),
        (["--input", "p.src", "--output", "o.txt", "--tokens-per-sample", "2"], "--tokens-per-sample 2: give 0"),
        (["--input", "p.src", "--output-dir", "p.tgt"], "cannot write the output"),  # a file, not a directory
    ]
    (tmp_path / "sub").mkdir()
    for args, message in cases:
        proc = run_script("encode.py", "--spm-model", model, *args, cwd=tmp_path, timeout=60)
        assert proc.returncode == 2 and message in proc.stderr, (args, proc.stderr[-2000:])
    assert sorted(os.listdir(tmp_path)) == ["p.src", "p.tgt", "sub"] and not os.listdir(tmp_path / "sub")
    assert (tmp_path / "p.src").read_text() == "a\n"


@pytest.mark.parametrize("workers", [1, 2])
def test_a_tokenizer_that_does_not_load_is_exit_2_naming_it_not_a_hang(tmp_path, workers):
    (tmp_path / "bad.model").write_bytes(b"not a sentencepiece model\n")
    (tmp_path / "a.txt").write_text("fire crews\n")
    proc = run_script("encode.py", "--spm-model", "bad.model", "--input", "a.txt", "--output-dir", "enc",
                      "--workers", workers, cwd=tmp_path, timeout=60)
    assert proc.returncode == 2 and "bad.model: cannot load it as a SentencePiece model" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "enc").exists()


def _crash(item):
    if item == 5:
        os._exit(1)  # a worker killed (e.g. by the OOM killer)
    return item


def test_ordered_map_raises_when_a_worker_dies_instead_of_hanging():
    got = []
    with pytest.raises(BrokenProcessPool):
        for result in ordered_map(_crash, range(100), workers=2):
            got.append(result)
    assert got == list(range(len(got))) and len(got) <= 5

    def fail(*_):
        raise OSError("cannot load")

    with pytest.raises(BrokenProcessPool):
        list(ordered_map(abs, range(10), workers=2, initializer=fail))


def test_killed_worker_ends_the_run_with_an_error_and_no_complete_looking_output(spm_dir, tmp_path):
    text = LEE.read_bytes().rstrip(b"\n") + b"\n"
    (tmp_path / "big.txt").write_bytes(text * 30)
    env, tag = survivors.tagged()
    proc = subprocess.Popen([sys.executable, str(REPO / "preprocess/encode.py"), "--spm-model", spm_dir / "spm.model",
                             "--input", "big.txt", "--output-dir", "enc", "--workers", "2"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    tmp, children = tmp_path / "enc/big.txt.tmp", Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    deadline = time.time() + 60
    while not (tmp.exists() and tmp.stat().st_size > 0) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    pids = children.read_text().split() if proc.poll() is None else []
    assert pids, "encoding finished before a worker could be killed"
    os.kill(int(pids[-1]), signal.SIGKILL)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 1 and b"worker process died" in stderr, stderr[-2000:]
    survivors.assert_none_survive(tag)  # the other worker too (encode.py ends with os._exit)
    assert sorted(os.listdir(tmp_path / "enc")) == [".plan.json"]


def test_rerun_with_another_tokenizer_or_options_is_refused(spm_dir, tmp_path):
    (tmp_path / "a.txt").write_text("fire crews and police\n")
    shutil.copy(spm_dir / "spm.model", tmp_path / "m.model")
    base = ["--input", "a.txt", "--output-dir", "enc"]
    check_script("encode.py", "--spm-model", "m.model", *base, cwd=tmp_path)
    assert json.loads((tmp_path / "enc/.plan.json").read_text())["tokens_per_sample"] == 512
    proc = run_script("encode.py", "--spm-model", "m.model", *base, "--tokens-per-sample", "64", cwd=tmp_path)
    assert proc.returncode == 2 and "different tokens_per_sample" in proc.stderr and "--force" in proc.stderr
    proc = run_script("spm.py", "train", "--input", "a.txt", "--model-prefix", "m", "--vocab-size", "16",
                      "--character-coverage", "1.0", cwd=tmp_path)  # another model under the same name
    assert proc.returncode == 0, proc.stderr
    proc = run_script("encode.py", "--spm-model", "m.model", *base, cwd=tmp_path)
    assert proc.returncode == 2 and "different tokenizer_sha256" in proc.stderr
    before = (tmp_path / "enc/a.txt").read_text()
    out = check_script("encode.py", "--spm-model", "m.model", *base, "--force", cwd=tmp_path)
    assert out["files_encoded"] == 1 and (tmp_path / "enc/a.txt").read_text() != before
    out = check_script("encode.py", "--spm-model", "m.model", *base, cwd=tmp_path)  # the new plan was recorded
    assert out["files_skipped"] == 1


def test_paragraphs_without_blank_lines_are_cut_at_max_document_chars(spm_dir, tmp_path):
    lines = [line for line in read_lines(LEE) if line.strip()][:40]
    (tmp_path / "doc.txt").write_text("\n".join(lines) + "\n")  # one 40-line "document": no blank line
    out = check_script("encode.py", "--spm-model", spm_dir / "spm.model", "--input", "doc.txt", "--output", "d.spm",
                       "--format", "paragraphs", "--max-document-chars", "5000", "--tokens-per-sample", "0",
                       cwd=tmp_path)
    docs, current = [], []
    for line in lines:
        current.append(line.strip())
        if sum(len(t) + 1 for t in current) >= 5000:
            docs.append(" ".join(current))
            current = []
    docs += [" ".join(current)] if current else []
    assert 3 < len(docs) < 40 and out["documents_cut"] == len(docs) - bool(current)
    sp = spm.SentencePieceProcessor(model_file=str(spm_dir / "spm.model"))
    assert read_lines(tmp_path / "d.spm") == [" ".join(sp.encode(d, out_type=str)) for d in docs]


def test_pair_statistics_count_each_pair_once(spm_dir, tmp_path):
    (tmp_path / "p.src").write_bytes(b"fire crews\n\xa3 bad\n\xa3 bad\nok\n")
    (tmp_path / "p.tgt").write_bytes(b"police\n\xa3 bad\nfine\nok\n")
    out = check_script("encode.py", "--spm-model", spm_dir / "spm.model", "--input", "p", "-s", "src", "-t", "tgt",
                       "--output-dir", "enc", "--invalid-utf8", "skip", cwd=tmp_path)
    assert out["lines_in"] == 4 and out["invalid_utf8_skipped"] == 2 and out["lines_out"] == 2
    assert out["bytes"] == (tmp_path / "p.src").stat().st_size + (tmp_path / "p.tgt").stat().st_size
