"""``python -m streamrec.cli`` runs the ``streamrec`` command."""

from streamrec.cli.main import cli

cli()
