"""A fix for a silent data loss in the fairseq we install.

fairseq ``main`` (which ``fairseq-fixed`` packages) drops the last batch when its size is not a
multiple of ``--required-batch-size-multiple`` (default 8): ``fairseq-generate`` then skips up
to 7 examples of the test set and validation skips some too, without a word. Outside the
training subset we batch with a multiple of 1, so every example is seen.
"""


class KeepEveryExampleMixin:
    def get_batch_iterator(self, dataset, *args, **kwargs):
        train = self.datasets.get(getattr(self.cfg, "train_subset", "train"))
        if dataset is not train:
            kwargs["required_batch_size_multiple"] = 1
        return super().get_batch_iterator(dataset, *args, **kwargs)
