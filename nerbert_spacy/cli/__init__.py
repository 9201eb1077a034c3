"""The ``nerbert`` command line (Typer). Commands are thin: parse arguments,
call library functions, print progress. Every NerbertError becomes one line on
stderr and exit code 1 (``_util``).

Each module holds one app: ``corpus``, ``model``, ``data``, ``viz`` and
``labels`` are command groups; ``evaluate`` (``evaluate``, ``grid``) and
``export`` (``export``, ``import``, ``package``) hold top-level commands.
"""
import typer

from . import corpus, data, evaluate, export, labels, model, viz
from ._util import run

app = typer.Typer(
    name="nerbert",
    help="NER-BERT for spaCy: weak-label corpora from Wikipedia + DBpedia, pretraining, "
    "fine-tuning, evaluation and annotation-tool export.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(evaluate.app)
app.add_typer(export.app)
app.add_typer(corpus.app, name="corpus")
app.add_typer(model.app, name="model")
app.add_typer(data.app, name="data")
app.add_typer(viz.app, name="viz")
app.add_typer(labels.app, name="labels")


def main() -> None:
    run(app)
