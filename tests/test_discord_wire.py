"""The bot over the real discord.py network path (aiohttp REST client, gateway websocket,
heartbeats, rate limits, RESUME), against the loopback fake in `fake_discord.py`."""

from __future__ import annotations

import asyncio
import logging
import threading
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest

from discord_support import ALTANBULAG
from discord_world import audit, engine, index_settings  # noqa: F401 (fixtures)
from fake_discord import EPHEMERAL, FakeDiscord, FakeDiscordThread, pointing_discord_py_at
from newsdesk import cli
from newsdesk.audit import AuditStore
from newsdesk.discord_bot.client import NewsdeskBot
from newsdesk.discord_bot.runner import TOKEN_MISSING, run_client
from newsdesk.feeds import FeedPoller
from newsdesk.fetching import FetchPolicy
from newsdesk.ingestion import Ingestor


@pytest.fixture
async def fake():
    server = await FakeDiscord().start()
    with pointing_discord_py_at(server):
        yield server
    await server.stop()


@asynccontextmanager
async def running(fake: FakeDiscord, bot: NewsdeskBot):
    """The bot connected to the fake (READY seen), closed afterwards."""
    session = asyncio.create_task(run_client(bot, fake.token))
    ready = asyncio.create_task(bot.wait_until_ready())
    done, _ = await asyncio.wait({session, ready}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
    if session in done:
        ready.cancel()
        session.result()
    assert ready in done, "the bot never became ready"
    try:
        yield bot
    finally:
        await bot.close()
        await asyncio.wait_for(session, 30)


@pytest.fixture
def new_bot(index_settings, engine, audit):
    def make(**overrides) -> NewsdeskBot:
        reindex = overrides.pop("reindex", None)
        return NewsdeskBot(index_settings.model_copy(update=overrides), engine, audit, reindex=reindex,
                           guild_ready_timeout=0.05)
    return make


def posted_to(path: str):
    return lambda r: r.method == "POST" and r.path == path and r.status == 200


async def ask_by_mention(fake: FakeDiscord, bot: NewsdeskBot, user, question: str = ALTANBULAG):
    """Mention the bot; returns the question message and the request that carried the answer."""
    mark = len(fake.requests)
    message = await fake.send_message(user, f"{bot.user.mention} {question}")
    answer = await fake.wait_for_request(posted_to(f"/channels/{message['id']}/messages"), after=mark)
    return message, answer


async def test_login_identify_and_ready(fake, new_bot):
    async with running(fake, new_bot()) as bot:
        paths = [(r.method, r.path) for r in fake.requests]
        assert paths[:2] == [("GET", "/users/@me"), ("GET", "/oauth2/applications/@me")]
        assert all(r.headers["Authorization"] == "Bot good-token" for r in fake.requests[:2])
        assert {c["name"] for c in fake.commands} == {"ask", "status", "reindex", "review", "feedback",
                                                      "Moderate answer"}
        assert fake.identifies == 1 and fake.heartbeats >= 1
        assert bot.user.id == fake.bot.id and [g.id for g in bot.guilds] == [fake.guild_id]


async def test_commands_go_to_the_configured_guilds(fake, new_bot):
    async with running(fake, new_bot(discord_guild_ids=[fake.guild_id])):
        [sync] = [r for r in fake.requests if r.method == "PUT"]
        assert sync.path == f"/applications/{fake.application_id}/guilds/{fake.guild_id}/commands"
        assert {c["name"] for c in sync.json} >= {"ask", "review"}


async def test_missing_commands_scope_is_logged_and_the_bot_still_answers(fake, new_bot, caplog):
    fake.forbid_commands = True
    alice = fake.add_user("alice")
    with caplog.at_level(logging.ERROR, logger="newsdesk.discord_bot.client"):
        async with running(fake, new_bot()) as bot:
            _, answer = await ask_by_mention(fake, bot, alice)
    assert "3,000" in answer.json["content"]
    assert "'applications.commands' scope" in caplog.text


class HeldEngine:
    """The real engine, except that each answer waits in its worker thread until released."""

    def __init__(self, engine):
        self.engine, self.embedder = engine, engine.embedder
        self.started, self.release = threading.Event(), threading.Event()

    def status(self):
        return self.engine.status()

    def ask(self, question, history=()):
        self.started.set()
        self.release.wait(60)
        return self.engine.ask(question, history)


async def test_a_slow_answer_does_not_stall_the_gateway(fake, index_settings, engine, audit):
    held = HeldEngine(engine)
    alice = fake.add_user("alice")
    bot = NewsdeskBot(index_settings, held, audit, guild_ready_timeout=0.05)
    async with running(fake, bot):
        message = await fake.send_message(alice, f"{bot.user.mention} {ALTANBULAG}")
        await asyncio.to_thread(held.started.wait, 60)  # the answer is being computed...
        beats = fake.heartbeats
        await fake.ask_for_heartbeat()
        await fake.wait_until(lambda: fake.heartbeats > beats)  # ...and the heartbeat still goes out
        assert fake.bot_messages(int(message["id"])) == []
        held.release.set()
        answer = await fake.wait_for_request(posted_to(f"/channels/{message['id']}/messages"))
        assert "3,000" in answer.json["content"]


async def test_mention_is_answered_in_a_thread_over_rest(fake, new_bot, audit):
    alice = fake.add_user("alice")
    async with running(fake, new_bot()) as bot:
        question, answer = await ask_by_mention(fake, bot, alice)

        assert any(r.path == f"/channels/{fake.channel_id}/messages/{question['id']}/threads"
                   for r in fake.requests)
        assert any(r.path == f"/channels/{question['id']}/typing" for r in fake.requests)
        assert "more than 3,000 arrivals" in answer.json["content"]
        assert answer.json["allowed_mentions"]["parse"] == []
        [record] = audit.list_answers().items
        buttons = [c["custom_id"] for row in answer.json["components"] for c in row["components"]]
        assert buttons[0] == f"newsdesk:sources:{record.id}"

        mark = len(fake.requests)
        await fake.send_message(alice, "And what did the men say?", channel_id=int(question["id"]))
        follow_up = await fake.wait_for_request(posted_to(f"/channels/{question['id']}/messages"), after=mark)
        assert "did not want to fight" in follow_up.json["content"]


async def test_ask_interaction_is_deferred_then_followed_up(fake, new_bot):
    alice = fake.add_user("alice")
    async with running(fake, new_bot()):
        token = await fake.slash(alice, "ask", question=ALTANBULAG)
        followup = await fake.wait_for_request(posted_to(f"/webhooks/{fake.application_id}/{token}"))

        callbacks = [r for r in fake.requests if r.path.endswith(f"/{token}/callback")]
        assert [c.json["type"] for c in callbacks] == [5]  # deferred, once
        assert fake.requests.index(callbacks[0]) < fake.requests.index(followup)
        assert "more than 3,000 arrivals" in followup.json["content"]
        assert followup.json["allowed_mentions"]["parse"] == []
        answer = fake.responses(token)[-1]
        await fake.wait_for_request(lambda r: r.path.endswith(f"/messages/{answer['id']}/threads"))


async def test_sources_button_click_answers_ephemerally(fake, new_bot):
    alice, bob = fake.add_user("alice"), fake.add_user("bob")
    async with running(fake, new_bot()) as bot:
        question, _ = await ask_by_mention(fake, bot, alice)
        [answer] = fake.bot_messages(int(question["id"]))
        sources = answer["components"][0]["components"][0]["custom_id"]

        token = await fake.click(bob, answer, sources)
        callback = await fake.wait_for_request(posted_to_suffix(f"/{token}/callback"))
        assert callback.json["type"] == 4 and callback.json["data"]["flags"] & EPHEMERAL
        assert "> Many of the men said they did not want to fight in Ukraine." in callback.json["data"]["content"]


def posted_to_suffix(suffix: str):
    return lambda r: r.method == "POST" and r.path.endswith(suffix)


async def test_a_429_is_waited_out_and_retried(fake, new_bot):
    alice = fake.add_user("alice")
    async with running(fake, new_bot()) as bot:
        fake.rate_limit_once("POST", r"/channels/\d+/messages")
        question, answer = await ask_by_mention(fake, bot, alice)

        attempts = [r for r in fake.requests if r.path == f"/channels/{question['id']}/messages"]
        assert [a.status for a in attempts] == [429, 200]
        assert attempts[0].json == attempts[1].json
        assert len(fake.bot_messages(int(question["id"]))) == 1


async def test_gateway_drop_is_resumed_and_the_bot_still_answers(fake, new_bot):
    alice = fake.add_user("alice")
    async with running(fake, new_bot()) as bot:
        await fake.drop_gateway(code=4000)
        await fake.wait_until(lambda: fake.resumes == 1 and len(fake.sockets) == 1)
        _, answer = await ask_by_mention(fake, bot, alice)
        assert "3,000" in answer.json["content"]
        assert fake.identifies == 1  # resumed, not a new session


async def test_one_reindex_at_a_time(fake, new_bot, index_settings):
    mod = fake.add_user("mia", permissions=str(1 << 5))  # Manage Server
    release, entered = threading.Event(), threading.Event()

    def slow_reindex():
        entered.set()
        release.wait(60)
        return type("Summary", (), {"describe": lambda self: "articles: 0 new, 3 unchanged"})()

    async with running(fake, new_bot(reindex=slow_reindex)):
        first = await fake.slash(mod, "reindex")
        await fake.wait_for_request(posted_to_suffix(f"/{first}/callback"))
        await asyncio.to_thread(entered.wait, 60)
        second = await fake.slash(mod, "reindex")
        busy = await fake.wait_for_request(posted_to_suffix(f"/{second}/callback"))
        assert "already running" in busy.json["data"]["content"] and busy.json["data"]["flags"] & EPHEMERAL
        release.set()
        report = await fake.wait_for_request(posted_to(f"/webhooks/{fake.application_id}/{first}"))
        assert "Reindex finished" in report.json["content"] and "3 unchanged" in report.json["content"]


# -- `newsdesk bot` start-up problems, as an operator meets them ----------------------------------

@pytest.fixture
def operator_env(monkeypatch, tmp_path, index_settings):
    monkeypatch.chdir(tmp_path)  # no .env from the project
    monkeypatch.setenv("NEWSDESK_DATA_DIR", str(index_settings.data_dir))
    return monkeypatch


def test_missing_token_is_one_line_and_exit_2(operator_env, capsys):
    operator_env.delenv("DISCORD_TOKEN", raising=False)
    assert cli.main(["bot"]) == 2
    err = capsys.readouterr().err
    assert err == f"newsdesk: {TOKEN_MISSING}\n"


def test_rejected_token_names_the_portal_setting_and_never_the_token(operator_env, capsys, caplog):
    operator_env.setenv("DISCORD_TOKEN", "not-the-token-123")
    with FakeDiscordThread() as server, pointing_discord_py_at(server):
        code = cli.main(["bot"])
    err = capsys.readouterr().err
    assert code == 2
    assert "Discord rejected DISCORD_TOKEN" in err and "Reset Token" in err
    assert "not-the-token-123" not in err + caplog.text


def test_message_content_intent_switched_off_names_the_portal_setting(operator_env, capsys):
    operator_env.setenv("DISCORD_TOKEN", "good-token")
    with FakeDiscordThread(message_content_intent=False) as server, pointing_discord_py_at(server):
        code = cli.main(["bot"])
    err = capsys.readouterr().err
    assert code == 2 and "Message Content Intent" in err and "Privileged Gateway Intents" in err


# -- feeds polled in the background ----------------------------------------------------------------

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Kessel Gazette</title><link>{base}/</link><description>Local news</description>
<item><title>Bridge reopens in Kessel</title><link>{base}/bridge</link><guid>{base}/bridge</guid>
<pubDate>Mon, 05 Feb 2024 10:00:00 GMT</pubDate>
<description>The old bridge at Kessel reopened on Monday after two years of repairs.</description></item>
</channel></rss>"""

PAGE = """<html><head><title>Bridge reopens in Kessel</title></head><body><article>
<h1>Bridge reopens in Kessel</h1><p>The old bridge at Kessel reopened on Monday after two years of repairs,
the town council said. Engineers replaced the iron railings and strengthened the three stone arches.</p>
<p>Traffic will be limited to cars and bicycles until the spring, when buses return to the route.</p>
</article></body></html>"""


@dataclass
class NewsSite:
    base: str = ""
    feed_failures: int = 0
    """The next this many requests for the feed are answered 500."""
    feed_requests: int = 0
    _counts: dict[int, asyncio.Event] = field(default_factory=dict)

    @property
    def feed(self) -> str:
        return f"{self.base}/news.rss"

    def feed_asked(self, times: int) -> asyncio.Event:
        """Set once the feed has been asked for `times` times."""
        return self._counts.setdefault(times, asyncio.Event())

    def count_feed_request(self) -> None:
        self.feed_requests += 1
        self.feed_asked(self.feed_requests).set()


@pytest.fixture
async def news_site():
    from aiohttp import web

    site = NewsSite()

    async def feed(request):
        site.count_feed_request()
        if site.feed_failures > 0:
            site.feed_failures -= 1
            return web.Response(status=500, text="temporary trouble")
        return web.Response(text=RSS.format(base=site.base), content_type="application/rss+xml")

    async def page(request):
        return web.Response(text=PAGE, content_type="text/html")

    app = web.Application()
    app.router.add_get("/news.rss", feed)
    app.router.add_get("/bridge", page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    site.base = f"http://127.0.0.1:{tcp._server.sockets[0].getsockname()[1]}"
    yield site
    await runner.cleanup()


async def test_feeds_are_polled_in_the_background_and_reported_to_the_mod_log(
        fake, engine, audit, index_settings, news_site, tmp_path, embedder):
    poll_settings = index_settings.model_copy(update={"data_dir": tmp_path / "feed-data",
                                                      "feeds": [news_site.feed]})
    poller = FeedPoller(poll_settings, Ingestor(poll_settings, embedder=embedder))
    settings = index_settings.model_copy(update={"feeds": poll_settings.feeds, "feeds_poll_minutes": 60,
                                                 "discord_mod_log_channel_id": fake.channel_id})
    bot = NewsdeskBot(settings, engine, audit, feed_poller=poller, guild_ready_timeout=0.05)
    async with running(fake, bot):
        report = await fake.wait_for_request(
            lambda r: r.path == f"/channels/{fake.channel_id}/messages" and "Feeds" in r.json["content"])
        assert report.json["content"] == "**Feeds:** 1 new article"
        assert report.json["allowed_mentions"]["parse"] == []


class PromptPoller(FeedPoller):
    """The real poller, polling again a moment after each poll instead of FEEDS_POLL_MINUTES later."""

    async def run_every(self, seconds, on_report, **options):
        await super().run_every(0.05, on_report, **options)


async def test_a_feed_that_stays_down_is_posted_once_and_again_when_it_is_back(
        fake, engine, audit, index_settings, news_site, tmp_path, embedder):
    news_site.feed_failures = 3  # three polls of one attempt each
    poll_settings = index_settings.model_copy(update={"data_dir": tmp_path / "feed-data",
                                                      "feeds": [news_site.feed]})
    poller = PromptPoller(poll_settings, Ingestor(poll_settings, embedder=embedder),
                          policy=FetchPolicy.from_settings(poll_settings, retry_delays=()))
    settings = index_settings.model_copy(update={"feeds": poll_settings.feeds, "feeds_poll_minutes": 60,
                                                 "discord_mod_log_channel_id": fake.channel_id})
    bot = NewsdeskBot(settings, engine, audit, feed_poller=poller, guild_ready_timeout=0.05)
    to_mod_log = posted_to(f"/channels/{fake.channel_id}/messages")
    async with running(fake, bot):
        # The sixth poll starts once the fifth, the first after the recovery, has been reported.
        await asyncio.wait_for(news_site.feed_asked(6).wait(), timeout=120)

    posts = [r.json["content"] for r in fake.requests if to_mod_log(r)]
    assert posts == [
        f"**Feeds:** no new articles, 1 feed failed\nFeed failing: <{news_site.feed}>: "
        "HTTP 500 Internal Server Error",
        f"**Feeds:** 1 new article, 1 feed back\nFeed back: <{news_site.feed}>, after 3 failed polls",
    ]


def test_newsdesk_bot_answers_as_the_operator_runs_it(operator_env, index_settings):
    """`newsdesk bot` end to end: settings from the environment, the engine and the audit store
    in the data directory, a mention answered; the session ends when Discord revokes the token."""
    operator_env.setenv("DISCORD_TOKEN", "good-token")
    outcome: dict[str, int] = {}
    discord_side = FakeDiscordThread()
    with discord_side as server, pointing_discord_py_at(server):
        alice = server.add_user("alice")
        bot_process = threading.Thread(target=lambda: outcome.setdefault("code", cli.main(["bot"])))
        bot_process.start()
        discord_side.call(server.wait_until(lambda: server.identifies == 1, timeout=120), timeout=130)
        question = discord_side.call(server.send_message(alice, f"<@{server.bot.id}> {ALTANBULAG}"))
        answer = discord_side.call(server.wait_for_request(posted_to(f"/channels/{question['id']}/messages")))
        discord_side.call(server.drop_gateway(code=4004))
        bot_process.join(60)
    assert "3,000" in answer.json["content"]
    assert outcome["code"] == 2  # the revoked token ends the run with the one-line message
    with AuditStore.from_settings(index_settings) as store:
        [record] = store.list_answers().items
        assert record.question == ALTANBULAG and record.asker_id == str(alice.id)

