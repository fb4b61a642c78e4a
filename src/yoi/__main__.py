"""``python -m yoi``: the same as the ``yoi`` command."""

from yoi.cli import main

main()
