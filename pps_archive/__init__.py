"""Shared kernel of pps-archive: the error classes, exit codes and atomic file writes.

The three working packages (``scanners``, ``archive_media``, ``pipeline``) may all import this
package; it imports none of them. Dependencies between the three point one way:
``pipeline`` imports ``scanners`` and ``archive_media``, never the reverse.
"""

from pps_archive.errors import ExitCode, PPSArchiveError

__version__ = "0.1.0"

__all__ = ["ExitCode", "PPSArchiveError", "__version__"]
