"""Fixtures shared by the CLI tests."""
import pytest

from .helpers import check_cli, lee_corpus_lines


@pytest.fixture(scope="session")
def workdir(tmp_path_factory):
    """The Lee corpus, with empty and one-token lines mixed in, binarized by fairseq-preprocess."""
    d = tmp_path_factory.mktemp("pretrain")
    lines = lee_corpus_lines()
    train = lines[:270]
    for i in range(0, 270, 30):  # bad input the task must survive
        train.insert(i, "")
        train.insert(i, "word")
    (d / "train.txt").write_text("\n".join(train) + "\n")
    (d / "valid.txt").write_text("\n".join(lines[270:]) + "\n")
    check_cli(["fairseq-preprocess", "--only-source", "--trainpref", "train.txt", "--validpref",
               "valid.txt", "--destdir", "bin", "--workers", "2"], cwd=d)
    return d
