"""Unlearning methods, one file each, registered in :data:`smfa.registry.METHODS`.

The registry imports every module of this package on first use, so adding a method is one new
file with one decorated class (see :mod:`smfa.methods.base`); methods outside smfa register the
same way from a plugin module (``$SMFA_PLUGINS``, :mod:`smfa.registry`).
"""
