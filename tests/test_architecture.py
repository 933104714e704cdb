"""The package layout (docs/architecture.md): no import cycles, no module importing a later layer,
no stage importing a later stage. Imports are read from the source (module level and inside
functions), so a lazy import counts too."""

from __future__ import annotations

import ast
from pathlib import Path

import smfa

SRC = Path(smfa.__file__).resolve().parent

# Lowest first. A module may import its own layer (without cycles) and the layers below.
LAYERS = [
    (
        "foundation",
        {
            "smfa",
            "smfa.errors",
            "smfa.io",
            "smfa.paths",
            "smfa.progress",
            "smfa.runtime",
            "smfa.provenance",
            "smfa.config",
            "smfa.registry",
            "smfa.prompts",
            "smfa.splits",
            "smfa.names",
            "smfa.layout",
            "smfa.dist",
        },
    ),
    ("bench", "smfa.bench"),
    ("models", "smfa.models"),
    (
        "math and data",
        {"smfa.data", "smfa.losses", "smfa.sculpt", "smfa.merging", "smfa.neurons", "smfa.tailor"},
    ),
    ("training", {"smfa.train", "smfa.memory"}),
    ("adapters", {"smfa.adapters"}),
    ("methods", "smfa.methods"),
    ("ledger", "smfa.ledger"),
    ("evaluation", "smfa.eval"),
    ("report", "smfa.report"),
    ("stages", "smfa.stages"),
    ("pipeline", "smfa.pipeline"),
    ("command line", {"smfa.cli", "smfa.__main__"}),
]
# The CLI stages in pipeline order: a stage never imports a later one.
STAGE_ORDER = [
    "train_original",
    "unlearn",
    "sculpt",
    "ledger",
    "evaluate",
    "attack",
    "report",
    "export",
]


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in SRC.rglob("*.py")}


def imports(path: Path, name: str, known: set[str]) -> set[str]:
    """The smfa modules a file imports (``from a import b`` counts ``a.b`` when it is a module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            for a in node.names:
                out.add(f"{base}.{a.name}" if f"{base}.{a.name}" in known else base)
    return {m for m in out if m in known and m != name}


def layer_of(name: str) -> int:
    for i, (_, members) in enumerate(LAYERS):
        if isinstance(members, str):
            if name == members or name.startswith(members + "."):
                return i
        elif name in members:
            return i
    raise AssertionError(f"{name}: module not placed in a layer (add it to LAYERS)")


def graph() -> dict[str, set[str]]:
    mods = all_modules()
    known = set(mods)
    return {name: imports(path, name, known) for name, path in mods.items()}


def test_every_module_has_a_layer_and_imports_only_lower_layers():
    bad = []
    for name, deps in graph().items():
        for dep in deps:
            if layer_of(dep) > layer_of(name):
                bad.append(
                    f"{name} ({LAYERS[layer_of(name)][0]}) imports {dep} "
                    f"({LAYERS[layer_of(dep)][0]})"
                )
    assert not bad, "\n".join(sorted(bad))


def test_no_import_cycles():
    g = graph()
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for dep in sorted(g[node]):
            if state.get(dep) == 1:
                cycles.append(" -> ".join(stack[stack.index(dep) :] + [dep]))
            elif dep not in state:
                visit(dep, stack + [dep])
        state[node] = 2

    for node in sorted(g):
        if node not in state:
            visit(node, [node])
    assert not cycles, "\n".join(cycles)


def test_no_stage_imports_a_later_stage():
    g = graph()
    order = {f"smfa.stages.{s}": i for i, s in enumerate(STAGE_ORDER)}
    bad = [
        f"{name} imports {dep}"
        for name, deps in g.items()
        if name in order
        for dep in deps
        if dep in order and order[dep] > order[name]
    ]
    assert not bad, "\n".join(bad)


def test_the_walker_sees_lazy_imports():
    """Self-check of this file: imports inside functions count."""
    g = graph()
    assert "smfa.stages.unlearn" in g["smfa.cli"]  # imported inside _commands()
    assert "smfa.methods.smfa" in g["smfa.stages.sculpt"]
