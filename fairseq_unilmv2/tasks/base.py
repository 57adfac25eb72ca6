"""What both tasks share: one dictionary for source and target (one Transformer, one
embedding table). Every example of every split is batched: see ``data/batching.py``."""
from fairseq.tasks import FairseqTask


class UniLMTask(FairseqTask):
    dictionary = None  # set by the subclass: the one vocabulary of the one Transformer

    @property
    def source_dictionary(self):
        return self.dictionary

    @property
    def target_dictionary(self):
        return self.dictionary
