"""What every ``nerbert`` command shares: the app class with the one error path,
and the options several commands declare alike.

Each module of ``cli/`` builds one :class:`App` called ``app`` and declares its
commands as module-level functions with ``@app.command("name")``. Command
groups are added to the root under a name (``nerbert corpus build``); the
modules of top-level commands (``evaluate``, ``grid``, ``export``, ``import``,
``package``) are added without one, so their commands sit at the root.

A :class:`~nerbert_spacy.errors.NerbertError` raised anywhere in a command
becomes one red line ``error: ...`` on stderr and exit code 1: no command
catches it by hand.
"""
import sys
from typing import Any, NoReturn, Optional

import typer
from typer.core import TyperCommand

from ..errors import NerbertError


def report(err: BaseException) -> None:
    """Print ``error: <err>`` in red on stderr."""
    typer.secho(f"error: {err}", fg=typer.colors.RED, err=True)


def fail(err: BaseException) -> NoReturn:
    """Report ``err`` as one line and end the command with exit code 1."""
    report(err)
    raise typer.Exit(code=1)


class ReportingCommand(TyperCommand):
    """A Typer command that turns a NerbertError into :func:`fail`'s one line."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except NerbertError as err:
            fail(err)


class App(typer.Typer):
    """A Typer app whose commands all report NerbertError through :func:`fail`."""

    def command(self, name: Optional[str] = None, **kwargs: Any):  # type: ignore[override]
        kwargs.setdefault("cls", ReportingCommand)
        return super().command(name, **kwargs)


def run(app: typer.Typer) -> None:
    """Run ``app`` as the program: a NerbertError raised outside a command is reported
    the same way, exit code 1."""
    try:
        app()
    except NerbertError as err:
        report(err)
        sys.exit(1)


# options that several commands declare with the same flags


def force_option() -> Any:
    """``--force``: replace a non-empty output folder."""
    return typer.Option(False, "--force", help="Replace a non-empty OUTPUT_DIR")


def gpu_id_option(default: Optional[int]) -> Any:
    """``--gpu-id`` / ``-g``."""
    return typer.Option(default, "--gpu-id", "-g", help="GPU id (-1 = CPU)")


def quiet_option(help: str = "No progress bars") -> Any:
    """``--quiet``: no progress bars on stderr."""
    return typer.Option(False, "--quiet", help=help)


def seed_option(default: Any, help: Optional[str] = None) -> Any:
    """``--seed``."""
    return typer.Option(default, "--seed", help=help)


def output_option(default: Any, help: str, *, short: bool = True) -> Any:
    """``--output`` (and ``-o`` unless ``short`` is False); ``...`` as default makes it required."""
    flags = ("--output", "-o") if short else ("--output",)
    return typer.Option(default, *flags, help=help)


def model_option(help: str) -> Any:
    """``--model`` / ``-m``: a pipeline name or folder, optional."""
    return typer.Option(None, "--model", "-m", help=help)


def lang_option(help: Optional[str] = None) -> Any:
    """``--lang``: the language of a blank pipeline or tokenizer."""
    return typer.Option("en", "--lang", help=help)


def spans_key_option(help: str) -> Any:
    """``--spans-key``: a span group instead of ``doc.ents``."""
    return typer.Option(None, "--spans-key", help=help)


def ontology_option(default: Any, help: str, *, short: bool = True) -> Any:
    """``--ontology`` (and ``-O`` unless ``short`` is False)."""
    flags = ("--ontology", "-O") if short else ("--ontology",)
    return typer.Option(default, *flags, help=help)
