import numpy as np
import torch

from fairseq_unilmv2.data.objective_dataset import ObjectiveDataset
from fairseq_unilmv2.masking import roles

from .helpers import PAD, pmlm_example, random_text


class _Blocks(torch.utils.data.Dataset):
    def __init__(self, n):
        self.items = [torch.from_numpy(random_text(10 + 3 * i, i)) for i in range(n)]
        self.sizes = np.array([len(x) for x in self.items])

    def __getitem__(self, i):
        return self.items[i]

    def __len__(self):
        return len(self.items)


def _dataset(seed):
    pack = lambda tokens, rng: pmlm_example(tokens, int(rng.integers(1 << 30)))  # noqa: E731
    return ObjectiveDataset(_Blocks(8), pack, pad_idx=PAD, seed=seed, length_factor=1.3)


def _batch(ds, epoch):
    ds.set_epoch(epoch)
    return ds.collater([ds[i] for i in range(len(ds))])


def test_same_seed_same_batches_and_new_masks_each_epoch():
    a, b = _batch(_dataset(seed=3), 1), _batch(_dataset(seed=3), 1)
    for key in a["net_input"]:
        assert torch.equal(a["net_input"][key], b["net_input"][key])
    assert torch.equal(a["target"], b["target"])
    # a resumed run sets the epoch again and gets exactly the masks of the interrupted one
    ds = _dataset(seed=3)
    _batch(ds, 2)
    assert torch.equal(_batch(ds, 1)["net_input"]["src_tokens"], a["net_input"]["src_tokens"])
    assert not torch.equal(_batch(_dataset(seed=3), 2)["target"], a["target"])
    assert not torch.equal(_batch(_dataset(seed=4), 1)["target"], a["target"])


def test_collater_pads_every_field_consistently():
    batch = _batch(_dataset(seed=0), 1)
    net = batch["net_input"]
    pad = net["kind"] == roles.PAD
    assert pad.any()
    assert torch.all(net["src_tokens"][pad] == PAD) and torch.all(batch["target"][pad] == PAD)
    # ntokens counts the text, not what PMLM appends to it
    appended = (net["kind"] == roles.PSEUDO) | (net["kind"] == roles.ORIGINAL)
    assert batch["ntokens"] == int((~pad & ~appended).sum())
