"""The question → answer layer shared by Slack and the terminal; imports nothing from Slack."""

from bot.answers.build import (
    answer,
    error_answer,
    no_run_answer,
    run_charts,
    run_context,
)
from bot.answers.parts import (
    Answer,
    Attachment,
    Button,
    ButtonAction,
    Chart,
    ChartKind,
    Section,
)
from bot.answers.requests import Request, RequestKind, UsageError, parse_request

__all__ = [
    "Answer", "Attachment", "Button", "ButtonAction", "Chart", "ChartKind", "Request",
    "RequestKind", "Section", "UsageError", "answer", "error_answer", "no_run_answer",
    "parse_request", "run_charts", "run_context",
]
