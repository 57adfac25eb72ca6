#!/usr/bin/env python
"""Write the demo's raw text from data bundled with registry packages (no downloads):

  pretrain.txt            Lee background corpus (gensim) + the aclsum train/val papers' text
  {train,valid,test}.src  aclsum abstracts            (one document a line)
  {train,valid,test}.tgt  aclsum human summaries: challenge, approach, outcome
  test.lead               Lead baseline: the first 3 sentences of each test abstract
"""
import json
import sys
from pathlib import Path

import aclsum
import gensim


def main(out: Path):
    out.mkdir(parents=True, exist_ok=True)
    folder = Path(aclsum.__file__).parent / "dataset"
    pretrain = (Path(gensim.__file__).parent / "test" / "test_data" / "lee_background.cor").read_text(
        encoding="latin-1").splitlines()
    for split, name in (("train", "train"), ("val", "valid"), ("test", "test")):
        examples = [json.loads(line) for line in (folder / f"{split}.jsonl").read_text().splitlines()]
        src = [" ".join(ex["sentences"]["abstract"]) for ex in examples]
        tgt = [" ".join(ex["summary"][k] for k in ("challenge", "approach", "outcome")) for ex in examples]
        (out / f"{name}.src").write_text("\n".join(src) + "\n")
        (out / f"{name}.tgt").write_text("\n".join(tgt) + "\n")
        if name == "test":
            lead = [" ".join(ex["sentences"]["abstract"][:3]) for ex in examples]
            (out / "test.lead").write_text("\n".join(lead) + "\n")
        else:  # papers of the test split never enter pre-training
            for ex in examples:
                pretrain += [" ".join(sents) for sents in ex["sentences"].values()]
    (out / "pretrain.txt").write_text("\n".join(line for line in pretrain if line.strip()) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
