"""smfa: selective unlearning for multimodal LLMs (Sculpted Memory Forgetting Adapter).

Paper: Zeng et al., "Towards Benign Memory Forgetting for Selective Multimodal Large Language
Model Unlearning", arXiv 2511.20196.
"""

__version__ = "0.1.0"
