"""Domain errors raised by the store; entry points translate them into user messages."""


class StoreError(Exception):
    """Base class for every problem the store reports to a user."""


class NotFound(StoreError):
    """A run, segment or customer that was asked for is not stored."""


class NoPublishedRun(StoreError):
    """Nothing has been published yet, so there is no current run to answer from."""

    def __init__(self, message: str = "no segments yet: run `segbot refresh --data FILE` first"):
        super().__init__(message)
