import typer

app = typer.Typer(help="labels commands", no_args_is_help=True)
