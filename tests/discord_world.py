"""The SimCord world both Discord behaviour suites use: a real index of the tiny corpus, the real
engine, a fresh audit store per test, and a server with #news, two members and a moderator role.
Import the fixtures into a test module to use them (the wire suite takes the index, engine and
audit fixtures from here too)."""

from __future__ import annotations

from contextlib import asynccontextmanager

import discord
import pytest
import simcord

from discord_support import build_index
from newsdesk.audit import AuditStore
from newsdesk.discord_bot.client import NewsdeskBot
from newsdesk.engine import Engine


@pytest.fixture(scope="module")
def index_settings(tmp_path_factory, embedder):
    return build_index(tmp_path_factory.mktemp("discord-index"), embedder)


@pytest.fixture(scope="module")
def engine(index_settings, embedder):
    return Engine(index_settings, embedder=embedder)


@pytest.fixture
def audit(tmp_path, engine):
    store = AuditStore(tmp_path / "audit.sqlite3")
    engine.hidden_articles = store.hidden_articles
    yield store
    engine.hidden_articles = lambda: set()
    store.close()


class World:
    """One simulated server: a #news channel, a member, a moderator, and the bot."""

    def __init__(self, env: simcord.Env, bot: NewsdeskBot, audit: AuditStore):
        self.env, self.bot, self.audit = env, bot, audit
        self.guild = env.create_guild("Newsroom")
        self.news = self.guild.create_text_channel("news")
        self.mods = self.guild.create_role("Mods")
        self.alice = self.guild.add_member(env.create_user("alice"))
        self.bob = self.guild.add_member(env.create_user("bob"))
        self.mod = self.guild.add_member(env.create_user("mia"), roles=[self.mods])

    @property
    def mention(self) -> str:
        return self.bot.user.mention

    def bot_messages(self, channel) -> list[discord.Message]:
        """What the bot wrote in a channel (not the "started a thread" notices)."""
        return [m for m in channel.history() if m.author.id == self.bot.user.id and not m.is_system()]

    def only_thread(self, channel):
        threads = channel.threads
        assert len(threads) == 1, threads
        return threads[0]


@pytest.fixture
def make_world(index_settings, engine, audit):
    """`async with make_world(**setting_overrides) as world:` a running bot in a fresh server."""

    @asynccontextmanager
    async def running(engine_override=None, reindex=None, **overrides):
        settings = index_settings.model_copy(update=overrides)
        bot = NewsdeskBot(settings, engine_override or engine, audit, reindex=reindex)
        async with simcord.run(bot) as env:
            yield World(env, bot, audit)
        await bot.close()
    return running


def custom_ids(message: discord.Message) -> list[str]:
    return [child.custom_id for row in message.components for child in row.children]
