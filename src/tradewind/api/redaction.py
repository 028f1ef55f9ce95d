"""Secrets never leave the process: every HTTP body and every log record is masked.

The configured secrets (``Settings.secret_values``: LLM and broker keys, the JWT secret, the
service token, passwords inside the database and Redis URLs) are replaced by as many ``*`` in
each response chunk (same length, so ``content-length`` holds and streams stay streams) and in
each log record's message and traceback, whatever code wrote them: an upstream error quoting a
key, a URL in a health page, a decision-log export. API keys are not among them: they are never
written anywhere but the first-start notice and ``keys create``'s one line.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tradewind.domain.redact import Redactor

__all__ = ["MaskedResponses", "install_redaction", "mask_logs"]

_masked: set[str] = set()  # every secret any app of this process was given
_current = Redactor()


class MaskedResponses:
    """ASGI middleware: each body chunk of an HTTP response with the secrets masked."""

    def __init__(self, app: ASGIApp, *, redactor: Redactor) -> None:
        self.app = app
        self.redactor = redactor

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def masked(message: Message) -> None:
            if message["type"] == "http.response.body" and message.get("body"):
                message = {**message, "body": self.redactor.data(message["body"])}
            await send(message)

        await self.app(scope, receive, masked)


def mask_logs(secrets: list[str]) -> None:
    """Mask these secrets in every log record made from now on in this process."""
    global _current
    if not Redactor(secrets) or _masked.issuperset(secrets):
        return
    if not _masked:
        make = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = make(*args, **kwargs)
            try:
                message = record.getMessage()
            except Exception:  # a malformed call: leave it to logging's own error report
                return record
            record.msg, record.args = _current.text(message), None
            if record.exc_info and record.exc_info[0] is not None:
                record.exc_text = _current.text(logging.Formatter().formatException(record.exc_info))
            return record

        logging.setLogRecordFactory(factory)
    _masked.update(secrets)
    _current = Redactor(_masked)


def install_redaction(app: FastAPI, secrets: list[str]) -> None:
    redactor = Redactor(secrets)
    if redactor:
        app.add_middleware(MaskedResponses, redactor=redactor)
        mask_logs(secrets)
