"""`python -m lib`: the command line (lib.cli)."""

from lib.cli import main

main()
