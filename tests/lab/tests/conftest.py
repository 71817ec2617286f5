"""Fixtures of winlab's model/executor/profile tests (defined in labtest.py)."""

from labtest import host, keys

__all__ = ["host", "keys"]
