"""``python -m tracetape.cli``: the same as the ``tracetape`` command."""

from tracetape.cli.main import main

raise SystemExit(main())
