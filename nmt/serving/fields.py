"""What a request to `nmt serve` says: its fields from JSON, a form or the query string, size-checked, and
the values read from them; anything wrong is an ApiError, answered as {"error": "one line"}."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs

from starlette.requests import Request


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


async def read_fields(request: Request, *, max_body: int, form_ok: bool) -> dict:
    """The request's fields, size-checked: from a JSON object, or where LibreTranslate's API is spoken
    (form_ok) also a urlencoded form or the query string, as LibreTranslate reads them (some of its
    clients send every field in the query string and an empty body). Body fields win."""
    limit = max_body
    if int(request.headers.get("content-length") or 0) > limit:
        raise ApiError(413, f"request body over {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiError(413, f"request body over {limit} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ApiError(400, f"request body is not UTF-8 (byte {e.start})") from None
    query = form(request.url.query) if form_ok else {}
    if form_ok and not text.strip():
        return query
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded" and text.lstrip()[:1] in ("{", "["):
        kind = "application/json"  # `curl -d '{...}'` labels JSON as a form
    if kind == "application/x-www-form-urlencoded" and form_ok:
        return {**query, **form(text)}
    if kind not in ("", "application/json"):
        raise ApiError(400, f"content type {kind} is not accepted; send application/json"
                            + (" or a urlencoded form" if form_ok else ""))
    try:
        fields = json.loads(text)
    except json.JSONDecodeError as e:
        raise ApiError(400, f"malformed JSON: {e.msg} (line {e.lineno}, column {e.colno})") from None
    except RecursionError:  # json's parser recurses once per level of nesting
        raise ApiError(400, "malformed JSON: nested too deeply for a request") from None
    if not isinstance(fields, dict):
        raise ApiError(400, "the request must be a JSON object")
    return {**query, **fields}


def form(text: str) -> dict:
    """A urlencoded form's (or query string's) fields, the last value of each."""
    return {key: values[-1] for key, values in parse_qs(text, keep_blank_values=True).items()}


def integer(value, name: str, low: int, high: int) -> int:
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):  # form fields are text
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ApiError(400, f"{name} must be an integer from {low} to {high}, got {value!r}")
    return value


def number(value, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ApiError(400, f"{name} must be a number from {low:g} to {high:g}, got {value!r}")
    return float(value)
