"""Logging set-up shared by the workflow scripts: one stream, one format.

It also routes an uncaught exception into the log: Snakemake (and Slurm)
point the user at the rule's log file, so the error and its traceback must
be there, not on stderr only.
"""

from __future__ import annotations

import logging
import sys

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(
    log_file: str | None = None, level: int = logging.INFO, fmt: str = FORMAT
) -> logging.Logger:
    """Log to the rule's log file (and stderr), one line per event, uncaught errors included."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        handlers.append(logging.FileHandler(log_file, mode="w"))
    logging.basicConfig(level=level, format=fmt, handlers=handlers, force=True)
    sys.excepthook = log_uncaught
    return logging.getLogger("dnatune")


def log_uncaught(kind, error, traceback) -> None:
    """sys.excepthook: the error with its traceback through every handler (file and stderr).

    Ctrl-C keeps Python's own short report.
    """
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, error, traceback)
        return
    logging.getLogger("dnatune").critical(
        "failed with %s: %s", kind.__name__, error, exc_info=(kind, error, traceback)
    )
