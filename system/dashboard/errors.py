"""JSON errors for the API and health check; the HTML page keeps Flask's own pages.

Every error body is ``{"error": "<what went wrong and what is allowed>", "status": <code>}``.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from pymongo.errors import ConnectionFailure, PyMongoError
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed, NotFound

log = logging.getLogger(__name__)

JSON_PREFIXES = ("/api/", "/healthz")


def wants_json() -> bool:
    return request.path.startswith(JSON_PREFIXES) or request.path == "/api"


def _json_error(status: int, message: str) -> tuple[Response, int]:
    return jsonify(error=message, status=status), status


def _describe(exc: HTTPException) -> str:
    if isinstance(exc, NotFound) and exc.description == NotFound.description:
        return f"No such endpoint: {request.path}; the API is described at /api/openapi.json"
    if isinstance(exc, MethodNotAllowed):
        allowed = ", ".join(sorted(exc.valid_methods or []))
        return f"Method {request.method} is not allowed on {request.path}; allowed: {allowed}"
    return exc.description or exc.name


def handle_http_error(exc: HTTPException) -> HTTPException | tuple[Response, int]:
    if not wants_json():
        return exc
    return _json_error(exc.code or 500, _describe(exc))


def handle_mongo_unreachable(exc: ConnectionFailure) -> tuple[Response, int] | tuple[str, int]:
    log.warning("Mongo unreachable while serving %s: %.200s", request.path, exc)
    message = f"Database unreachable: {type(exc).__name__}; retry later"
    if not wants_json():
        return message, 503
    return _json_error(503, message)


def handle_mongo_error(exc: PyMongoError) -> tuple[Response, int] | tuple[str, int]:
    log.error("Mongo error while serving %s: %s", request.path, exc)
    message = f"Database error: {type(exc).__name__}: {exc}"
    if not wants_json():
        return message, 500
    return _json_error(500, message)


def handle_internal_error(exc: InternalServerError) -> InternalServerError | tuple[Response, int]:
    if not wants_json():
        return exc
    cause = exc.original_exception
    detail = f"{type(cause).__name__}" if cause is not None else "unexpected error"
    return _json_error(500, f"Internal error ({detail}); see the dashboard's log")


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(InternalServerError, handle_internal_error)
    # ConnectionFailure covers AutoReconnect, NetworkTimeout and ServerSelectionTimeoutError.
    app.register_error_handler(ConnectionFailure, handle_mongo_unreachable)
    app.register_error_handler(PyMongoError, handle_mongo_error)
