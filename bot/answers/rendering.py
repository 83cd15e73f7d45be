"""How an answer's charts and files become bytes: here, or in chart processes.

A `Renderer` turns one attachment into bytes. The default draws in the calling thread;
`bot.jobs.chart_processes.ChartProcesses` draws charts in worker processes and can draw
several side by side (`BatchRenderer`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from bot.answers.parts import Attachment

Renderer = Callable[[Attachment], bytes]


@runtime_checkable
class BatchRenderer(Protocol):
    """A renderer that can draw several attachments at once."""

    def __call__(self, attachment: Attachment) -> bytes: ...

    def render_all(self, attachments: Sequence[Attachment]) -> list[bytes]: ...


def render(attachment: Attachment) -> bytes:
    """Draw a chart or write a file: the default renderer."""
    return attachment.render()


def render_all(renderer: Renderer, attachments: Sequence[Attachment]) -> list[bytes]:
    """Every attachment's bytes, in order: side by side where the renderer can do that,
    else one after another."""
    if isinstance(renderer, BatchRenderer):
        return renderer.render_all(attachments)
    return [renderer(attachment) for attachment in attachments]


def bounded(renderer: Renderer, slots: int) -> Renderer:
    """`renderer`, drawing at most `slots` attachments at once whatever the burst of requests."""
    semaphore = threading.BoundedSemaphore(slots)

    def render_in_slot(attachment: Attachment) -> bytes:
        with semaphore:
            return renderer(attachment)

    return render_in_slot
