"""``pdf_text``: the text layer of a PDF, by ``pypdf``, refused with the reason when it is not readable.

A parser of untrusted files lives with the other adapters; ``assistants.file_text`` calls it
through the ``PdfReader`` port it is given. Encrypted files, files of more than ``MAX_PAGES``
pages and anything pypdf cannot parse are refused, never half-read.
"""

from __future__ import annotations

import io
import logging

from tradewind.assistants.chat_request import InvalidRequest

__all__ = ["MAX_PAGES", "pdf_text"]

MAX_PAGES = 500
logging.getLogger("pypdf").setLevel(logging.ERROR)  # a malformed PDF is refused here, not logged as a warning


def pdf_text(data: bytes, max_chars: int) -> str:
    """The pages' text, joined by blank lines; reading stops past ``max_chars``."""
    from pypdf import PdfReader  # here, not at import: 15 MB resident that only a PDF upload needs
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise InvalidRequest("the PDF is encrypted: upload it without a password", field="file",
                                 code="invalid_file")
        if len(reader.pages) > MAX_PAGES:
            raise InvalidRequest(f"the PDF has {len(reader.pages)} pages; at most {MAX_PAGES} are indexed",
                                 field="file", code="file_too_large")
        pages, size = [], 0
        for page in reader.pages:
            pages.append(page.extract_text() or "")
            size += len(pages[-1])
            if size > max_chars:
                break
        return "\n\n".join(pages)
    except InvalidRequest:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError,
            RecursionError, ZeroDivisionError) as exc:  # what a malformed PDF raises in pypdf
        raise InvalidRequest(f"the file is not a readable PDF ({type(exc).__name__})", field="file",
                             code="invalid_file") from None
