"""smfa: selective unlearning for multimodal LLMs (Sculpted Memory Forgetting Adapter).

Paper: Zeng et al., "Towards Benign Memory Forgetting for Selective Multimodal Large Language
Model Unlearning", arXiv 2511.20196.

The Python API mirrors the CLI: ``smfa.bench.build``, ``smfa.train_original``,
``smfa.unlearn``, ``smfa.evaluate``, ``smfa.run`` (imported on first use).
"""

__version__ = "0.1.0"

_API = {
    "train_original": "smfa.stages.train_original",
    "unlearn": "smfa.stages.unlearn",
    "evaluate": "smfa.stages.evaluate",
    "run": "smfa.pipeline.run",
    "demo": "smfa.pipeline.run",
}


def __getattr__(name: str):
    if name in _API:
        import importlib

        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'smfa' has no attribute {name!r}")
