"""Entry point for ``python -m stance``."""

import sys

from stance.cli import main

sys.exit(main())
