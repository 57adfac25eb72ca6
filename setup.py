from setuptools import find_packages, setup

# Versions are pinned in requirements.txt and installed by install.sh (fairseq needs a
# from-source, hash-checked build that pip's resolver cannot express here).
setup(
    name="fairseq-unilmv2",
    version="0.1.0",
    description="UniLMv2 (PMLM) pre-training, seq2seq fine-tuning and generation as a fairseq plugin",
    packages=find_packages(include=["fairseq_unilmv2", "fairseq_unilmv2.*"]),
    # console scripts' entry points, outside the package so that --help does not import fairseq
    py_modules=["unilmv2_cli"],
    python_requires=">=3.11",
    install_requires=["fairseq-fixed", "torch", "numpy"],
    entry_points={"console_scripts": [
        "unilmv2-score = unilmv2_cli:score",
        "unilmv2-export-encoder = unilmv2_cli:export_encoder",
        "unilmv2-convert-hf = unilmv2_cli:convert_hf",
        "unilmv2-export-hf = unilmv2_cli:export_hf",
        "unilmv2-launch = unilmv2_cli:launch",
        "unilmv2-glue = unilmv2_cli:glue",
        "unilmv2-squad = unilmv2_cli:squad",
        "unilmv2-options = unilmv2_cli:options",
    ]},
)
