"""Root of the ``kequn`` CLI.

Commands are loaded lazily so ``kequn --help`` stays instant (mlflow, xgboost and presidio are
imported only by the command that needs them). A :class:`~kequn.errors.KequnError` becomes
one line on stderr and exit code 1; a usage error (unknown option or command, bad choice or
value, missing option) is one line too, with click's suggestion and the command's ``--help``,
and exits 2 (click's convention).
"""

from __future__ import annotations

import difflib
import importlib
import os
import sys

import click

# Passive OpenMP waiting, set before a command loads numpy/xgboost (see kequn/threads.py).
import kequn.threads  # noqa: F401
from kequn import __version__, console
from kequn.errors import KequnError

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
    "score": "score",
    "monitor": "monitor",
    "erase": "erase",
    "plan": "plan",
    "relink": "relink",
    "rekey": "rekey",
    "demo": "demo",
}

#: other spellings accepted on the command line (not listed in ``kequn --help``)
ALIASES = {"pseudonymize": "pseudonymise"}

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
    "score": "Score a feature table with a verified model version (tokens + scores).",
    "monitor": "Compare a new snapshot with a model's training reference (PSI, migration).",
    "erase": "Erase people from a clean zone and feature tables; list models to retrain (PIPL Art. 47).",
    "plan": "Build the campaign and retention contact list from governed models (tokens only).",
    "relink": "Secure zone: turn a plan's tokens into contact details for one approved purpose (audited).",
    "rekey": "Secure zone: rotate the pseudonymisation key; old→new token map, migrate tables (audited).",
    "demo": "Run the whole chain on a synthetic bank: synth → pseudonymise → features → train.",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMANDS.get(ALIASES.get(cmd_name, cmd_name))
        if module is None:
            return None
        return importlib.import_module(f"pipelines.cli.{module}").command

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[str | None, click.Command | None,
                                                                          list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            # One message whatever click's version (older ones give no suggestion).
            close = difflib.get_close_matches(name, [*COMMANDS, *ALIASES], n=1)
            suggestion = f" Did you mean {ALIASES.get(close[0], close[0])!r}?" if close else ""
            raise click.UsageError(f"No such command {name!r}.{suggestion}", ctx)
        return super().resolve_command(ctx, args)

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


def usage_error_line(exc: click.UsageError, argv: list[str]) -> str:
    """Click's usage error as one line: the message, its suggestion and where help is.

    Click prints a usage line, a hint and the error on four lines, worded differently across
    versions; kequn prints one line in one wording, e.g.
    ``kequn: error: No such option '--custmers'. Did you mean '--customers'? Try 'kequn demo --help'.``
    """
    if isinstance(exc, click.NoSuchOption):
        message = f"No such option {exc.option_name!r}."
        if exc.possibilities:
            message += f" Did you mean {' or '.join(repr(p) for p in sorted(exc.possibilities))}?"
    else:
        message = " ".join(exc.format_message().split())  # "Choose from:\n\tchurn,\n\t..." on one line
    if message and message[-1] not in ".?!":
        message += "."
    if exc.ctx is not None:
        path = exc.ctx.command_path
    else:  # errors raised while parsing a command's options carry no context
        named = [a for a in argv if a in COMMANDS or a in ALIASES]
        path = f"kequn {ALIASES.get(named[0], named[0])}" if named else "kequn"
    return f"kequn: error: {message} Try '{path} --help'."


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    import warnings

    # Older pydantic (our floor's range) warns, at MLflow's import, about MLflow's own field names
    # ("model_..." against its protected namespace, "schema" shadowing BaseModel): not the user's
    # business, and it would break the one-line error on stderr.
    warnings.filterwarnings("ignore", category=UserWarning, module=r"pydantic\._internal\._fields")
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        code = cli.main(args=args, prog_name="kequn", standalone_mode=False)
        if isinstance(code, int) and code != 0:  # click < 8.2 returns an Exit's code instead of raising
            sys.exit(code)
    except KequnError as exc:
        click.echo(f"kequn: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("kequn: aborted", err=True)
        sys.exit(130)
    except click.UsageError as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare `kequn` (click >= 8.2): the help text
            exc.show()
        else:
            click.echo(usage_error_line(exc, args), err=True)
        sys.exit(exc.exit_code)
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
