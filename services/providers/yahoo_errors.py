"""What went wrong with a Yahoo request, in the price contract's terms (yahoo.py's error half).

yfinance raises its own exceptions, or the HTTP client's (curl_cffi or requests) as they are or as a cause; this
maps each to a `ProviderError` kind: rate limited, unreachable (no connection was made), transient (try again),
symbol not found, or a plain provider error.
"""

from __future__ import annotations

import errno
import json
import socket

from urllib3.exceptions import ConnectTimeoutError as Urllib3ConnectTimeoutError
from yfinance.exceptions import YFDataException, YFPricesMissingError, YFRateLimitError, YFTzMissingError

from services.providers.base import (
    ProviderError,
    RateLimitError,
    SymbolNotFoundError,
    TransientError,
    UnreachableError,
)


def classify_error(ticker: str, error: BaseException, http_status: int | None) -> ProviderError:
    """The contract's error for what yfinance raised, given the HTTP status of the chart response if any."""
    if isinstance(error, YFRateLimitError) or http_status == 429:
        return RateLimitError(f"{ticker}: rate limited by Yahoo (HTTP 429)")
    cause = unreachable_cause(error)
    if cause is not None:
        detail = str(cause).split(". See https://")[0].removeprefix("Failed to perform, ")  # curl's long tail
        return UnreachableError(f"{ticker}: Yahoo unreachable ({type(cause).__name__}: {detail})")
    if http_status is not None and http_status >= 500:
        return TransientError(f"{ticker}: Yahoo answered HTTP {http_status}")
    if http_status in (401, 403):
        return ProviderError(f"{ticker}: Yahoo refused the request (HTTP {http_status}: cookie or crumb)")
    if isinstance(error, (YFPricesMissingError, YFTzMissingError)):
        return SymbolNotFoundError(str(error))
    if isinstance(error, YFDataException):  # "*** YAHOO! FINANCE IS CURRENTLY DOWN! ***"
        return TransientError(f"{ticker}: {error}")
    if isinstance(error, json.JSONDecodeError):  # a truncated or HTML body, as during an outage
        return TransientError(f"{ticker}: unreadable response from Yahoo (HTTP {http_status}): {error}")
    if isinstance(error, OSError):  # timeouts and connection errors of requests and curl_cffi are OSErrors
        return TransientError(f"{ticker}: {type(error).__name__}: {error}")
    return ProviderError(f"{ticker}: unexpected {type(error).__name__} from yfinance: {error}")


# libcurl's codes for "no connection was made" (https://curl.se/libcurl/c/libcurl-errors.html):
# COULDNT_RESOLVE_PROXY, COULDNT_RESOLVE_HOST, COULDNT_CONNECT, PROXY (the proxy refused the CONNECT).
_CURL_UNREACHABLE_CODES = frozenset({5, 6, 7, 97})
_CURL_OPERATION_TIMEDOUT = 28
# Code 28 is any timeout; curl's message tells the connect phase ("Connection timed out after 5001 milliseconds",
# "Resolving timed out after ...") from a slow answer ("Operation timed out after ... with 0 bytes received").
_CURL_CONNECT_TIMEOUT_TEXT = ("connection timed out", "resolving timed out", "failed to connect")
_UNREACHABLE_ERRNOS = frozenset({errno.ECONNREFUSED, errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN,
                                 errno.EHOSTDOWN})


def unreachable_cause(error: BaseException) -> BaseException | None:
    """The exception in `error`'s chain that says Yahoo could not be reached at all, or None.

    Unreachable: the name did not resolve, the connection was refused or timed out while connecting, a proxy
    would not connect. Not unreachable: anything after a connection was made (a read timeout, a reset, a
    truncated answer), which is an ordinary transient error. Both clients yfinance accepts are understood:
    curl_cffi (its exceptions carry libcurl's code) and requests (urllib3's cause is wrapped in
    MaxRetryError.reason). yfinance raises the client's exception as is, or with it as the cause.
    """
    seen: set[int] = set()
    pending: list[object] = [error]
    while pending:
        current = pending.pop()
        if not isinstance(current, BaseException) or id(current) in seen or len(seen) > 20:
            continue
        seen.add(id(current))
        if _is_unreachable(current):
            return current
        pending.extend([current.__cause__, current.__context__, getattr(current, "reason", None), *current.args])
    return None


def _is_unreachable(error: BaseException) -> bool:
    code = getattr(error, "code", None)
    if type(error).__module__.startswith("curl_cffi") and isinstance(code, int):
        return code in _CURL_UNREACHABLE_CODES or (
            code == _CURL_OPERATION_TIMEDOUT and any(t in str(error).lower() for t in _CURL_CONNECT_TIMEOUT_TEXT))
    # urllib3's NewConnectionError and NameResolutionError are ConnectTimeoutErrors too.
    if isinstance(error, (Urllib3ConnectTimeoutError, socket.gaierror, ConnectionRefusedError)):
        return True
    if type(error).__module__.startswith("requests") and type(error).__name__ in ("ConnectTimeout", "ProxyError"):
        return True
    return isinstance(error, OSError) and error.errno in _UNREACHABLE_ERRNOS
