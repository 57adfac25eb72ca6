"""preprocess/: tokenization of real bundled text (gensim's test corpora) by the CLIs, as
subprocesses: order with workers, bad input, resumable atomic outputs, WordPiece dict.txt."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sentencepiece as spm

from preprocess.parallel import ordered_map
from preprocess.subword import cut_long

from .helpers import REPO

GENSIM_DATA = Path(__import__("gensim").__file__).parent / "test" / "test_data"
LEE = GENSIM_DATA / "lee_background.cor"  # 300 ABC news stories, one a line, valid UTF-8
LEE_TEST = GENSIM_DATA / "lee.cor"  # 50 more; line 41 holds a latin-1 pound sign (invalid UTF-8)
WIKI_PARAGRAPHS = GENSIM_DATA / "para2para_text1.txt"  # Wikipedia paragraphs, one a line


def run_script(name, *args, cwd):
    env = dict(os.environ, PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, str(REPO / "preprocess" / name), *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600, check=False)


def check_script(name, *args, cwd):
    proc = run_script(name, *args, cwd=cwd)
    assert proc.returncode == 0, f"{name} {args} failed:\n{proc.stderr[-4000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def spm_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("spm")
    check_script_plain = run_script("spm.py", "train", "--input", LEE, "--model-prefix", d / "spm",
                                    "--vocab-size", "1500", "--character-coverage", "1.0",
                                    "--max-sentence-length", "65536", cwd=d)
    assert check_script_plain.returncode == 0, check_script_plain.stderr
    return d


def read_lines(path):
    return Path(path).read_text(encoding="utf-8").splitlines()


def test_spm_train_writes_model_and_dict_atomically(spm_dir):
    assert sorted(p.name for p in spm_dir.iterdir()) == ["spm.dict.txt", "spm.model", "spm.vocab"]
    symbols = [line.rsplit(" ", 1)[0] for line in read_lines(spm_dir / "spm.dict.txt")]
    sp = spm.SentencePieceProcessor(model_file=str(spm_dir / "spm.model"))
    assert symbols == [sp.id_to_piece(i) for i in range(1, sp.get_piece_size())]  # <unk> (id 0) is fairseq's
    # the old stdin/stdout interface (recipes/demo.sh) still works
    proc = subprocess.run([sys.executable, str(REPO / "preprocess/spm.py"), "encode", "--model", spm_dir / "spm.model"],
                          input="Hundreds of people\n\nforced to vacate\n", capture_output=True, text=True, check=True)
    assert proc.stdout.splitlines() == [" ".join(sp.encode("Hundreds of people", out_type=str)), "",
                                        " ".join(sp.encode("forced to vacate", out_type=str))]


def test_two_workers_keep_line_order_and_equal_direct_encoding(spm_dir, tmp_path):
    out1 = check_script("encode.py", "--spm-model", spm_dir / "spm.model", "--input", LEE, "--output", "one.txt",
                        "--tokens-per-sample", "0", cwd=tmp_path)
    out2 = check_script("encode.py", "--spm-model", spm_dir / "spm.model", "--input", LEE, "--output", "two.txt",
                        "--tokens-per-sample", "0", "--workers", "2", "--chunk-bytes", "3000", cwd=tmp_path)
    sp = spm.SentencePieceProcessor(model_file=str(spm_dir / "spm.model"))
    raw = [line for line in LEE.read_text(encoding="utf-8").splitlines() if line.strip()]
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
    assert not list((tmp_path / "out").iterdir())  # neither a final nor a .tmp file is left
    out = check_script("encode.py", "--spm-model", spm_dir / "spm.model", "--input", LEE_TEST,
                       "--output-dir", "out", "--invalid-utf8", "skip", cwd=tmp_path)
    assert out["invalid_utf8_skipped"] == 1 and out["lines_in"] == 50 and out["lines_out"] == 49
    assert "lee.cor:41" in run_script("encode.py", "--spm-model", spm_dir / "spm.model", "--input", LEE_TEST,
                                      "--output-dir", "out2", "--invalid-utf8", "skip", cwd=tmp_path).stderr


def test_empty_lines_dropped_and_paragraphs_become_one_document_a_line(spm_dir, tmp_path):
    sp = spm.SentencePieceProcessor(model_file=str(spm_dir / "spm.model"))
    paragraphs = [p for p in WIKI_PARAGRAPHS.read_text(encoding="utf-8").splitlines() if p.strip()]
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
    raw = [line for line in LEE.read_text(encoding="utf-8").splitlines() if line.strip()]
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
    lines = LEE.read_text(encoding="utf-8").splitlines()
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
    proc = subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tmp = tmp_path / "enc/big.txt.tmp"
    deadline = time.time() + 60
    while not (tmp.exists() and tmp.stat().st_size > 0) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, "encoding finished before it could be interrupted"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
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
    dictionary = load_dictionary(str(tmp_path / "dict.txt"))
    assert len(dictionary) == 4 + len(symbols)

    check_script("encode.py", "--wordpiece-vocab", "vocab.txt", "--input", LEE, "--output", "wp.txt",
                 "--workers", "2", "--tokens-per-sample", "0", cwd=tmp_path)
    raw = [line for line in LEE.read_text(encoding="utf-8").splitlines() if line.strip()]
    tok = BertWordPieceTokenizer(str(tmp_path / "vocab.txt"), lowercase=True)
    expected = [" ".join(e.tokens) for e in tok.encode_batch(raw, add_special_tokens=False)]
    assert read_lines(tmp_path / "wp.txt") == expected
    assert all(t in dictionary.indices for line in expected for t in line.split())
