"""The one error hierarchy of netsynth.

Every error a user can cause derives from `NetsynthError`; the CLI turns it into exit code 2 and the
job API into an HTTP 4xx answer. Messages name the offending value and what was expected.
"""

from __future__ import annotations


class NetsynthError(Exception):
    """Root of every error netsynth raises on purpose."""


class DSLError(NetsynthError, ValueError):
    """A grammar, operator table, parse or type error in a DSL or a program."""


class SpecError(NetsynthError, ValueError):
    """A spec field is missing or has a value of the wrong kind."""


class ModelError(NetsynthError, ValueError):
    """A model cannot be loaded safely, or does not fit its spec."""


class EncodingError(NetsynthError, ValueError):
    """A value cannot be expressed in the encoding the spec asks for."""


class Z3EncodingError(NetsynthError):
    """A program cannot be encoded for Z3 (for example, a bit-vector would be too wide)."""


class ComputeError(NetsynthError):
    """Ray cannot be joined: nothing answers at the cluster's address, the cluster refuses this
    driver's authentication token, or it runs another Ray or Python version."""
