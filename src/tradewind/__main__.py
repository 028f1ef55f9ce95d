"""``python -m tradewind`` runs the CLI."""

from tradewind.cli import app

app(prog_name="tradewind")
