"""Remote reads that cannot hang: connect and read timeouts, and errors that say what happened.

Every http(s) and s3 open, stat and listing geoshelf makes gets a connect timeout and a read
timeout (defaults :data:`CONNECT_TIMEOUT_S` and :data:`READ_TIMEOUT_S`; the user config may set
``remote: {connect_timeout: 10, read_timeout: 60}`` in seconds, or the environment
``GEOSHELF_REMOTE__CONNECT_TIMEOUT`` / ``GEOSHELF_REMOTE__READ_TIMEOUT``).  A failure is one
:class:`SourceError` line: ``URL: timed out after 10 s connecting``, ``URL: connection refused``.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..config import read_config, user_config_path
from ..errors import CatalogError, SourceError, one_line

CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 60.0


@dataclass(frozen=True, kw_only=True)
class Timeouts:
    """Seconds to wait for a connection, and for data once connected."""

    connect: float = CONNECT_TIMEOUT_S
    read: float = READ_TIMEOUT_S


def _seconds(value: Any, where: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        out = -1.0
    if not out > 0:
        raise CatalogError(f"{where}: a timeout is a number of seconds > 0, not {value!r}")
    return out


def timeouts() -> Timeouts:
    """The timeouts in force: environment, else the user config's ``remote:``, else the defaults."""
    cfg = read_config(user_config_path()).get("remote") or {}
    if not isinstance(cfg, dict):
        raise CatalogError(f"{user_config_path()}: 'remote:' must be a mapping")
    cfg = {str(k).replace("-", "_"): v for k, v in cfg.items()}
    out = {}
    for name in ("connect", "read"):
        env = os.environ.get(f"GEOSHELF_REMOTE__{name.upper()}_TIMEOUT")
        if env:
            out[name] = _seconds(env, f"GEOSHELF_REMOTE__{name.upper()}_TIMEOUT")
        elif cfg.get(f"{name}_timeout") is not None:
            out[name] = _seconds(cfg[f"{name}_timeout"], f"{user_config_path()}: remote.{name}_timeout")
    return Timeouts(**out)


def with_timeouts(url: str, options: dict[str, Any], limits: Timeouts | None = None) -> dict[str, Any]:
    """``options`` for ``url`` with connect/read timeouts added (the user's own settings are kept)."""
    proto = url.split("://", 1)[0].lower() if "://" in url else "file"
    if proto not in ("http", "https", "s3", "s3a"):
        return options
    t = limits or timeouts()
    out = dict(options)
    if proto in ("http", "https"):
        # deferred: aiohttp costs ~0.2-0.4 s at start-up; only http(s) URLs need it
        import aiohttp

        client = dict(out.get("client_kwargs") or {})
        client.setdefault("timeout", aiohttp.ClientTimeout(total=None, connect=t.connect, sock_connect=t.connect,
                                                           sock_read=t.read))
        out["client_kwargs"] = client
    else:
        config = dict(out.get("config_kwargs") or {})
        config.setdefault("connect_timeout", t.connect)
        config.setdefault("read_timeout", t.read)
        config.setdefault("retries", {"max_attempts": 2})
        out["config_kwargs"] = config
    return out


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        yield cur
        cur = cur.__cause__ or cur.__context__


def describe(exc: BaseException, limits: Timeouts | None = None) -> str:
    """What went wrong with a remote read, in a few words (the cause chain is searched: fsspec
    reports a timed-out request as FileNotFoundError from the timeout)."""
    t = limits or Timeouts()
    for cause in _chain(exc):
        names = {c.__name__ for c in type(cause).__mro__}
        if names & {"ConnectionTimeoutError", "ConnectTimeoutError", "ConnectTimeout", "SocketTimeoutError",
                    "ReadTimeoutError", "ReadTimeout", "ServerTimeoutError", "FSTimeoutError", "TimeoutError",
                    "ConnectionRefusedError", "ClientConnectorError", "EndpointConnectionError"}:
            return _describe_one(cause, t)
    return _describe_one(exc, t)


def _describe_one(exc: BaseException, t: Timeouts) -> str:
    names = {c.__name__ for c in type(exc).__mro__}
    if names & {"ConnectionTimeoutError", "ConnectTimeoutError", "ConnectTimeout"}:
        return f"timed out after {t.connect:g} s connecting"
    if names & {"SocketTimeoutError", "ReadTimeoutError", "ReadTimeout"}:
        return f"timed out after {t.read:g} s waiting for data"
    if isinstance(exc, TimeoutError) or "ServerTimeoutError" in names or "FSTimeoutError" in names:
        return "timed out"
    code = getattr(exc, "errno", None)
    if isinstance(exc, ConnectionRefusedError) or code == errno.ECONNREFUSED or "refused" in str(exc).lower():
        return "connection refused"
    if "EndpointConnectionError" in names or "ClientConnectorError" in names:
        return f"cannot connect ({one_line(exc, 200)})"
    if isinstance(exc, FileNotFoundError):
        return "not found"
    text = one_line(exc)
    return text[:300] if text else type(exc).__name__


#: Exceptions a remote read may end in (network, protocol, HTTP status).
def _remote_errors() -> tuple[type[BaseException], ...]:
    kinds: list[type[BaseException]] = [OSError, TimeoutError, ValueError]
    # deferred (all three): aiohttp, botocore and fsspec cost ~0.5 s at every start-up; only the mapping
    # of a failed remote read needs them (each may be missing: s3fs, hence botocore, is needed for s3:// only)
    with contextlib.suppress(ImportError):
        import aiohttp  # deferred: see above

        kinds.append(aiohttp.ClientError)
    with contextlib.suppress(ImportError):
        import botocore.exceptions  # deferred: see above

        kinds += [botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError]
    with contextlib.suppress(ImportError):
        from fsspec.exceptions import FSTimeoutError  # deferred: see above

        kinds.append(FSTimeoutError)
    return tuple(kinds)


@contextlib.contextmanager
def remote_errors(url: str, doing: str = "cannot read") -> Iterator[None]:
    """Turn a failed remote read of ``url`` into one :class:`SourceError` line saying what failed."""
    try:
        yield
    except SourceError:
        raise
    except _remote_errors() as exc:
        raise SourceError(f"{url}: {doing}: {describe(exc, timeouts())}") from None


__all__ = ["CONNECT_TIMEOUT_S", "READ_TIMEOUT_S", "Timeouts", "describe", "remote_errors", "timeouts",
           "with_timeouts"]
