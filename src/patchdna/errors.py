"""The one exception family for user mistakes.

Anything a person can fix (a bad image, a wrong flag value, a missing model folder) raises a subclass of
`PatchDNAError` with a message that says what to do; the CLI prints it as one line and exits with code 2.
Programmer errors stay plain `assert`/`TypeError` and keep their tracebacks.
"""

from __future__ import annotations


class PatchDNAError(Exception):
    """Base class of every user-facing error."""


class InputImageError(PatchDNAError):
    """An image or mask file that cannot be read or used."""


class ModelFolderError(PatchDNAError):
    """A model folder that is missing, truncated, tampered with or of another family."""


class ConfigError(PatchDNAError, ValueError):
    """An option or config value out of its valid range."""


class TrainingCancelled(PatchDNAError):
    """Raised when a training run's `stop_event` is set; every finished scale is already saved."""
