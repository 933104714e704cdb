"""``smfa run``: the whole experiment from one YAML config, cached stage by stage.

``config`` (the typed run config), ``cache`` (the stage cache in ``manifest.json``),
``train_jobs`` (the original and retain-only models in child processes) and ``run`` (the loop).
"""

from smfa.pipeline.config import MethodSpec, RunConfig, load_run_config
from smfa.pipeline.run import demo, run

__all__ = ["MethodSpec", "RunConfig", "demo", "load_run_config", "run"]
