"""Loading a governed model by URI for the downstream chains (plan; score and monitor may share it).

``models:/NAME@ALIAS`` goes through :func:`pipelines.governance.load_champion` (signatures,
artifact digest and audit chain verified on the very files that are loaded);
``models:/NAME/VERSION`` through :func:`pipelines.governance.verify` with the digest of the
downloaded files, then the same load. An unapproved, unverifiable or unknown version is
refused; nothing else (``runs:/``, a local folder) is accepted, because nothing else proves
that a second person approved the model.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kequn.errors import InputError

__all__ = ["GovernedModel", "load_governed", "parse_model_uri", "predict"]

_URI = re.compile(r"models:/(?P<name>[^/@\s]+)(?:@(?P<alias>[A-Za-z0-9_\-]+)|/(?P<version>\d+))")


@dataclass
class GovernedModel:
    """A verified, loaded pyfunc and where it came from (no data)."""

    uri: str
    name: str
    version: str
    alias: str | None
    run_id: str | None
    pyfunc: Any
    task: str | None = None

    def describe(self) -> dict[str, Any]:
        return {"uri": self.uri, "name": self.name, "version": self.version, "alias": self.alias,
                "run_id": self.run_id, "task": self.task}


def parse_model_uri(uri: str, *, option: str = "--model") -> tuple[str, str | None, str | None]:
    """``(name, alias, version)`` of ``models:/NAME@ALIAS`` or ``models:/NAME/VERSION``."""
    match = _URI.fullmatch(str(uri).strip())
    if match is None:
        raise InputError(f"{option}: expected a registered model as models:/NAME@ALIAS or models:/NAME/VERSION. "
                         f"Got {uri!r}")
    return match["name"], match["alias"], match["version"]


def load_governed(uri: str, *, option: str = "--model", tasks: tuple[str, ...] | None = None) -> GovernedModel:
    """Verify and load the registered model ``uri`` (see the module docstring).

    Raises
    ------
    InputError
        ``uri`` is not a ``models:/`` URI.
    RegistryError
        The model, alias or version does not exist; :class:`~pipelines.governance.VerificationError`
        when it is not approved or does not verify.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    from kequn.errors import RegistryError
    from pipelines import governance, signing
    from pipelines.registry import _client, _get_version, _registered_model

    name, alias, version = parse_model_uri(uri, option=option)
    client = _client()
    if alias is not None:
        _registered_model(client, name)
        try:
            mv = client.get_model_version_by_alias(name, alias)
        except MlflowException:
            raise RegistryError(f"{option}: model {name!r} has no alias @{alias}") from None
    else:
        mv = _get_version(client, name, version)
    task = _task_of(client, mv)
    if tasks is not None and task not in tasks:
        raise InputError(f"{option} {name} v{mv.version}: {_a(task or 'untagged')} model; {option} needs "
                         f"{' or '.join(_a(t) for t in tasks)} model")
    if alias is not None:
        pyfunc = governance.load_champion(name, alias)
        version = str(mv.version)
    else:
        local = governance.download_model(client, mv, Path(tempfile.mkdtemp(prefix="kequn-model-")))
        governance.verify(name=name, version=version, digest=signing.artifact_digest(local), client=client)
        pyfunc = mlflow.pyfunc.load_model(str(local))
    run_id = getattr(getattr(pyfunc, "metadata", None), "run_id", None) or mv.run_id
    return GovernedModel(uri=uri, name=name, version=str(version), alias=alias, run_id=run_id, pyfunc=pyfunc,
                         task=task)


def _a(word: str) -> str:
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


def _task_of(client: Any, mv: Any) -> str | None:
    """The training run's ``kequn.task`` tag (churn, propensity, segment, uplift), if any."""
    from mlflow.exceptions import MlflowException

    if not mv.run_id:
        return None
    try:
        return client.get_run(mv.run_id).data.tags.get("kequn.task")
    except MlflowException:
        return None


def required_columns(model: GovernedModel) -> list[str]:
    """The input columns the model's signature requires (optional ones left out)."""
    schema = model.pyfunc.metadata.get_input_schema()
    if schema is None:
        return []
    return [c.name for c in schema.inputs if c.name and not getattr(c, "optional", False)]


def predict(model: GovernedModel, frame: pd.DataFrame, *, option: str = "--model") -> Any:
    """``model.pyfunc.predict`` on the columns its signature names; missing columns named."""
    from mlflow.exceptions import MlflowException

    from experiments.uplift.model import plain_columns

    needed = required_columns(model)
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        shown = ", ".join(missing[:8]) + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
        raise InputError(f"{option} {model.name} v{model.version}: the feature table lacks the model's "
                         f"input columns {shown}")
    schema = model.pyfunc.metadata.get_input_schema()
    names = [c.name for c in schema.inputs if c.name in frame.columns] if schema is not None else list(frame.columns)
    try:
        return model.pyfunc.predict(plain_columns(frame[names]))
    except MlflowException as exc:
        first = str(getattr(exc, "message", exc)).strip().splitlines()[0][:300]
        raise InputError(f"{option} {model.name} v{model.version}: the feature table does not match the "
                         f"model's signature ({first})") from None


def as_vector(result: Any, n: int, *, what: str) -> np.ndarray:
    """A model's per-row numeric output as a float vector of length ``n``."""
    if isinstance(result, pd.DataFrame):
        result = result.iloc[:, -1] if result.shape[1] > 1 else result.iloc[:, 0]
    values = np.asarray(result, dtype="float64")
    if values.ndim == 2:
        values = values[:, -1]
    if values.shape != (n,):
        raise InputError(f"{what}: the model returned {values.shape} values for {n} rows")
    return values
