"""`newsdesk bot`: load the engine and the audit store once, then run the client until stopped.

Start-up problems an operator can fix (no token, a token Discord rejects, the
message content intent switched off in the developer portal) become one line
naming what to change; the token itself never appears in a message or a log.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import discord

from newsdesk.config import Settings
from newsdesk.discord_bot.client import NewsdeskBot, build_reindexer

log = logging.getLogger(__name__)

PORTAL = "Discord developer portal (https://discord.com/developers/applications) > your application > Bot"
TOKEN_MISSING = (f"DISCORD_TOKEN is not set; put DISCORD_TOKEN=<your bot's token> in .env (the token is under "
                 f"{PORTAL} > Reset Token)")
TOKEN_REJECTED = (f"Discord rejected DISCORD_TOKEN; copy a fresh token from {PORTAL} > Reset Token "
                  "into .env")
INTENT_MISSING = (f"Discord refused the Message Content intent; switch on 'Message Content Intent' under "
                  f"'Privileged Gateway Intents' in {PORTAL}, then start the bot again")


class BotStartError(RuntimeError):
    """The bot cannot start or had to stop for a reason the operator can fix; one line."""


def token_of(settings: Settings) -> str:
    token = settings.discord_token.get_secret_value().strip() if settings.discord_token else ""
    if not token:
        raise BotStartError(TOKEN_MISSING)
    return token


def build_bot(settings: Settings, **client_options: Any) -> NewsdeskBot:
    """The engine (with hidden articles from the audit store), the store and the client."""
    from newsdesk.audit import AuditStore
    from newsdesk.engine import Engine

    # The engine first: with no index yet it fails before anything is created in the data directory.
    engine = Engine(settings, hidden_articles=lambda: audit.hidden_articles())
    audit = AuditStore.from_settings(settings)
    engine.warm_up()
    poller = None
    if settings.feeds and settings.feeds_poll_minutes:
        from newsdesk.feeds import FeedPoller
        from newsdesk.ingestion import Ingestor

        poller = FeedPoller(settings, Ingestor(settings, embedder=engine.embedder))
    return NewsdeskBot(settings, engine, audit, reindex=build_reindexer(settings, engine), feed_poller=poller,
                       **client_options)


async def run_client(bot: discord.Client, token: str) -> None:
    """Run until the bot is closed; problems the operator can fix raise `BotStartError`."""
    async with bot:
        try:
            await bot.start(token)
        except discord.LoginFailure:
            raise BotStartError(TOKEN_REJECTED) from None
        except discord.PrivilegedIntentsRequired:
            raise BotStartError(INTENT_MISSING) from None
        except discord.ConnectionClosed as exc:
            if exc.code == 4004:
                raise BotStartError(TOKEN_REJECTED) from None
            raise BotStartError(f"Discord closed the connection (code {exc.code}: {exc.reason or 'no reason'})"
                                ) from None
        except (OSError, discord.GatewayNotFound) as exc:
            raise BotStartError(f"cannot reach Discord: {exc}") from None


def run(settings: Settings) -> int:
    """The `newsdesk bot` command."""
    token = token_of(settings)
    bot = build_bot(settings)
    asyncio.run(run_client(bot, token))
    return 0
