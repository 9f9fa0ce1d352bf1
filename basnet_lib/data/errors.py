"""The exceptions of the data package: a dataset on disk, or an image file given to a model, is not
what the reader expects."""

from __future__ import annotations


class DatasetError(ValueError):
    """A dataset folder or file is missing, unpaired, corrupt or inconsistent.

    The message always names the offending path and what was expected there, so that the error
    is useful even when it is re-raised from inside a ``DataLoader`` worker.
    """


class ImageFileError(ValueError):
    """A file given as an image (``basnet predict``, an upload) cannot be decoded as one.

    The message names the file and fits on one line.
    """
