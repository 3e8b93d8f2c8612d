"""``python -m pipeline.cli``: the same as the ``pps-archive`` command."""

import sys

from pipeline.cli import main

sys.exit(main())
