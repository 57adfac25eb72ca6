"""What both tasks share: one dictionary for source and target, and every example batched.

fairseq ``main`` (which ``fairseq-fixed`` packages) drops the last batch when its size is not a
multiple of ``--required-batch-size-multiple`` (default 8): ``fairseq-generate`` then skips up
to 7 examples of the test set and validation skips some too, without a word. Outside the
training subset we batch with a multiple of 1, so every example is seen.
"""
from fairseq.tasks import FairseqTask


class UniLMTask(FairseqTask):
    dictionary = None  # set by the subclass: the one vocabulary of the one Transformer

    def get_batch_iterator(self, dataset, *args, **kwargs):
        if dataset is not self.datasets.get(self.cfg.train_subset):
            kwargs["required_batch_size_multiple"] = 1
        return super().get_batch_iterator(dataset, *args, **kwargs)

    @property
    def source_dictionary(self):
        return self.dictionary

    @property
    def target_dictionary(self):
        return self.dictionary
