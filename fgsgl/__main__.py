"""`python -m fgsgl` is the `fgsgl` console script."""

from fgsgl.cli import main

raise SystemExit(main())
