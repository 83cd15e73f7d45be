"""The segment store: every segmentation run kept in SQLite, answers read from the current one."""

from storage.errors import NoPublishedRun, NotFound, StoreError
from storage.records import CustomerRecord, HistoryEntry, RunRecord
from storage.store import Store

__all__ = ["CustomerRecord", "HistoryEntry", "NoPublishedRun", "NotFound", "RunRecord",
           "Store", "StoreError"]
