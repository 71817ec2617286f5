"""``python -m winlab ...``: see winlab.cli."""

from winlab.cli import main

raise SystemExit(main())
