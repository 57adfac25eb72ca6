#!/usr/bin/env python
"""Write the demo's raw text from data bundled with registry packages (no downloads):

  pretrain.txt            Lee background corpus (gensim), then the full text (abstract and body,
                          one paragraph a line) of the aclsum train/val papers; the 100 test
                          papers never enter pre-training
  pretrain-{train,valid}.txt  the same lines split for pre-training: valid is the first
                          VALID_PAPERS val-split papers (in-domain text the model never trains on)
  {train,valid,test}.src  aclsum abstracts            (one document a line)
  {train,valid,test}.tgt  aclsum human summaries: challenge, approach, outcome
  test.lead               Lead baseline: the first 3 sentences of each test abstract
  test.const              constant baseline: the same line for every test paper, the K most
                          frequent words of the training summaries (K = their mean length)
  test-rot.{src,tgt}      test pairs with each source replaced by the next paper's (source ablation)

The papers' body text (pdf_parse of aclsum's paper_jsons) is raw; its punctuation is spaced out
as in aclsum's tokenised sentences, so pre-training and fine-tuning see the same pieces.
"""
import collections
import json
import re
import sys
from pathlib import Path

import aclsum
import gensim

VALID_PAPERS = 3
_PUNCT = re.compile(r'([.,;:()\[\]?!"%])')


def tokenise(text: str) -> str:
    return " ".join(_PUNCT.sub(r" \1 ", text).split())


def paper_lines(folder: Path, paper_id: str, fallback):
    path = folder / "paper_jsons" / f"{paper_id}.json"
    if not path.exists():  # not in the package: the sentences aclsum keeps (abstract, intro, conclusion)
        return [" ".join(sents) for sents in fallback.values()]
    paper = json.loads(path.read_text())
    paragraphs = [paper.get("abstract") or ""] + [p["text"] for p in paper["pdf_parse"]["body_text"]]
    return [tokenise(p) for p in paragraphs if len(p.split()) >= 5]


def main(out: Path):
    out.mkdir(parents=True, exist_ok=True)
    folder = Path(aclsum.__file__).parent / "dataset"
    lee = (Path(gensim.__file__).parent / "test" / "test_data" / "lee_background.cor").read_text(
        encoding="latin-1").splitlines()
    lee = [line for line in lee if line.strip()]
    train_papers, valid_papers = [], []
    for split, name in (("train", "train"), ("val", "valid"), ("test", "test")):
        examples = [json.loads(line) for line in (folder / f"{split}.jsonl").read_text().splitlines()]
        src = [" ".join(ex["sentences"]["abstract"]) for ex in examples]
        tgt = [" ".join(ex["summary"][k] for k in ("challenge", "approach", "outcome")) for ex in examples]
        (out / f"{name}.src").write_text("\n".join(src) + "\n")
        (out / f"{name}.tgt").write_text("\n".join(tgt) + "\n")
        if name == "train":
            words = [w for t in tgt for w in t.split()]
            k = round(len(words) / len(tgt))
            constant = " ".join(w for w, _ in collections.Counter(w.lower() for w in words).most_common(k))
        if name == "test":
            lead = [" ".join(ex["sentences"]["abstract"][:3]) for ex in examples]
            (out / "test.lead").write_text("\n".join(lead) + "\n")
            (out / "test.const").write_text("\n".join([constant] * len(examples)) + "\n")
            (out / "test-rot.src").write_text("\n".join(src[1:] + src[:1]) + "\n")
            (out / "test-rot.tgt").write_text("\n".join(tgt) + "\n")
        else:  # papers of the test split never enter pre-training
            for i, ex in enumerate(examples):
                held_out = name == "valid" and i < VALID_PAPERS
                (valid_papers if held_out else train_papers).extend(paper_lines(folder, ex["id"], ex["sentences"]))
    (out / "pretrain-train.txt").write_text("\n".join(lee + train_papers) + "\n")
    (out / "pretrain-valid.txt").write_text("\n".join(valid_papers) + "\n")
    (out / "pretrain.txt").write_text("\n".join(lee + valid_papers + train_papers) + "\n")
    n_words = sum(len(line.split()) for line in lee + train_papers)
    print(f"demo_data: pre-training text {n_words} words ({len(lee)} Lee documents, "
          f"{len(train_papers)} paper paragraphs), {sum(len(p.split()) for p in valid_papers)} held-out words; "
          f"aclsum pairs 100 / 50 / 100", file=sys.stderr)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
