"""What a feed poll costs, against a local news site on 127.0.0.1 (no other network).

    python benchmarks/feeds_bench.py                  # one feed of 20 entries
    python benchmarks/feeds_bench.py --entries 50

The site serves an RSS feed of N entries, each linking to a short article page (about 120
words, one chunk), with ETag validators on the feed and the pages. Five polls with one warm
model (loaded once, as in `newsdesk watch` and the bot):

1. first poll: fetch the feed and N pages, extract, embed N chunks;
2. unchanged feed: one 304, nothing else;
3. changed feed, same entries: the feed in full, stored pages reused, no page request;
4. one corrected article whose feed entry says so: the feed, one conditional page fetch, one
   article re-embedded;
5. a silent correction, once the stored pages are due for a recheck (`page_recheck_seconds`,
   6 hours by default, set to 0 here): the feed, N conditional page requests (N-1 answered 304),
   one article re-embedded.

Prints, per poll: seconds, requests made, articles new/updated/unchanged and chunks embedded.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from newsdesk.config import load_settings  # noqa: E402
from newsdesk.feeds import FeedPoller  # noqa: E402
from newsdesk.fetching import FetchPolicy  # noqa: E402

WORDS = ("council harbour ferry storm repairs bridge school library museum market fishermen quay "
         "tide lighthouse volunteers budget road rail festival weather").split()


def article_page(number: int, revision: int) -> str:
    sentences = []
    for sentence in range(8):
        words = [WORDS[(number * 7 + sentence * 3 + k) % len(WORDS)] for k in range(14)]
        sentences.append(" ".join(words).capitalize() + f" ({number}.{sentence}).")
    if revision:
        sentences.append(f"Correction number {revision}: an earlier version misstated a figure.")
    paragraphs = "".join(f"<p>{' '.join(sentences[i:i + 2])}</p>" for i in range(0, len(sentences), 2))
    return (f"<!DOCTYPE html><html><head><title>Story {number}</title>"
            f'<meta property="og:site_name" content="Bench Gazette">'
            f'<meta property="article:published_time" content="2024-03-05T08:00:00Z"></head>'
            f"<body><article><h1>Story {number}</h1>{paragraphs}</article></body></html>")


def feed(base: str, entries: int, version: int, announced: dict[int, int]) -> str:
    items = "".join(
        f"<item><title>Story {n}</title><link>{base}/story/{n}</link><guid>{base}/story/{n}</guid>"
        f"<pubDate>Tue, 05 Mar 2024 08:00:00 GMT</pubDate><description>Summary of story {n}."
        f"{' Corrected.' * announced.get(n, 0)}</description></item>" for n in range(entries))
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Bench Gazette</title>'
            f"<link>{base}/</link><description>v{version}</description>{items}</channel></rss>")


class Site:
    def __init__(self, entries: int):
        self.entries = entries
        self.feed_version = 1
        self.revisions: dict[int, int] = {}
        self.announced: dict[int, int] = {}
        self.requests = 0

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/feed.xml", self.feed)
        app.router.add_get("/story/{number}", self.story)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        host, port = self.runner.addresses[0][:2]
        self.base = f"http://{host}:{port}"
        return self.base

    def _answer(self, request: web.Request, etag: str, body: str, content_type: str) -> web.Response:
        self.requests += 1
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(text=body, content_type=content_type, headers={"ETag": etag})

    async def feed(self, request: web.Request) -> web.Response:
        return self._answer(request, f'"feed-{self.feed_version}"',
                            feed(self.base, self.entries, self.feed_version, self.announced),
                            "application/rss+xml")

    async def story(self, request: web.Request) -> web.Response:
        number = int(request.match_info["number"])
        revision = self.revisions.get(number, 0)
        return self._answer(request, f'"story-{number}-{revision}"', article_page(number, revision),
                            "text/html")


async def run(entries: int) -> None:
    site = Site(entries)
    base = await site.start()
    with tempfile.TemporaryDirectory() as data_dir:
        settings = load_settings(data_dir=data_dir, env_file=None)
        poller = FeedPoller(settings)
        rechecking = FeedPoller(settings, policy=FetchPolicy.from_settings(settings, page_recheck_seconds=0))

        def correct(number: int, announce: bool) -> None:
            site.revisions[number] = site.revisions.get(number, 0) + 1
            if announce:
                site.announced[number] = site.revisions[number]
            site.feed_version += 1

        steps = [
            ("first poll", poller, lambda: None),
            ("unchanged feed (304)", poller, lambda: None),
            ("changed feed, same entries", poller,
             lambda: setattr(site, "feed_version", site.feed_version + 1)),
            ("announced correction", poller, lambda: correct(0, announce=True)),
            ("silent correction, recheck", rechecking, lambda: correct(1, announce=False)),
        ]
        print(f"{entries} entries, {base}/feed.xml")
        print(f"{'poll':<28} {'seconds':>8} {'requests':>9} {'new':>5} {'upd':>5} {'same':>5} "
              f"{'embedded':>9}")
        for name, chosen, change in steps:
            change()
            before = site.requests
            started = time.perf_counter()
            report = await chosen.poll([f"{base}/feed.xml"])
            seconds = time.perf_counter() - started
            counts = report.summary.articles
            print(f"{name:<28} {seconds:>8.2f} {site.requests - before:>9} {counts.new:>5} "
                  f"{counts.updated:>5} {counts.unchanged:>5} {report.summary.chunks.embedded:>9}")
    await site.runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(run(args.entries))


if __name__ == "__main__":
    main()
