import typer


def register(app: typer.Typer) -> None:
    """Add this module's top-level commands to the root app."""
