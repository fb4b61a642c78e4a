"""``python -m yoi.cli``, the same as the ``yoi`` script."""

from yoi.cli import main

main()
