"""A real labelled NLU set from a pinned package: aclsum's aspect-highlighted sentences.

ACLSum (Takeshita et al., NAACL 2024; the ``aclsum`` package ships its 100/50/100 train/val/test
papers) marks, for each of three aspects (challenge, approach, outcome), the sentences of a
paper's abstract, introduction and conclusion that support its summary of that aspect
(``highlights[aspect][section][i]`` is 1). Every sentence highlighted for exactly one aspect
becomes an example ``sentence -> aspect``: a three-class, single-sentence task. Sentences with
no highlight or with several are left out (they have no single label). Written as GLUE-style
TSV files (header ``sentence\\tlabel``) that ``prepare --task ACLSUM-ASPECT`` reads.
"""
import json
import os
from collections import Counter
from pathlib import Path
from typing import Dict, List, Tuple

ASPECTS = ("challenge", "approach", "outcome")
SPLITS = (("train", "train"), ("val", "dev"), ("test", "test"))  # aclsum's file -> ours


def examples(paper: dict) -> List[Tuple[str, str]]:
    """``[(sentence, aspect)]`` of one aclsum paper (a line of its ``*.jsonl``), sections in the
    paper's order."""
    out = []
    for section, sentences in paper["sentences"].items():
        for i, sentence in enumerate(sentences):
            aspects = [a for a in ASPECTS if paper["highlights"][a][section][i] == 1]
            if len(aspects) == 1:
                out.append((" ".join(sentence.split()), aspects[0]))  # tabs/newlines cannot occur in a cell
    return out


def write(out_dir: str) -> Dict[str, Counter]:
    """Write ``OUT_DIR/{train,dev,test}.tsv``; returns each split's label counts."""
    import aclsum

    folder = Path(aclsum.__file__).parent / "dataset"
    os.makedirs(out_dir, exist_ok=True)
    counts = {}
    for source, split in SPLITS:
        rows = []
        with open(folder / f"{source}.jsonl", encoding="utf-8") as f:
            for line in f:
                rows += examples(json.loads(line))
        path = os.path.join(out_dir, f"{split}.tsv")
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            f.write("sentence\tlabel\n")
            f.writelines(f"{s}\t{a}\n" for s, a in rows)
        os.replace(path + ".tmp", path)
        counts[split] = Counter(a for _, a in rows)
    return counts
