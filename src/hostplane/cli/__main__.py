"""`python -m hostplane.cli` runs the `hostplane` command."""

from hostplane.cli.main import app

app(prog_name="hostplane")
