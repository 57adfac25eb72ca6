from setuptools import find_packages, setup

# Versions are pinned in requirements.txt and installed by install.sh (fairseq needs a
# from-source, hash-checked build that pip's resolver cannot express here).
setup(
    name="fairseq-unilmv2",
    version="0.1.0",
    description="UniLMv2 (PMLM) pre-training, seq2seq fine-tuning and generation as a fairseq plugin",
    packages=find_packages(include=["fairseq_unilmv2", "fairseq_unilmv2.*"]),
    python_requires=">=3.11",
    install_requires=["fairseq-fixed", "torch", "numpy"],
    entry_points={"console_scripts": [
        "unilmv2-score = fairseq_unilmv2.scoring.score_cli:main",
        "unilmv2-export-encoder = fairseq_unilmv2.export_encoder:main",
    ]},
)
