"""MLflow tracking helpers shared by every step that talks to MLflow.

Tracking uses ``MLFLOW_TRACKING_URI`` when set, else ``sqlite:///mlflow.db`` in the working
directory; the model registry uses the same store. Identity: ``KEQUN_USER`` when set, else
the operating-system user.
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path

AUTHOR_TAG = "kequn.author"


def tracking_uri() -> str:
    """The tracking URI in force (environment, else SQLite in the working directory)."""
    uri = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    return uri or f"sqlite:///{Path.cwd() / 'mlflow.db'}"


def configure_tracking() -> str:
    """Point MLflow (tracking and registry) at :func:`tracking_uri` and return it."""
    import logging

    import mlflow

    # Alembic prints every schema migration of a new SQLite store at INFO; keep stderr readable.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    uri = tracking_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def current_user() -> str:
    """The acting person: the tracking server's user (``MLFLOW_TRACKING_USERNAME``, for an
    ``http(s)://`` tracking URI), else ``KEQUN_USER``, else the operating-system user."""
    if tracking_uri().startswith(("http://", "https://")):
        server_user = os.environ.get("MLFLOW_TRACKING_USERNAME", "").strip()
        if server_user:
            return server_user
    user = os.environ.get("KEQUN_USER", "").strip()
    if user:
        return user
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return "unknown"
