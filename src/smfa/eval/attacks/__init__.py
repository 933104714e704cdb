"""Attacks on forgetting, one module each, registered in :data:`smfa.registry.ATTACKS`
(the registry imports every module of this package on first use)."""
