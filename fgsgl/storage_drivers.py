"""fsspec's GCS and S3 file systems with one retry policy, fgsgl's, for both stores.

Why not the drivers' own: measured behind a fault proxy (tests/object_stores.FaultProxy),
gcsfs makes 6 attempts per request, 1 to 32 s apart, fixed in code, and nests them on
downloads (6 x 6 = 36 GETs, about 4 minutes, for one object under a lasting 503); s3fs
wraps botocore's 5 attempts in 5 of its own for connection errors (25 attempts, 42 s);
neither backoff can be set, and botocore's "standard" mode does not retry a bare 429
(its default "legacy" mode does).

What they do here instead, every HTTP request the same way:
- Up to FGSGL_STORAGE_ATTEMPTS attempts (default 5) when the request fails transiently: a
  connection refused, reset or timed out (also half-way through a body), HTTP 408, 429,
  500, 502, 503, 504, or S3's SlowDown / RequestTimeout / BadDigest-like codes. Anything
  else (404, 403, a bad request) fails at once.
- Between attempts an exponential backoff: FGSGL_STORAGE_BACKOFF_S (default 1 s) before
  the second attempt, doubling each time up to MAX_BACKOFF_S, each wait drawn in its upper
  half so that parallel transfers spread out. A Retry-After header is not read (gcsfs
  does not hand it on); the doubling slows down anyway.
- Where the retry happens: GCS in gcsfs's request methods (this class replaces their retry
  decorator; a download's body is read inside the retried request); S3 in botocore's own
  retry hook (its `needs-retry` event; botocore's retries and s3fs's loops are set to one
  pass), and a download whose body is cut after the response began (outside botocore) is
  fetched again. An error is retried only at the level that first sees it: one that ran
  out of attempts carries the count (`attempts_of`) and is never retried again above.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from gcsfs.core import GCSFileSystem
from s3fs import S3FileSystem

from fgsgl.errors import FgsglError

ATTEMPTS_ENV = "FGSGL_STORAGE_ATTEMPTS"
BACKOFF_ENV = "FGSGL_STORAGE_BACKOFF_S"
ATTEMPTS = 5
BACKOFF_S = 1.0
MAX_BACKOFF_S = 30.0

TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
# S3 error codes that mean "try again" whatever the status (botocore's and s3fs's lists).
TRANSIENT_CODES = frozenset(
    {
        "RequestTimeout", "RequestTimeoutException", "SlowDown", "Throttling",
        "ThrottlingException", "ThrottledException", "RequestThrottled",
        "RequestThrottledException", "TooManyRequestsException", "RequestLimitExceeded",
        "BandwidthLimitExceeded", "PriorRequestNotComplete", "InternalError",
        "ServiceUnavailable", "BadDigest", "XAmzContentSHA256Mismatch",
    }
)  # fmt: skip
_MARK = "fgsgl_attempts"  # set on an error that ran out of attempts: how many it had


@dataclass(frozen=True)
class Policy:
    """How often and how patiently a transient failure is retried."""

    attempts: int = ATTEMPTS
    backoff_s: float = BACKOFF_S

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        ceiling = min(self.backoff_s * 2 ** (attempt - 1), MAX_BACKOFF_S)
        return ceiling * (0.5 + random.random() / 2)


def policy() -> Policy:
    """The policy from the environment, read at each use (so a changed setting applies)."""
    return Policy(
        attempts=_setting(ATTEMPTS_ENV, ATTEMPTS, int, "a whole number of attempts, e.g. 5", 1),
        backoff_s=_setting(BACKOFF_ENV, BACKOFF_S, float, "seconds, e.g. 1", 0),
    )


def _setting(name: str, default: Any, kind: type, expected: str, least: float) -> Any:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or value < least:
        raise FgsglError(f"{name}={text!r}: expected {expected} (at least {least:g})")
    return value


def attempts_of(error: BaseException) -> int | None:
    """How many attempts the request that raised `error` had, where it was retried: the
    count a retrying layer left on it (or on the error the driver translated it from), or
    botocore's RetryAttempts on a transient S3 error response."""
    for seen in (error, error.__cause__):
        mark = getattr(seen, _MARK, None)
        if isinstance(mark, int):
            return mark
        response = getattr(seen, "response", None)
        if isinstance(response, dict) and _s3_code(response) is not None and transient(seen):
            retries = response.get("ResponseMetadata", {}).get("RetryAttempts")
            if isinstance(retries, int):
                return retries + 1
    return None


def exhausted(error: BaseException) -> tuple[BaseException, int] | None:
    """The transient failure that used up its attempts behind `error`, and how many it had:
    the error itself, or one a driver's clean-up raised its own error over (gcsfs cancelling
    a resumable upload after its chunk failed, say), found as the error's context."""
    seen: BaseException | None = error
    for _ in range(4):
        if seen is None:
            return None
        attempts = attempts_of(seen)
        if attempts is not None and transient(seen):
            return seen, attempts
        seen = seen.__context__
    return None


def status_of(error: BaseException) -> int | None:
    """The HTTP status of a store's answer behind a driver's error (gcsfs HttpError, aiohttp
    ClientResponseError, botocore ClientError and s3fs's translation of it), or None."""
    import aiohttp
    from gcsfs.retry import HttpError

    for seen in (error, error.__cause__):
        if isinstance(seen, HttpError) and isinstance(seen.code, int):
            return seen.code
        if isinstance(seen, aiohttp.ClientResponseError):
            return seen.status
        response = getattr(seen, "response", None)
        if isinstance(response, dict) and "Error" in response:
            status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if isinstance(status, int):
                return status
    return None


def transient(error: BaseException) -> bool:
    """True for a failure worth another attempt: see the module's docstring."""
    if isinstance(error, FileNotFoundError | PermissionError | ValueError | FgsglError):
        return False  # ValueError: gcsfs's "Bad Request", aiohttp's InvalidURL
    status = status_of(error)
    if status is not None:
        message = str(getattr(error, "message", ""))
        return status in TRANSIENT_STATUS or (status == 401 and "Invalid Credentials" in message)
    for seen in (error, error.__cause__):
        response = getattr(seen, "response", None)
        if isinstance(response, dict) and _s3_code(response) in TRANSIENT_CODES:
            return True
    return isinstance(error, _transient_types())


def _s3_code(response: dict[str, Any]) -> str | None:
    error = response.get("Error")
    return error.get("Code") if isinstance(error, dict) else None


@functools.cache
def _transient_types() -> tuple[type[BaseException], ...]:
    """Connection, timeout, cut-body and checksum errors of the libraries under the drivers."""
    import aiohttp
    import botocore.exceptions as boto
    import gcsfs.retry
    import requests.exceptions

    return (
        ConnectionError,  # refused, reset, aborted, broken pipe
        TimeoutError,  # also asyncio's
        aiohttp.ClientError,  # connection, cut body, "expected N bytes"; statuses: above
        requests.exceptions.ConnectionError,  # gcsfs raises ProxyError for a 502
        requests.exceptions.Timeout,
        requests.exceptions.ChunkedEncodingError,
        boto.ConnectionError,  # endpoint unreachable, connect timeout (not the builtin)
        boto.HTTPClientError,  # connection closed, read timeout
        boto.ResponseStreamingError,
        boto.IncompleteReadError,
        gcsfs.retry.ChecksumError,
    )


def _mark(error: BaseException, attempts: int) -> None:
    with contextlib.suppress(AttributeError, TypeError):
        setattr(error, _MARK, attempts)


async def _retrying(call: Callable[[], Awaitable[Any]]) -> Any:
    """Await `call()` up to the policy's attempts while it fails transiently. An error that
    already ran out of attempts further down is passed on at once."""
    rules = policy()
    attempt = 1
    while True:
        try:
            return await call()
        except Exception as e:
            if attempts_of(e) is not None or not transient(e):
                raise
            if attempt >= rules.attempts:
                _mark(e, attempt)
                raise
            await asyncio.sleep(rules.delay(attempt))
            attempt += 1


def _retried(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """An async method under fgsgl's policy, in place of a driver's retry decorator."""

    @functools.wraps(method)
    async def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        return await _retrying(lambda: method(self, *args, **kwargs))

    return call


def _undecorated(method: Any) -> Any:
    """The function under gcsfs's `retry_request` decorator: fail loudly when a gcsfs
    release changes it, rather than run with two retry layers."""
    inner = getattr(method, "__wrapped__", None)
    if inner is None:
        raise ImportError(f"gcsfs {method.__qualname__} has no retry decorator to replace")
    return inner


class GCS(GCSFileSystem):
    """gcsfs's plain GCS file system (no gRPC control-plane lookups, which an emulator
    cannot answer), each request retried by fgsgl's policy instead of gcsfs's own."""

    _request = _retried(_undecorated(GCSFileSystem._request))
    _get_file_request = _retried(_undecorated(GCSFileSystem._get_file_request))
    # gcsfs retried this around the request above (6 x 6 attempts): its own errors only now.
    _get_file_concurrent = _retried(_undecorated(GCSFileSystem._get_file_concurrent))


class S3(S3FileSystem):
    """s3fs with each request retried by fgsgl's policy in botocore's retry hook."""

    retries = 1  # s3fs's own loops around botocore: one pass (they still translate errors)

    def __init__(self, *args: Any, config_kwargs: dict | None = None, **kwargs: Any) -> None:
        # botocore's own handler answers first: "standard" with one attempt says "no" and
        # lets the hook below decide ("legacy", the default, would raise at once instead).
        retries = {"mode": "standard", "total_max_attempts": 1}
        config = {**(config_kwargs or {}), "retries": retries}
        super().__init__(*args, config_kwargs=config, **kwargs)

    async def set_session(self, refresh: bool = False, kwargs: dict | None = None) -> Any:
        client = await super().set_session(refresh=refresh, kwargs=kwargs or {})
        client.meta.events.register("needs-retry.s3", _s3_needs_retry, unique_id="fgsgl-retry")
        return client

    # A response body cut after botocore returned (a download's stream): fetch again.
    async def _get_file(self, *args: Any, **kwargs: Any) -> Any:
        return await _retrying(lambda: super(S3, self)._get_file(*args, **kwargs))

    async def _cat_file(self, *args: Any, **kwargs: Any) -> Any:
        return await _retrying(lambda: super(S3, self)._cat_file(*args, **kwargs))


def _s3_needs_retry(
    response: tuple[Any, dict[str, Any]] | None,
    attempts: int,
    caught_exception: BaseException | None,
    **_: Any,
) -> float | None:
    """botocore's `needs-retry` hook: seconds to wait before the next attempt, or None to
    stop. Runs after every attempt of every S3 request."""
    rules = policy()
    if caught_exception is not None:
        retry = transient(caught_exception)
        if retry and attempts >= rules.attempts:
            _mark(caught_exception, attempts)
    elif response is not None:
        http, parsed = response
        retry = http.status_code in TRANSIENT_STATUS or _s3_code(parsed) in TRANSIENT_CODES
    else:
        retry = False
    if not retry or attempts >= rules.attempts:
        return None
    return rules.delay(attempts)
