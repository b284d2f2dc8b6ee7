"""Input types every request schema builds on: text and JSON that both databases can store.

PostgreSQL refuses NUL characters and non-finite numbers, and no database can encode an unpaired
surrogate; SQLite would silently store or mangle them. Refusing them at the edge, with a 422 naming
the field, keeps the two databases alike and every write whole.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, StringConstraints
from pydantic_core import PydanticCustomError

MAX_JSON_DEPTH = 16


def _clean_text(value: str) -> str:
    if "\x00" in value:
        raise PydanticCustomError("text_nul", "must not contain NUL (\\u0000) characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise PydanticCustomError("text_surrogate", "must be valid Unicode (no unpaired surrogates)") from None
    return value


def _clean_json(value: Any, depth: int = 0) -> Any:
    if depth > MAX_JSON_DEPTH:
        raise PydanticCustomError("json_depth", f"must be nested at most {MAX_JSON_DEPTH} levels")
    if isinstance(value, str):
        return _clean_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise PydanticCustomError("json_number", "numbers must be finite")
    if isinstance(value, dict):
        for key, item in value.items():
            _clean_text(key)
            _clean_json(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _clean_json(item, depth + 1)
    return value


def _sane_moment(value: datetime) -> datetime:
    # Check the year as written first: converting year 1 or 9999 to UTC can overflow.
    if not 2000 <= value.year <= 9000 or not 2000 <= value.astimezone(UTC).year <= 9000:
        raise PydanticCustomError("datetime_range", "must be between the years 2000 and 9000")
    return value


def Text(min_length: int = 0, max_length: int = 200) -> Any:  # noqa: N802 - a type factory
    """A string, stripped, within the lengths, with nothing a database cannot store."""
    return Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length),
        AfterValidator(_clean_text),
    ]


def RawText(min_length: int = 0, max_length: int = 200) -> Any:  # noqa: N802 - a type factory
    """Like Text, but exactly as sent: for values whose spaces and newlines matter (environment
    values, file paths, shell commands)."""
    return Annotated[
        str,
        StringConstraints(min_length=min_length, max_length=max_length),
        AfterValidator(_clean_text),
    ]


JsonObject = Annotated[dict[str, Any], AfterValidator(_clean_json)]
"""Free-form metadata or settings: any JSON object both databases store the same way."""

Moment = Annotated[AwareDatetime, AfterValidator(_sane_moment)]
"""A timestamp with its time zone, in a sane range."""

