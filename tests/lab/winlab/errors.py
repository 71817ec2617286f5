"""The error the lab's command line reports to the operator."""

from __future__ import annotations


class LabError(Exception):
    """A failure the operator can act on; printed without a traceback."""
