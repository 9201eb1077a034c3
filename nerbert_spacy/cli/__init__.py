"""The ``nerbert`` command line (Typer). Commands are thin: parse arguments,
call library functions, print progress. Every NerbertError becomes one line on
stderr and exit code 1."""
import sys

import typer

from ..errors import NerbertError
from . import corpus, data, evaluate, export, labels, model, viz

app = typer.Typer(
    name="nerbert",
    help="NER-BERT for spaCy: weak-label corpora from Wikipedia + DBpedia, pretraining, "
    "fine-tuning, evaluation and annotation-tool export.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(corpus.app, name="corpus")
app.add_typer(model.app, name="model")
app.add_typer(data.app, name="data")
app.add_typer(viz.app, name="viz")
app.add_typer(labels.app, name="labels")
evaluate.register(app)
export.register(app)


def main() -> None:
    try:
        app()
    except NerbertError as err:
        typer.secho(f"error: {err}", fg=typer.colors.RED, err=True)
        sys.exit(1)
