"""Domain errors raised by the engine; entry points translate them into user messages."""


class SegmentationError(Exception):
    """Base class for every problem the engine reports to a user."""


class DataError(SegmentationError):
    """The customer table cannot be segmented as given (unreadable, empty, bad values)."""


class ConfigError(SegmentationError):
    """A schema file or a parameter is invalid."""


class MissingPackage(SegmentationError):
    """A package a step needs is not installed (segbot's own dependencies were not)."""
