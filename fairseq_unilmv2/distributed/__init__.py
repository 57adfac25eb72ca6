"""Multi-process training on fairseq's engine: what the plugin adds so that data-parallel runs
launch on CPU and GPU (``launch.py``, loaded alone by ``unilmv2-launch``) and resume exactly
(``checkpoint_io``)."""
