"""The headless ``avatarchat`` command line (subcommands live in ``cli/cmd_*.py``)."""
