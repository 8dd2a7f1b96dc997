"""Root of the ``kequn`` CLI.

Commands are loaded lazily so ``kequn --help`` stays instant (mlflow, xgboost and presidio are
imported only by the command that needs them). A :class:`~kequn.errors.KequnError` becomes
one line on stderr and exit code 1; usage errors exit 2 (click's convention).
"""

from __future__ import annotations

import importlib
import os
import sys

# XGBoost's and scikit-learn's OpenMP threads busy-wait by default; on a shared or
# oversubscribed machine that slows small fits up to 100x (see bench/RESULTS.md). It must be set
# before any OpenMP runtime loads, so it is set here, at the root, once.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import click  # noqa: E402

from kequn import __version__, console  # noqa: E402
from kequn.errors import KequnError  # noqa: E402

#: command name -> module under pipelines.cli that defines ``command``
COMMANDS = {
    "synth": "synth",
    "scan": "scan",
    "pseudonymise": "pseudonymise",
    "features": "features",
    "train": "train",
    "publish": "publish",
    "approve": "approve",
    "promote": "promote",
    "registry": "registry",
    "verify": "verify",
    "audit": "audit",
    "keys": "keys",
    "demo": "demo",
}

SHORT_HELP = {
    "synth": "Generate a synthetic Chinese retail bank (raw data with PII).",
    "scan": "Classify every column and find PII in text (no output is changed).",
    "pseudonymise": "Pseudonymise raw tables into a clean zone with a privacy report.",
    "features": "Build point-in-time customer features and labels from a clean zone.",
    "train": "Train and tune a churn, propensity, segment or uplift model, tracked in MLflow.",
    "publish": "Register a run's model as a version and evaluate the gates.",
    "approve": "Approve a pending version (four eyes: not the run's author).",
    "promote": "Point an alias (default champion) at an approved version.",
    "registry": "List model versions with aliases, status, metrics and gates.",
    "verify": "Check a version's or alias's signatures, artifact digest and audit chain.",
    "audit": "Verify the hash-chained audit trail (kequn audit verify).",
    "keys": "Create a person's Ed25519 signing key (kequn keys init --name WHO).",
    "demo": "Run the whole chain on a synthetic bank: synth → pseudonymise → features → train.",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMANDS.get(cmd_name)
        if module is None:
            return None
        return importlib.import_module(f"pipelines.cli.{module}").command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, SHORT_HELP[name]) for name in COMMANDS]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="kequn")
@click.option("-q", "--quiet", is_flag=True, help="Print no progress, only results and errors.")
def cli(quiet: bool) -> None:
    """kequn (客群): privacy-preserving ML for retail-bank customer segmentation.

    \b
    Environment:
      MLFLOW_TRACKING_URI   MLflow tracking store (default: sqlite:///mlflow.db here)
      KEQUN_PSEUDONYM_KEY   pseudonymisation key (or --key-file); never written anywhere
      KEQUN_USER            your name as recorded on runs and registry actions
                            (default: the operating-system user)

    \b
    Start with:  kequn demo
    """
    console.set_quiet(quiet)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    try:
        cli.main(args=argv, prog_name="kequn", standalone_mode=False)
    except KequnError as exc:
        click.echo(f"kequn: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("kequn: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("kequn: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # an internal error: still one line unless debugging
        if os.environ.get("KEQUN_DEBUG"):
            raise
        # The exception text may quote data, so only its type is shown.
        click.echo(f"kequn: internal error ({type(exc).__name__}); set KEQUN_DEBUG=1 for a traceback",
                   err=True)
        sys.exit(3)


if __name__ == "__main__":  # pragma: no cover
    main()
