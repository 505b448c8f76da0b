"""``python -m discomy``: the same as the ``discomy`` command."""

import sys

from discomy.cli import main

sys.exit(main())
