"""`newsdesk review`: a read-only local web page over the audit trail.

Lists answers with filters and shows each one with its cited passages side by
side with their full articles (from the index), the passage highlighted at its
stored character span. If an article changed or was removed since the answer,
the page says so and still shows the passage as it was cited.

Server-rendered with aiohttp (already a dependency through discord.py) and
Jinja2 with autoescaping on every template: article and question text is data,
never markup. No scripts at all (the Content-Security-Policy forbids them) and
no external assets, so it works offline.

It binds 127.0.0.1 by default. Binding any other address needs REVIEW_TOKEN,
and when a token is set every request must carry it: an `X-Review-Token` or
`Authorization: Bearer` header, or `?token=` once (answered with a cookie and a
redirect that drops it from the address), then the cookie.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import re
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode

import jinja2
from aiohttp import web

from newsdesk.audit import (
    AnswerFilter,
    AnswerRecord,
    AuditStore,
    StoredCitation,
    describe_asker,
    parse_when,
    short_time,
)
from newsdesk.config import Settings

PAGE_SIZE = 25
TOKEN_COOKIE = "newsdesk_review_token"
TEMPLATES = Path(__file__).parent / "review_templates"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
                               "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
STORE_KEY = web.AppKey("store", AuditStore)
ARTICLES_KEY = web.AppKey("articles", object)
JINJA_KEY = web.AppKey("jinja", jinja2.Environment)
TOKEN_KEY = web.AppKey("token", object)


class ReviewConfigError(ValueError):
    """The page cannot be served as configured (an open address without a token, a bad port)."""


def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# -- the articles, from the index -----------------------------------------------------------

class ArticleTexts:
    """Full article texts from the Chroma index, opened on first use; errors become a message."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._store = None
        self._lock = threading.Lock()

    def get(self, article_id: str) -> tuple[str, dict] | None:
        """(text, metadata), or None when the index no longer holds the article; StoreError if unreadable."""
        from newsdesk.embedding import DIMENSION, MODEL_ID
        from newsdesk.store import ChunkStore

        with self._lock:
            if self._store is None:
                self._store = ChunkStore.open(self.settings, MODEL_ID, DIMENSION, create=False)
            return self._store.get_article_text(article_id)


@dataclass
class PassageView:
    """One cited passage and where it sits in its article now."""

    citation: StoredCitation
    status: str  # same, moved, changed, removed, unavailable
    message: str | None = None
    before: str = ""
    passage: str = ""
    after: str = ""
    article_text: str | None = None  # the current text when the passage cannot be placed in it
    now_title: str | None = None

    @property
    def highlighted(self) -> bool:
        return bool(self.passage)


def place_passage(citation: StoredCitation, article: tuple[str, dict] | None) -> PassageView:
    """Find the cited passage in the article as it is now: at its stored span, elsewhere, or not at all."""
    if article is None:
        return PassageView(citation, "removed",
                           "This article has been removed from the index since the answer. "
                           "The passage is shown as it was cited.")
    text, meta = article
    title = meta.get("title")
    version_now = str(meta.get("article_hash", ""))[:16]
    version_then = citation.article_version
    start, end = citation.start, citation.end
    if start is not None and end is not None and 0 <= start <= end <= len(text) and text[start:end] == citation.text:
        message = None
        if version_then and version_now and version_then != version_now:
            message = ("The article was updated since the answer; the cited passage is unchanged, "
                       "at the same place.")
        return PassageView(citation, "same", message, text[:start], text[start:end], text[end:], now_title=title)
    found = text.find(citation.text) if citation.text else -1
    if found >= 0:
        stop = found + len(citation.text)
        return PassageView(citation, "moved",
                           f"The article changed since the answer; the cited passage is still in it, now at "
                           f"characters {found}-{stop} (it was cited at {start}-{end}).",
                           text[:found], text[found:stop], text[stop:], now_title=title)
    return PassageView(citation, "changed",
                       "The article changed since the answer and no longer contains the cited passage. "
                       "The passage is shown as it was cited, beside the article as it is now.",
                       article_text=text, now_title=title)


# -- rendering ---------------------------------------------------------------------------------

MARKER = re.compile(r"\[(\d+)\]")


def answer_segments(answer: str, cited: set[int]) -> list[tuple[str, int | None]]:
    """The answer split around its [n] markers, so the template can link them (and still escape the text)."""
    segments: list[tuple[str, int | None]] = []
    position = 0
    for match in MARKER.finditer(answer):
        number = int(match.group(1))
        if number not in cited:
            continue
        segments.append((answer[position:match.start()], None))
        segments.append((match.group(0), number))
        position = match.end()
    segments.append((answer[position:], None))
    return segments


def make_environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )
    environment.filters["when"] = short_time
    environment.filters["asker"] = lambda item: describe_asker(item.asker_id, item.asker_name)
    environment.filters["clip"] = lambda text, width=160: (" ".join(text.split())[: width - 1] + "…"
                                                           if len(" ".join(text.split())) > width
                                                           else " ".join(text.split()))
    return environment


def render(request: web.Request, template: str, status: int = 200, **context) -> web.Response:
    html = request.app[JINJA_KEY].get_template(template).render(**context)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")


FILTER_FIELDS = ("flagged", "user", "article", "since", "until", "front_end")


def read_filters(query) -> tuple[dict[str, str], AnswerFilter, list[str]]:
    """The filter form's values as given, the filter they make, and what was wrong with them."""
    values = {name: query.get(name, "").strip() for name in FILTER_FIELDS}
    errors: list[str] = []
    moments: dict[str, datetime | None] = {}
    for name in ("since", "until"):
        moments[name] = None
        if values[name]:
            try:
                moments[name] = parse_when(values[name])
            except ValueError as exc:
                errors.append(f"{name}: {exc}")
    flt = AnswerFilter(flagged=values["flagged"] in {"1", "on", "true", "yes"}, user_id=values["user"] or None,
                       article_id=values["article"] or None, since=moments["since"], until=moments["until"],
                       front_end=values["front_end"] or None)
    return values, flt, errors


def page_link(values: dict[str, str], page: int) -> str:
    params = {k: v for k, v in values.items() if v}
    if page > 1:
        params["page"] = str(page)
    return "/?" + urlencode(params) if params else "/"


# -- handlers ---------------------------------------------------------------------------------

async def list_page(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    values, flt, errors = read_filters(request.query)
    try:
        page_number = max(1, int(request.query.get("page", "1")))
    except ValueError:
        page_number = 1
        errors.append("page: not a number")
    if errors:
        return render(request, "list.html", status=400, values=values, errors=errors, page=None, hidden=[],
                      previous=None, next=None)
    page, hidden = await asyncio.to_thread(
        lambda: (store.list_answers(flt, limit=PAGE_SIZE, offset=(page_number - 1) * PAGE_SIZE),
                 store.hidden_article_details()))
    return render(request, "list.html", values=values, errors=[], page=page, hidden=hidden,
                  previous=page_link(values, page_number - 1) if page_number > 1 else None,
                  next=page_link(values, page_number + 1) if page.has_more else None)


def _answer_view(store: AuditStore, articles: ArticleTexts, answer_id: str) -> dict | None:
    record: AnswerRecord | None = store.get_answer(answer_id)
    if record is None:
        return None
    passages = []
    for citation in record.citations:
        try:
            passages.append(place_passage(citation, articles.get(citation.article_id)))
        except Exception as exc:  # the index cannot be read: say so, still show the passage
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            passages.append(PassageView(citation, "unavailable", f"The article text cannot be read: {reason}"))
    hidden = store.hidden_articles()
    return {
        "record": record, "passages": passages, "hidden": hidden,
        "segments": answer_segments(record.answer, {c.n for c in record.citations}),
        "actions": store.moderator_actions(answer_id=record.id),
    }


async def answer_page(request: web.Request) -> web.Response:
    answer_id = request.match_info["answer_id"]
    view = await asyncio.to_thread(_answer_view, request.app[STORE_KEY], request.app[ARTICLES_KEY], answer_id)
    if view is None:
        return render(request, "missing.html", status=404, answer_id=answer_id)
    return render(request, "answer.html", **view)


# -- access ------------------------------------------------------------------------------------

def _presented_token(request: web.Request) -> tuple[str | None, bool]:
    """The token the request carries and whether it came in the address."""
    header = request.headers.get("X-Review-Token")
    if header:
        return header.strip(), False
    authorization = request.headers.get("Authorization", "")
    if authorization.lower().startswith("bearer "):
        return authorization[7:].strip(), False
    if "token" in request.query:
        return request.query["token"], True
    return request.cookies.get(TOKEN_COOKIE), False


@web.middleware
async def guard(request: web.Request, handler: Callable) -> web.StreamResponse:
    """Read-only, token-checked on every request when a token is set, and strict headers on every answer."""
    if request.method not in {"GET", "HEAD"}:
        response: web.StreamResponse = web.Response(status=405, text="This page is read-only.\n",
                                                    headers={"Allow": "GET, HEAD"})
    else:
        response = await _checked(request, handler)
    response.headers.update(SECURITY_HEADERS)
    return response


async def _checked(request: web.Request, handler: Callable) -> web.StreamResponse:
    expected: str | None = request.app[TOKEN_KEY]
    if expected:
        presented, in_address = _presented_token(request)
        if not presented or not hmac.compare_digest(presented.encode(), expected.encode()):
            return render(request, "refused.html", status=401)
        if in_address:
            rest = {k: v for k, v in request.query.items() if k != "token"}
            target = request.path + ("?" + urlencode(rest) if rest else "")
            redirect = web.HTTPSeeOther(target)
            redirect.set_cookie(TOKEN_COOKIE, expected, httponly=True, samesite="Strict", path="/")
            return redirect
    try:
        return await handler(request)
    except web.HTTPException as exc:
        return exc


def build_app(settings: Settings, store: AuditStore, *, articles: ArticleTexts | None = None,
              token: str | None = None) -> web.Application:
    app = web.Application(middlewares=[guard])
    app[STORE_KEY] = store
    app[ARTICLES_KEY] = articles or ArticleTexts(settings)
    app[JINJA_KEY] = make_environment()
    app[TOKEN_KEY] = token
    app.router.add_get("/", list_page)
    app.router.add_get("/answers/{answer_id}", answer_page)
    return app


# -- serving ------------------------------------------------------------------------------------

def check_binding(host: str, token: str | None) -> None:
    if not is_loopback(host) and not token:
        raise ReviewConfigError(
            f"the review page would be reachable from other machines on {host}; set REVIEW_TOKEN "
            "(a long random string) in .env, or bind 127.0.0.1")


async def run_server(app: web.Application, host: str, port: int, announce: Callable[[str], None]) -> None:
    """Serve until SIGINT or SIGTERM, then shut down cleanly."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise ReviewConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    bound = runner.addresses[0]
    shown_host = f"[{bound[0]}]" if ":" in str(bound[0]) else bound[0]
    announce(f"http://{shown_host}:{bound[1]}/")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await runner.cleanup()


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> int:
    host = host or settings.review_host
    port = settings.review_port if port is None else port
    if not 0 <= port <= 65535:
        raise ReviewConfigError(f"port {port} is out of range (0-65535)")
    token = settings.review_token.get_secret_value() if settings.review_token else None
    check_binding(host, token)

    def announce(url: str) -> None:
        print(f"Review page: {url}  (read-only; Ctrl-C stops it)", flush=True)
        if token:
            print("Every request needs REVIEW_TOKEN: open the page once with ?token=YOUR_TOKEN "
                  "(a cookie keeps it), or send an X-Review-Token header.", flush=True)

    with AuditStore.from_settings(settings) as store:
        asyncio.run(run_server(build_app(settings, store, token=token), host, port, announce))
    return 0
