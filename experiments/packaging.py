"""What a logged model needs to load anywhere MLflow runs: its requirements and its code.

kequn is not on any package index, so a model whose ``requirements.txt`` names ``kequn`` cannot
be restored by ``mlflow models serve``, a batch-scoring job or a colleague's fresh environment.
Instead every ``mlflow.pyfunc.log_model`` call passes ``**model_env(python_model)``:

- ``pip_requirements``: third-party distributions only, each pinned to the installed version:
  :data:`MODEL_DISTRIBUTIONS` (what every model needs at load and predict time, including the
  libraries imported lazily in ``load_context``/``predict``) plus the distributions of every
  other third-party module the pickled model refers to or its shipped code imports when loaded.
- ``code_paths``: exactly the modules of our packages that unpickling the model imports: the
  modules its pickle refers to (found by unpickling it once with a recording unpickler) and,
  transitively, what those modules import at module level (read from their source, never
  executed). They are copied into a staging tree under their package directories
  (``experiments/uplift.py``, ``kequn/errors.py``...), so MLflow ships ``code/experiments`` and
  ``code/kequn`` with the model and, since it puts ``code/`` first on ``sys.path`` at load, the
  pickle finds each class under the dotted name it was saved with.

The staged ``__init__.py`` of each shipped package ends with a small hook: where the full
package is installed as well (kequn's own environment), its directory goes first on the
package's ``__path__``, so loading a model never hides the installed modules behind the few
the model ships (a notebook that loads a model and then imports ``experiments.train`` works).
"""

from __future__ import annotations

import ast
import atexit
import functools
import io
import pickle
import shutil
import sys
import tempfile
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, packages_distributions, version
from pathlib import Path
from typing import Any

from kequn.errors import TrainingError

__all__ = ["FIRST_PARTY", "MODEL_DISTRIBUTIONS", "code_paths", "load_pyfunc", "model_env", "pip_requirements",
           "shipped_modules"]

#: Our top-level packages: shipped as code, never named as a requirement.
FIRST_PARTY = ("kequn", "privacy", "features", "experiments", "pipelines", "conf")
#: Distributions every logged model needs at load and predict time. ``xgboost`` and
#: ``scikit-learn`` are listed because the scorers import them lazily (``load_context``), where
#: neither the pickle nor module-level imports show them; ``pyarrow`` reads Parquet for batch
#: scoring; ``cloudpickle`` restores the python_model.
MODEL_DISTRIBUTIONS = ("mlflow", "cloudpickle", "numpy", "pandas", "pyarrow", "scikit-learn", "xgboost")

#: Appended to each shipped package's ``__init__.py`` (see the module docstring).
_INIT_HOOK = '''

# --- added by experiments/packaging.py when this copy was shipped with a model --------------
# This copy holds only the modules the model needs. Where the full package is installed too,
# its directory goes first on __path__, so the installed modules stay importable.
def _kequn_full_package_path():
    import importlib.machinery
    import os
    import sys

    shipped = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    others = [p for p in sys.path if os.path.abspath(p or os.curdir) != shipped]
    spec = importlib.machinery.PathFinder.find_spec(__name__, others)
    for finder in sys.meta_path:
        if spec is not None:
            break
        if finder is importlib.machinery.PathFinder or not hasattr(finder, "find_spec"):
            continue
        try:
            spec = finder.find_spec(__name__, None)
        except Exception:  # a third-party finder that cannot answer: no full package
            spec = None
    here = os.path.dirname(os.path.abspath(__file__))
    return [p for p in (spec.submodule_search_locations or []) if os.path.abspath(p) != here] if spec else []


__path__[:0] = _kequn_full_package_path()
del _kequn_full_package_path
'''


def model_env(python_model: Any) -> dict[str, Any]:
    """Keyword arguments for ``mlflow.pyfunc.log_model``: ``code_paths`` and ``pip_requirements``."""
    referenced = _pickled_modules(python_model)
    modules = _closure(m for m in referenced if _is_ours(m))
    third_party = {m for m in referenced if not _is_ours(m)}
    return {"code_paths": code_paths(modules), "pip_requirements": _requirements(third_party, modules)}


def pip_requirements(python_model: Any = None, modules: Iterable[str] | None = None) -> list[str]:
    """Pinned third-party requirements of a logged model (never a package of ours).

    Given explicitly because MLflow's inference costs seconds and would name ``kequn``.
    ``python_model`` and ``modules`` (our modules shipped with it) add the distributions of
    the third-party modules they refer to at load time.

    Raises
    ------
    TrainingError
        The model needs a module that no installed distribution provides.
    """
    third_party: set[str] = set()
    if python_model is not None:
        referenced = _pickled_modules(python_model)
        third_party = {m for m in referenced if not _is_ours(m)}
        if modules is None:
            modules = _closure(m for m in referenced if _is_ours(m))
    return _requirements(third_party, modules or ())


def _requirements(third_party: set[str], modules: Iterable[str]) -> list[str]:
    names: dict[str, None] = dict.fromkeys(MODEL_DISTRIBUTIONS)
    third_party = set(third_party)
    for module in modules:
        third_party |= _module_imports(module)[1]
    providers = _providers()
    for module in sorted(third_party):
        top = module.split(".")[0]
        if top in sys.stdlib_module_names or top == "__main__":
            continue
        dists = providers.get(top)
        if not dists:
            raise TrainingError(f"the logged model needs module {top!r}, which no installed distribution "
                                "provides; a fresh environment could not load it")
        if not any(_canonical(d) in names for d in dists):  # mlflow: mlflow, mlflow-skinny...
            names.setdefault(_canonical(dists[0]))
    return [_pin(name) for name in names]


def shipped_modules(python_model: Any) -> list[str]:
    """Our modules that loading ``python_model`` imports (sorted, parents before children)."""
    return _closure(m for m in _pickled_modules(python_model) if _is_ours(m))


def _closure(modules: Iterable[str]) -> list[str]:
    todo = list(modules)
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]  # importing a.b runs a/__init__
        todo += sorted(_module_imports(name)[0] - seen)
    return sorted(seen)


def code_paths(modules: Iterable[str]) -> list[str]:
    """Stage ``modules`` (our dotted names) under their package directories; return the top-level
    package directories to pass as ``code_paths`` (MLflow copies them into the model)."""
    staging = Path(tempfile.mkdtemp(prefix="kequn-model-code-"))
    atexit.register(shutil.rmtree, staging, ignore_errors=True)
    tops: dict[str, None] = {}
    for name in modules:
        source = _source_file(name)
        if source is None and _root().joinpath(*name.split(".")).is_dir():
            continue  # a namespace package: its directory is made for its modules
        if source is None:
            raise TrainingError(f"cannot ship module {name!r} with the model: its source file is missing")
        rel = Path(*name.split("."))
        target = staging / (rel / "__init__.py" if source.name == "__init__.py" else rel.with_suffix(".py"))
        target.parent.mkdir(parents=True, exist_ok=True)
        text = source.read_text(encoding="utf-8")
        target.write_text(text + _INIT_HOOK if source.name == "__init__.py" else text, encoding="utf-8")
        tops.setdefault(name.split(".")[0])
    return [str(staging / top) for top in tops]


# --------------------------------------------------------------------------- helpers

@functools.lru_cache(maxsize=1)
def _providers() -> dict[str, list[str]]:
    """Top-level import name → distributions (scans every installed distribution once)."""
    return packages_distributions()


def _is_ours(module: str) -> bool:
    return module.split(".")[0] in FIRST_PARTY


def _pickled_modules(python_model: Any) -> set[str]:
    """Modules the pickle of ``python_model`` refers to (MLflow saves it with cloudpickle)."""
    import cloudpickle

    seen: set[str] = set()

    class _Recorder(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            seen.add(module)
            return super().find_class(module, name)

    _Recorder(io.BytesIO(cloudpickle.dumps(python_model))).load()
    return seen


def _root() -> Path:
    """The directory holding our top-level packages (this file is ``<root>/experiments/...``)."""
    return Path(__file__).resolve().parent.parent


def _source_file(name: str) -> Path | None:
    base = _root().joinpath(*name.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _module_imports(name: str) -> tuple[set[str], set[str]]:
    """(our modules, third-party modules) that module ``name`` imports when it is imported.

    Only statements that run at import time count: the module body, ``if``/``try``/``with``
    blocks and class bodies, not function bodies (lazy imports) nor ``if TYPE_CHECKING:``.
    """
    source = _source_file(name)
    if source is None:
        return set(), set()
    is_package = source.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    ours: set[str] = set()
    others: set[str] = set()

    def add(module: str) -> None:
        if _is_ours(module):
            parts = module.split(".")
            # the longest prefix that is a module of ours (``from a.b import name`` names a.b)
            for i in range(len(parts), 0, -1):
                if _source_file(".".join(parts[:i])) is not None:
                    ours.add(".".join(parts[:i]))
                    break
        else:
            others.add(module)

    def visit(nodes: Iterable[ast.AST]) -> None:
        for node in nodes:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                visit(node.orelse)
                continue
            if isinstance(node, ast.Import):
                for alias in node.names:
                    add(alias.name)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - node.level + 1]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                else:
                    base = node.module or ""
                if base == "__future__":
                    continue
                add(base)
                if _is_ours(base):
                    for alias in node.names:  # ``from experiments import data`` imports a module
                        if _source_file(f"{base}.{alias.name}") is not None:
                            ours.add(f"{base}.{alias.name}")
            visit(ast.iter_child_nodes(node))

    visit(ast.parse(source.read_text(encoding="utf-8"), filename=str(source)).body)
    return ours, others


def _canonical(dist: str) -> str:
    return dist.lower().replace("_", "-")


def _pin(dist: str) -> str:
    try:
        return f"{dist}=={version(dist)}"
    except PackageNotFoundError as exc:
        raise TrainingError(f"the logged model needs distribution {dist!r}, which is not installed") from exc


def load_pyfunc(model_uri: str) -> Any:
    """``mlflow.pyfunc.load_model(model_uri)``, leaving this process's imports as they were.

    Loading a model with ``code_paths`` puts its copy of our code first on ``sys.path`` and drops
    our modules from ``sys.modules`` so that they re-import from the copy. Left so, every later
    import in the process (and every ``spawn`` child, which inherits ``sys.path``: the tuning
    workers of ``train --workers``) reads the model's frozen copy instead of the installed kequn,
    which may lack newer modules. The loaded model keeps the classes it was unpickled with.
    """
    import sys

    import mlflow

    saved_path = list(sys.path)
    saved_modules = {k: v for k, v in sys.modules.items() if _is_ours(k)}
    try:
        return mlflow.pyfunc.load_model(model_uri)
    finally:
        sys.path[:] = saved_path
        for name in [m for m in sys.modules if _is_ours(m) and m not in saved_modules]:
            del sys.modules[name]
        sys.modules.update(saved_modules)
