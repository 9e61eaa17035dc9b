"""The package's layers: every import runs downward, the backend is chosen once.

The order below is the architecture of docs/architecture.rst, bottom first;
a module may import only modules listed before it (deferred imports inside
functions included), so there is neither a cycle nor an upward arrow.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "softmax_regression"

LAYERS = [
    "_version",
    "_checks",
    "_arrays",
    "_weights",
    "_loss",
    "_coef",
    "_scores",
    "_parallel",
    "_shard",
    "_sag_kernels",
    "_cd_kernels",
    "_linear_loss",
    "_duality",
    "_scaling",
    "_solvers",
    "_sag",
    "_cd",
    "_callbacks",
    "_fit",
    "_backends._protocol",
    "_backends.memory",
    "_backends.array_api",
    "_backends.dask",
    "_backends",
    "_inference",
    "_estimator",
    "_paths",
    "_cv",
    "onnx",
    "__main__",
    "",  # the package's __init__
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path) -> set[str]:
    """The package's modules that ``path`` imports, at any depth of its code."""
    name = module_name(path)
    package = name.split(".") if name else []
    if path.name != "__init__.py":
        package = package[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = package[: len(package) - node.level + 1]
            target = ".".join(base + ([node.module] if node.module else []))
        elif (node.module or "").startswith("softmax_regression."):
            target = node.module.removeprefix("softmax_regression.")
        else:
            continue
        found.add(target)
        # ``from . import memory``: the names may be modules themselves.
        found.update(f"{target}.{alias.name}".lstrip(".") for alias in node.names)
    return {module for module in found if module in LAYERS and module != name}


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_every_module_has_a_layer():
    assert sorted(module_name(path) for path in MODULES) == sorted(LAYERS)


@pytest.mark.parametrize("path", MODULES, ids=module_name)
def test_imports_run_downward(path):
    rank = LAYERS.index(module_name(path))
    upward = {m for m in imported_modules(path) if LAYERS.index(m) >= rank}
    assert not upward, f"{module_name(path)} imports {upward} from above it"


def test_the_backend_is_chosen_in_one_place():
    # Only the family detectors' module and the backends' seam ask which
    # family an array is; the estimators call the seam.
    for path in MODULES:
        name = module_name(path)
        text = path.read_text()
        for detector in ("any_dask(", "dispatched_namespace(", 'array_api_dispatch"]'):
            if detector in text:
                assert name in ("_arrays", "_backends", "_backends.array_api"), (
                    f"{name} tests the backend itself ({detector})"
                )
