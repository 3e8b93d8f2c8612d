"""``python -m pps_archive``: the ``pps-archive`` command, safe to run from any folder.

``python -m`` puts the working directory first on the import path, so a ``pipeline.py``,
``scanners.py`` or ``archive_media.py`` there would shadow the program's top-level packages (the
``pps-archive`` console script does not put it there). This entry moves that directory to the end
of the path before importing anything else of ours: installed packages win, and a source checkout
run from its own root still finds itself.
"""

import os
import sys


def _working_directory_last() -> None:
    cwd = os.getcwd()
    entries = [p for p in sys.path if p in ("", cwd)]
    if entries:
        sys.path[:] = [p for p in sys.path if p not in ("", cwd)] + entries


_working_directory_last()

from pipeline.cli import main  # noqa: E402 - only after the path is fixed (the reason for this module)

sys.exit(main())
