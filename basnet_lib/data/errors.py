"""The one exception of the data package: a dataset on disk is not what the reader expects."""

from __future__ import annotations


class DatasetError(ValueError):
    """A dataset folder or file is missing, unpaired, corrupt or inconsistent.

    The message always names the offending path and what was expected there, so that the error
    is useful even when it is re-raised from inside a ``DataLoader`` worker.
    """
