"""MLflow tracking helpers shared by every step that talks to MLflow.

Tracking uses ``MLFLOW_TRACKING_URI`` when set, else ``sqlite:///mlflow.db`` in the working
directory; the model registry uses the same store. Identity: ``KEQUN_USER`` when set, else
the operating-system user.
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path

from kequn.errors import InputError

AUTHOR_TAG = "kequn.author"
DEFAULT_DB = "mlflow.db"
#: MLflow's warning for a model logged without input example (after an ANSI colour code)
INPUT_EXAMPLE_WARNING = r"(\x1b\[[0-9;]*m)?An input example was not provided when logging the model"


def tracking_uri() -> str:
    """The tracking URI in force (environment, else SQLite in the working directory)."""
    uri = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    return uri or f"sqlite:///{Path.cwd() / DEFAULT_DB}"


def display_uri(uri: str) -> str:
    """``uri`` fit for messages and logs: a password in it (``postgresql://user:pw@host/db``) is
    replaced by ``***``."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(uri)
        if parts.password is None:
            return uri
        host = parts.hostname or ""
        netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:  # an unparsable URI: keep only its scheme
        return uri.split("://", 1)[0] + "://***" if "://" in uri else "***"


def require_existing_store() -> None:
    """Refuse to go on when no tracking URI is set and this folder has no ``mlflow.db``.

    Commands that read runs or models (publish, approve, promote, registry) would otherwise
    create an empty store in whatever folder they are run from and then report "no such run".
    """
    if os.environ.get("MLFLOW_TRACKING_URI", "").strip():
        return
    if not (Path.cwd() / DEFAULT_DB).is_file():
        raise InputError(f"no MLflow store here ({Path.cwd()} has no {DEFAULT_DB}); run kequn in the folder "
                         "where you trained, or set MLFLOW_TRACKING_URI")


def configure_tracking(*, must_exist: bool = False) -> str:
    """Point MLflow (tracking and registry) at :func:`tracking_uri` and return it.

    With ``must_exist``, refuse (see :func:`require_existing_store`) instead of creating a new
    SQLite store in the working directory.
    """
    import logging

    if must_exist:
        require_existing_store()
    import mlflow

    # Alembic prints every schema migration of a new SQLite store at INFO, and MLflow says it
    # is creating the tables; keep stderr readable.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)
    silence_input_example_warning()
    uri = tracking_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    if uri.startswith("sqlite:"):
        # Older MLflow (3.0) runs alembic with its own logging config when it creates or migrates
        # a SQLite store, which prints INFO lines whatever our levels say: open the store once
        # here with INFO muted, so a command's stderr stays its own lines.
        previous = logging.root.manager.disable
        logging.disable(logging.INFO)
        try:
            from mlflow.tracking._tracking_service.utils import _get_store

            _get_store()
        except Exception:  # the command's own call reports a store problem properly
            pass
        finally:
            logging.disable(previous)
            # alembic's fileConfig (in MLflow's migration env) set its logger back to INFO
            logging.getLogger("alembic").setLevel(logging.WARNING)
            logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)
    return uri


def silence_input_example_warning() -> None:
    """Keep MLflow's coloured "An input example was not provided" warning off the terminal.

    Segment and uplift models are logged without an input example on purpose (an example would
    be a row of customer data, see CONVENTIONS.md); the warning, in ANSI yellow, only alarms.
    Just this message from ``mlflow.pyfunc`` is ignored; every other warning still shows.
    """
    import warnings

    warnings.filterwarnings("ignore", message=INPUT_EXAMPLE_WARNING, category=UserWarning,
                            module=r"mlflow\.pyfunc")


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
