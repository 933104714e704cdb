"""Unlearning methods; importing this package registers them all in ``smfa.registry.METHODS``."""

from smfa.methods import arithmetic, ascent, refusal, smfa  # noqa: F401  (registration)
