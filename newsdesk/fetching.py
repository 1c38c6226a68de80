"""Polite HTTP fetching for feeds and article pages, kept apart from parsing.

One `Fetcher` per run (or per bot poll). It sends a User-Agent naming
newsdesk, makes conditional requests when it is given the validators of an
earlier answer (so an unchanged feed costs one 304), fetches at most
`per_host` pages at once from one host, retries 429/5xx answers and dropped
connections with backoff (waiting as long as a 429 or 503's Retry-After asks
instead; asked for longer than the request timeout, it gives up at once),
gives every request one deadline from connect to last byte, and stops reading
a body as soon as it passes the size cap. Any failure is a `FetchError` whose message a person can act on.

Asked to (`obey_robots=True`, as article pages are), it first reads the site's
/robots.txt, once per site per Fetcher, and refuses what it disallows for our
User-Agent. Following Google's reading: a robots.txt that is missing (any 4xx
but 429) allows everything; one that cannot be read (5xx, 429, a timeout, a
refused connection) disallows the whole site for this run. A Crawl-delay
spaces out every later request to that host, up to `FetchPolicy.max_crawl_delay`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import SplitResult, urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser

import httpx

from newsdesk import __version__
from newsdesk.config import Settings

logger = logging.getLogger(__name__)

USER_AGENT = f"newsdesk/{__version__} (news archive feed reader; python-httpx)"
RETRY_STATUSES = frozenset({429}) | frozenset(range(500, 600))
RETRY_AFTER_STATUSES = frozenset({429, 503})
MAX_CONCURRENT = 16
ROBOTS_ACCEPT = "text/plain, */*;q=0.1"
DISALLOWED = "disallowed by robots.txt"


@dataclass(frozen=True)
class FetchPolicy:
    """How politely and patiently to fetch; `from_settings` for the product, tests shorten the waits."""

    timeout_seconds: float = 20.0
    max_bytes: int = 5_000_000
    per_host: int = 2
    retry_delays: tuple[float, ...] = (1.0, 4.0)
    user_agent: str = USER_AGENT
    # A stored page still listed in a changed feed is revalidated (a conditional request) when it
    # was last checked longer ago than this: corrections the feed does not announce are caught.
    page_recheck_seconds: float = 6 * 3600
    # A robots.txt Crawl-delay longer than this is honoured as this (a feed's pages should not take hours).
    max_crawl_delay: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings, **overrides) -> "FetchPolicy":
        values = dict(timeout_seconds=settings.fetch_timeout_seconds, max_bytes=settings.fetch_max_bytes,
                      per_host=max(1, settings.fetch_per_host))
        values.update(overrides)
        return cls(**values)

    @property
    def attempts(self) -> int:
        return len(self.retry_delays) + 1


@dataclass(frozen=True)
class Validators:
    """What an earlier answer said about its version, for a conditional request."""

    etag: str | None = None
    last_modified: str | None = None

    def headers(self) -> dict[str, str]:
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers

    def __bool__(self) -> bool:
        return bool(self.etag or self.last_modified)


@dataclass
class FetchResult:
    url: str
    final_url: str
    status: int
    body: bytes = b""
    content_type: str = ""
    validators: Validators = field(default_factory=Validators)
    attempts: int = 1
    retry_after: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


class FetchError(Exception):
    """A URL that could not be fetched; the message says why."""

    def __init__(self, url: str, reason: str, status: int | None = None):
        super().__init__(reason)
        self.url = url
        self.reason = reason
        self.status = status


class _TooLarge(Exception):
    pass


@dataclass(frozen=True)
class SiteRules:
    """What one site's robots.txt lets us fetch during one run."""

    parser: RobotFileParser | None = None
    unreadable: str | None = None
    """Why robots.txt could not be read, when it could not: then nothing on the site is fetched."""

    def refusal(self, url: str, user_agent: str) -> str | None:
        """Why `url` may not be fetched, or None when it may."""
        if self.unreadable is not None:
            return f"not fetched: the site's robots.txt could not be read ({self.unreadable})"
        if self.parser is not None and not self.parser.can_fetch(user_agent, url):
            return DISALLOWED
        return None


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class Fetcher:
    """An HTTP client for one run; use as `async with Fetcher(policy) as fetcher`.

    `sleep`, `now` and `clock` are how it waits (between attempts, for a Crawl-delay), reads the
    time (for a Retry-After date) and measures the time between requests; tests pass their own
    to see the waits without waiting."""

    def __init__(self, policy: FetchPolicy, *, transport: httpx.AsyncBaseTransport | None = None,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
                 now: Callable[[], datetime] = _utc_now, clock: Callable[[], float] = time.monotonic):
        self.policy = policy
        self._transport = transport
        self._sleep = sleep
        self._now = now
        self._clock = clock
        self._client: httpx.AsyncClient | None = None
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._overall = asyncio.Semaphore(MAX_CONCURRENT)
        self._site_rules: dict[str, asyncio.Task[SiteRules]] = {}
        self._crawl_delays: dict[str, float] = {}
        self._next_start: dict[str, float] = {}

    async def __aenter__(self) -> "Fetcher":
        self._client = httpx.AsyncClient(
            headers={"User-Agent": self.policy.user_agent},
            timeout=httpx.Timeout(self.policy.timeout_seconds),
            follow_redirects=True,
            limits=httpx.Limits(max_connections=MAX_CONCURRENT),
            transport=self._transport,
        )
        return self

    async def __aexit__(self, *exc_info) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def fetch(self, url: str, validators: Validators | None = None, *,
                    accept: str = "*/*", obey_robots: bool = False) -> FetchResult:
        """The body of `url` (or a 304 result when `validators` still match); raises FetchError,
        also, with `obey_robots`, for a URL the site's robots.txt does not let us fetch."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchError(url, "not an http(s) URL")
        host = parts.hostname.lower()
        if obey_robots:
            refusal = (await self._rules_for(parts, host)).refusal(url, self.policy.user_agent)
            if refusal is not None:
                raise FetchError(url, refusal)
        headers = {"Accept": accept, **(validators.headers() if validators else {})}
        semaphore = self._hosts.setdefault(host, asyncio.Semaphore(self.policy.per_host))
        attempt = 0
        while True:
            attempt += 1
            retry_reason: str | None = None
            await self._keep_crawl_delay(host)
            async with semaphore, self._overall:
                try:
                    async with asyncio.timeout(self.policy.timeout_seconds):
                        result = await self._get(url, headers)
                except (TimeoutError, httpx.TimeoutException):
                    raise FetchError(url, f"no complete answer within {self.policy.timeout_seconds:g} s"
                                     " (FETCH_TIMEOUT_SECONDS)") from None
                except _TooLarge:
                    raise FetchError(url, f"larger than {self.policy.max_bytes:,} bytes "
                                     "(FETCH_MAX_BYTES); not read") from None
                except httpx.TooManyRedirects:
                    raise FetchError(url, "too many redirects") from None
                except httpx.TransportError as exc:
                    result = None
                    retry_reason = f"connection failed ({_describe(exc)})"
            asked: float | None = None
            if result is not None:
                result.attempts = attempt
                if result.status not in RETRY_STATUSES:
                    return _checked(result)
                retry_reason = _status_text(result.status)
                if result.status in RETRY_AFTER_STATUSES:
                    asked = retry_after_seconds(result.retry_after, self._now())
            # Asked to come back later than we would wait: another request now would only be
            # refused again, so give up at once and say when the server wants us back.
            if attempt >= self.policy.attempts or (asked is not None and asked > self.policy.timeout_seconds):
                tries = f" after {attempt} attempts" if attempt > 1 else ""
                status = result.status if result is not None else None
                wanted = f" (the server asked to wait {asked:g} s)" if asked is not None else ""
                raise FetchError(url, f"{retry_reason}{tries}{wanted}", status)
            backoff = self.policy.retry_delays[attempt - 1]
            await self._sleep(backoff if asked is None else asked)

    async def _rules_for(self, parts: SplitResult, host: str) -> SiteRules:
        """The site's robots.txt rules, read once per site (scheme, host and port) by this Fetcher."""
        robots_url = redact(urlunsplit((parts.scheme.lower(), parts.netloc.lower(), "/robots.txt", "", "")))
        task = self._site_rules.get(robots_url)
        if task is None:
            task = asyncio.ensure_future(self._read_robots(robots_url, host))
            self._site_rules[robots_url] = task
        return await task

    async def _read_robots(self, robots_url: str, host: str) -> SiteRules:
        try:
            result = await self.fetch(robots_url, accept=ROBOTS_ACCEPT)
        except FetchError as exc:
            if exc.status is not None and 400 <= exc.status < 500 and exc.status != 429:
                return SiteRules()  # no robots.txt: everything is allowed
            logger.warning("%s could not be read (%s): no page of the site is fetched this run",
                           robots_url, exc.reason)
            return SiteRules(unreadable=exc.reason)
        parser = RobotFileParser(robots_url)
        parser.parse(result.body.decode("utf-8", errors="replace").splitlines())
        delay = parser.crawl_delay(self.policy.user_agent)
        if delay:
            self._crawl_delays[host] = min(float(delay), self.policy.max_crawl_delay)
            self._next_start[host] = self._clock() + self._crawl_delays[host]
        return SiteRules(parser)

    async def _keep_crawl_delay(self, host: str) -> None:
        """Wait for this request's turn when the host's robots.txt asks for a Crawl-delay."""
        delay = self._crawl_delays.get(host)
        if not delay:
            return
        now = self._clock()
        start = max(now, self._next_start.get(host, now))
        self._next_start[host] = start + delay
        if start > now:
            await self._sleep(start - now)

    async def _get(self, url: str, headers: dict[str, str]) -> FetchResult:
        assert self._client is not None, "use the Fetcher as an async context manager"
        async with self._client.stream("GET", url, headers=headers) as response:
            result = FetchResult(
                url=url, final_url=str(response.url), status=response.status_code,
                content_type=response.headers.get("content-type", ""),
                validators=Validators(response.headers.get("etag"),
                                      _valid_date(response.headers.get("last-modified"))),
                retry_after=response.headers.get("retry-after"),
            )
            if not 200 <= response.status_code < 300:
                return result
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.policy.max_bytes:
                raise _TooLarge()
            body = bytearray()
            async for block in response.aiter_bytes():
                body += block
                if len(body) > self.policy.max_bytes:
                    raise _TooLarge()
            result.body = bytes(body)
            return result


def redact(url: str) -> str:
    """The URL without a user:password part, for messages and logs."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _checked(result: FetchResult) -> FetchResult:
    if 200 <= result.status < 300 or result.status == 304:
        return result
    raise FetchError(result.url, _status_text(result.status), result.status)


def _status_text(status: int) -> str:
    try:
        from http import HTTPStatus

        return f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


def _describe(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """How long a Retry-After header asks to wait: delay-seconds or an HTTP date (a past date is 0);
    None when there is no header or it is neither."""
    text = (value or "").strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return max(0.0, (moment - now).total_seconds())


def _valid_date(value: str | None) -> str | None:
    """Keep a Last-Modified header only when it is a real HTTP date (some servers send junk)."""
    if not value:
        return None
    try:
        parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return value
