"""Downloads over http, https, ftp and file URLs with retries, resume and checksums.

urllib is enough here (no extra dependency): a transfer that breaks off is
retried with exponential backoff, and over http(s) it resumes with a `Range`
request when the server honours it (206); a server that answers 200 instead is
read again from the start. The file is written to a temporary sibling and
renamed only once complete and verified, so a failed or mismatched download
never sits at the destination as if finished.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from dnatune import __version__
from dnatune.atomic import atomic_path

logger = logging.getLogger(__name__)

USER_AGENT = f"dnatune/{__version__} (+urllib)"
CHUNK_SIZE = 1 << 20
# HTTP statuses worth another try; any other 4xx/5xx is final
TRANSIENT_HTTP = {408, 425, 429, 500, 502, 503, 504}
T = TypeVar("T")


class DownloadError(RuntimeError):
    """A download that failed for good; the message names the URL, the cause and the fix."""


class _Transient(Exception):
    """A failure worth retrying (connection refused or reset, timeout, short read)."""


@dataclass(frozen=True)
class Downloaded:
    url: str
    path: str
    bytes: int
    sha256: str
    md5: str
    attempts: int
    resumed: bool


def file_digests(path: str | os.PathLike, chunk_size: int = CHUNK_SIZE) -> tuple[str, str]:
    """(sha256, md5) hex digests of a file, read once."""
    sha, md5 = hashlib.sha256(), hashlib.md5()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            sha.update(chunk)
            md5.update(chunk)
    return sha.hexdigest(), md5.hexdigest()


def sha256_file(path: str | os.PathLike) -> str:
    return file_digests(path)[0]


def _classify(url: str, err: BaseException) -> BaseException:
    """Turn an exception from one attempt into _Transient or a final DownloadError."""
    if isinstance(err, urllib.error.HTTPError):
        if err.code in TRANSIENT_HTTP:
            return _Transient(f"HTTP {err.code} {err.reason}")
        return DownloadError(
            f"{url}: the server answered HTTP {err.code} {err.reason}; check the URL "
            f"(a 404 means the file does not exist there)"
        )
    if isinstance(err, urllib.error.URLError):
        reason = err.reason
        if isinstance(reason, (FileNotFoundError, IsADirectoryError, PermissionError)):
            return DownloadError(f"{url}: cannot read the file ({reason}); check the path")
        if isinstance(reason, str) and "unknown url type" in reason:
            return DownloadError(f"{url}: {reason}; use an http, https, ftp or file URL")
        return _Transient(str(reason))
    if isinstance(
        err, (socket.timeout, TimeoutError, ConnectionError, http.client.HTTPException, OSError)
    ):
        return _Transient(f"{type(err).__name__}: {err}")
    return err


def with_retries(
    url: str, attempt: Callable[[int], T], retries: int, backoff: float
) -> tuple[T, int]:
    """Call `attempt(n)` until it succeeds; wait backoff * 2**(n-1) seconds between tries.

    Returns (result, attempts used). Raises DownloadError at once for a final
    failure and after `retries` attempts for transient ones.
    """
    last = "no attempt made"
    for number in range(1, max(1, retries) + 1):
        try:
            return attempt(number), number
        except _Transient as err:
            last = str(err)
        except Exception as err:
            classified = _classify(url, err)
            if not isinstance(classified, _Transient):
                raise classified from None
            last = str(classified)
        if number < retries:
            delay = backoff * 2 ** (number - 1)
            logger.warning(
                "%s: attempt %d/%d failed (%s); retrying in %.3g s",
                url,
                number,
                retries,
                last,
                delay,
            )
            time.sleep(delay)
    raise DownloadError(
        f"could not download {url} after {max(1, retries)} attempts (last error: {last}); "
        f"check the URL and the network. On a cluster, downloads run on the login node "
        f"(localrules); without internet there, fetch the file yourself and use `path:`"
    )


def _open(url: str, timeout: float, offset: int = 0):
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    return urllib.request.urlopen(request, timeout=timeout)


def _expected_total(response, offset: int) -> int | None:
    """Full file size from Content-Range (206) or Content-Length (200), if given."""
    if offset:
        match = re.match(r"bytes (\d+)-\d+/(\d+)", response.headers.get("Content-Range", ""))
        if match:
            return int(match.group(2))
        return None
    length = response.headers.get("Content-Length")
    return int(length) if length and length.isdigit() else None


def _fetch_into(
    url: str, part: Path, timeout: float, chunk_size: int, resumable: bool, state: dict
) -> None:
    have = part.stat().st_size if resumable else 0
    try:
        response = _open(url, timeout, have)
    except urllib.error.HTTPError as err:
        if err.code != 416 or not have:
            raise
        logger.warning("%s: server refused to resume at byte %d; starting over", url, have)
        have = 0
        response = _open(url, timeout)
    with response:
        status = getattr(response, "status", None)
        if have and status == 206:
            match = re.match(r"bytes (\d+)-", response.headers.get("Content-Range", ""))
            if not match or int(match.group(1)) != have:
                raise _Transient(f"server resumed at the wrong offset ({match and match.group(1)})")
            state["resumed"] = True
            logger.info("%s: resuming at byte %d", url, have)
        elif have:
            logger.info("%s: server does not resume (status %s); starting over", url, status)
            have = 0
        total = _expected_total(response, have)
        with open(part, "ab" if have else "wb") as out:
            while chunk := response.read(chunk_size):
                out.write(chunk)
    size = part.stat().st_size
    if total is not None and size != total:
        # http.client returns short reads silently when a server closes early
        raise _Transient(f"transfer ended at byte {size} of {total}")


def download(
    url: str,
    dest: str | os.PathLike,
    *,
    sha256: str | None = None,
    md5: str | None = None,
    retries: int = 5,
    backoff: float = 2.0,
    timeout: float = 60.0,
    chunk_size: int = CHUNK_SIZE,
) -> Downloaded:
    """Download `url` to `dest` atomically, retrying and resuming; verify checksums if given.

    On any failure, including a checksum mismatch, `dest` is not created and
    no partial file is left beside it.
    """
    dest = Path(dest)
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    resumable = scheme in ("http", "https")
    state = {"resumed": False}
    start = time.monotonic()
    logger.info("%s: downloading to %s", url, dest)
    with atomic_path(dest) as part:
        _, attempts = with_retries(
            url,
            lambda _n: _fetch_into(url, part, timeout, chunk_size, resumable, state),
            retries,
            backoff,
        )
        got_sha, got_md5 = file_digests(part)
        for name, expected, got in (("sha256", sha256, got_sha), ("md5", md5, got_md5)):
            if expected and expected.lower() != got:
                raise DownloadError(
                    f"{url}: {name} checksum mismatch: expected {expected.lower()}, got {got}; "
                    f"the file was not kept. Check the {name} in the config (or the URL); "
                    f"if the server changed the file, update the checksum deliberately"
                )
        size = part.stat().st_size
    seconds = max(time.monotonic() - start, 1e-9)
    logger.info(
        "%s: %d bytes in %d attempt(s)%s, %.1f MB/s, sha256 %s%s",
        url,
        size,
        attempts,
        " (resumed)" if state["resumed"] else "",
        size / seconds / 1e6,
        got_sha,
        " (verified)" if sha256 or md5 else "",
    )
    return Downloaded(url, str(dest), size, got_sha, got_md5, attempts, state["resumed"])


def fetch_text(url: str, *, retries: int = 5, backoff: float = 2.0, timeout: float = 60.0) -> str:
    """A small text resource (a directory listing, a checksum list), with retries."""

    def attempt(_n: int) -> str:
        with _open(url, timeout) as response:
            return response.read().decode("utf-8", errors="replace")

    return with_retries(url, attempt, retries, backoff)[0]
