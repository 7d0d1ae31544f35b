"""``python -m backorder_ops``: the same as the ``backorder-ops`` command."""

from .cli import main

main()
