"""User-editable configuration: one strict base for every config model and one YAML reader.

Every file under ``conf/`` (privacy policy, gates, features, segments) is read by
:func:`read_yaml_mapping` and validated into a :class:`StrictConfig` subclass, so an unknown
key, a wrong type or a malformed file is one :class:`~kequn.errors.ConfigError` line naming
the file and the key, whichever file it is.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from kequn.errors import ConfigError

__all__ = ["StrictConfig", "first_error", "read_yaml_mapping"]


class StrictConfig(BaseModel):
    """Base of every configuration model: unknown keys are an error, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def read_yaml_mapping(path: str | os.PathLike[str], *, what: str = "configuration file") -> dict[str, Any]:
    """Read a user-editable YAML file whose top level is a mapping (one-line ConfigError otherwise).

    ``what`` names the file's kind in the messages ("no such gates file").
    """
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such {what}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML ({type(exc).__name__})") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must be a mapping at the top level. Got {type(data).__name__}")
    return data


def first_error(exc: ValidationError) -> str:
    """The first validation error as ``where: what. Got ...`` on one line (no data values beyond it)."""
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ())) or "(top level)"
    kind = err.get("type", "")
    msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    if kind == "extra_forbidden":
        return f"unknown key {where!r}"
    if kind == "missing":
        return f"{where}: required key is missing"
    if kind == "literal_error":
        return f"{where}: {msg}. Got {err.get('input')!r}"
    return f"{where}: {msg}"
