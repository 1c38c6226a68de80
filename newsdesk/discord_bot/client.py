"""The Discord client: turns events into engine calls and results into messages.

Nothing here answers questions; the engine does, in worker threads, so a slow
answer never holds up the gateway heartbeat. Every message the bot sends carries
`allowed_mentions=none` (set on the client and again on each call), so text from
articles or questions can never ping anyone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import discord
from discord import app_commands

from newsdesk.config import Settings
from newsdesk.discord_bot import formatting
from newsdesk.discord_bot.moderation import RateLimiter, channel_allowed, is_moderator
from newsdesk.discord_bot.review import ModeratorDesk
from newsdesk.discord_bot.views import PERSISTENT_ITEMS, answer_view
from newsdesk.results import MAX_QUESTION_CHARS, AnswerResult, QuestionError, Turn

log = logging.getLogger(__name__)

NO_PINGS = discord.AllowedMentions.none()
APOLOGY = "Sorry, something went wrong on my side. It has been logged; please try again in a moment."
MODERATORS_ONLY = "Moderators only."
ANSWER_THREADS = 2
HISTORY_TURNS = 6
DRAIN_SECONDS = 30.0


class NewsdeskBot(discord.Client):
    """The newsdesk bot. `engine` answers (`ask`, `status`, `embedder`); `audit` stores answers,
    votes and moderator actions; `reindex` (a callable run in a thread) rebuilds the index;
    `feed_poller` (a `newsdesk.feeds.FeedPoller`) polls FEEDS every FEEDS_POLL_MINUTES."""

    def __init__(self, settings: Settings, engine: Any, audit: Any, *,
                 reindex: Callable[[], Any] | None = None, feed_poller: Any = None,
                 clock: Callable[[], float] = time.monotonic, **client_options: Any):
        intents = discord.Intents.default()
        intents.message_content = True
        super().__init__(intents=intents, allowed_mentions=NO_PINGS, **client_options)
        self.settings = settings
        self.engine = engine
        self.audit = audit
        self.reindex = reindex
        self.feed_poller = feed_poller
        self._feeds_stop = asyncio.Event()
        self._feeds_task: asyncio.Task | None = None
        self.rate_limiter = RateLimiter(settings.rate_limit_per_minute, clock)
        self.tree = app_commands.CommandTree(self)
        self.tree.on_error = self.on_app_command_error
        self._answer_pool = ThreadPoolExecutor(ANSWER_THREADS, thread_name_prefix="newsdesk-answer")
        self._reindex_pool = ThreadPoolExecutor(1, thread_name_prefix="newsdesk-reindex")
        self._reindexing = False
        self._handlers: set[asyncio.Task] = set()
        self.desk = ModeratorDesk(self)

    # -- start-up ------------------------------------------------------------------------
    async def setup_hook(self) -> None:
        from newsdesk.discord_bot.commands import register_commands

        self.add_dynamic_items(*PERSISTENT_ITEMS)
        register_commands(self)
        await self.sync_commands()
        minutes = self.settings.feeds_poll_minutes
        if self.feed_poller is not None and self.settings.feeds and minutes:
            self._feeds_task = asyncio.create_task(
                self.feed_poller.run_every(minutes * 60, self._report_feed_poll, stop=self._feeds_stop),
                name="newsdesk-feed-poll")

    async def _report_feed_poll(self, report: Any) -> None:
        """A poll worth telling (new articles, a feed that started failing or is back, another
        failure) is one post in the moderators' log channel; a feed that stays down is not
        repeated poll after poll."""
        if report is None or not report.worth_telling:
            return
        await self.wait_until_ready()
        await self.post_to_mod_log(formatting.feed_poll_blocks(report))

    async def sync_commands(self) -> None:
        """Slash commands to the configured guilds (available at once), else globally."""
        targets = [discord.Object(guild_id) for guild_id in self.settings.discord_guild_ids] or [None]
        for guild in targets:
            where = f"server {guild.id}" if guild else "all servers"
            try:
                if guild is not None:
                    self.tree.copy_global_to(guild=guild)
                synced = await self.tree.sync(guild=guild)
                log.info("slash commands synced to %s: %s", where, ", ".join(c.name for c in synced))
            except discord.Forbidden:
                log.error("cannot register slash commands in %s: invite the bot with the "
                          "'applications.commands' scope (see README, Discord bot)", where)
            except discord.HTTPException as exc:
                log.error("cannot register slash commands in %s: %s", where, exc)

    async def on_ready(self) -> None:
        log.info("connected to Discord as %s (id %s) in %d server(s)", self.user,
                 self.user.id if self.user else "?", len(self.guilds))

    @contextlib.contextmanager
    def in_flight(self) -> Iterator[None]:
        """Marks the running handler as one that `close` lets finish (an answer half sent, say)."""
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        try:
            yield
        finally:
            self._handlers.discard(task)

    async def close(self) -> None:
        """Let answers in progress finish (for a while), then disconnect."""
        pending = {t for t in self._handlers if t is not asyncio.current_task() and not t.done()}
        if pending and not self.is_closed():
            log.info("finishing %d answer(s) before closing", len(pending))
            await asyncio.wait(pending, timeout=DRAIN_SECONDS)
        self._feeds_stop.set()
        if self._feeds_task is not None:
            self._feeds_task.cancel()
            await asyncio.gather(self._feeds_task, return_exceptions=True)
        await super().close()
        self._answer_pool.shutdown(wait=False, cancel_futures=True)
        self._reindex_pool.shutdown(wait=False, cancel_futures=True)

    # -- asking by message ------------------------------------------------------------------
    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or self.user is None or message.guild is None:
            return
        mentioned = self._mentions_me(message.content)
        in_own_thread = self._is_own_thread(message.channel)
        if not (mentioned or in_own_thread) or not channel_allowed(message.channel, self.settings):
            return
        with self.in_flight():
            try:
                await self._answer_message(message)
            except Exception:
                log.exception("error while answering message %s in channel %s", message.id, message.channel.id)
                try:
                    await message.channel.send(APOLOGY, allowed_mentions=NO_PINGS)
                except Exception as exc:
                    log.warning("could not send the apology in channel %s: %s", message.channel.id, exc)

    def _mentions_me(self, content: str) -> bool:
        return bool(self.user and re.search(rf"<@!?{self.user.id}>", content))

    def _is_own_thread(self, channel: Any) -> bool:
        return isinstance(channel, discord.Thread) and self.user is not None and channel.owner_id == self.user.id

    def _question_text(self, content: str) -> str:
        assert self.user is not None
        return " ".join(re.sub(rf"<@!?{self.user.id}>", " ", content).split())

    async def _answer_message(self, message: discord.Message) -> None:
        question = self._question_text(message.content)
        if not question and not self._mentions_me(message.content):
            return  # a picture or sticker in the bot's thread: nothing was asked
        problem = self._question_problem(question)
        if problem:
            await message.reply(problem, mention_author=False, allowed_mentions=NO_PINGS)
            return
        wait = self.rate_limiter.retry_after(message.author.id)
        if wait is not None:
            await message.reply(_slow_down(wait), mention_author=False, allowed_mentions=NO_PINGS)
            return
        history = await self._history(message.channel)
        destination, thread = await self._conversation_place(message, question)
        async with _typing(destination):
            result = await self._ask(question, history)
        if isinstance(result, str):
            await destination.send(result, allowed_mentions=NO_PINGS)
            return
        answer_id = await self._record(result, history, message.author, message.guild, message.channel,
                                       thread, message.id)
        reference = message if destination is message.channel and thread is None else None
        sent = await self._send_answer(destination, result, answer_id, reference=reference)
        await self._after_answer(answer_id, sent, message.author, message.jump_url, result)

    def _question_problem(self, question: str) -> str | None:
        """The friendly usage reply for an empty or over-long question, else None."""
        if not question:
            return formatting.usage_text(self.user.mention if self.user else "@newsdesk", MAX_QUESTION_CHARS)
        if len(question) > MAX_QUESTION_CHARS:
            return (f"That question is {len(question):,} characters long; please keep it under "
                    f"{MAX_QUESTION_CHARS:,}.")
        return None

    async def _conversation_place(self, message: discord.Message, question: str
                                  ) -> tuple[discord.abc.Messageable, discord.Thread | None]:
        """Where the answer goes: the thread the question was asked in, else a new thread
        started from the question, else (no permission to create one) the channel itself."""
        if isinstance(message.channel, discord.Thread):
            return message.channel, message.channel
        if isinstance(message.channel, discord.TextChannel):
            try:
                thread = await message.create_thread(name=formatting.thread_name(question),
                                                     auto_archive_duration=1440)
                return thread, thread
            except discord.HTTPException as exc:
                log.warning("cannot start a thread in channel %s (%s); answering in the channel. "
                            "Give the bot 'Create Public Threads' there.", message.channel.id, exc)
        return message.channel, None

    async def _history(self, channel: Any) -> list[Turn]:
        """The earlier turns of a conversation in one of the bot's threads."""
        if not self._is_own_thread(channel):
            return []
        return await asyncio.to_thread(self.audit.thread_turns, channel.id, HISTORY_TURNS)

    async def _ask(self, question: str, history: Sequence[Turn]) -> AnswerResult | str:
        """The engine's answer, computed in a worker thread; a str when the engine refused the question."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._answer_pool, self.engine.ask, question, list(history))
        except QuestionError as exc:
            return str(exc)

    async def _record(self, result: AnswerResult, history: Sequence[Turn], asker: discord.abc.User,
                      guild: discord.Guild | None, channel: Any, thread: discord.Thread | None,
                      question_message_id: int | None) -> str:
        return await asyncio.to_thread(
            self.audit.record_answer, result, front_end="discord", turns=list(history),
            asker_id=asker.id, asker_name=asker.display_name, guild_id=guild.id if guild else None,
            channel_id=(getattr(channel, "parent_id", None) or channel.id) if channel else None,
            thread_id=thread.id if thread else None, message_id=question_message_id)

    async def _send_answer(self, destination: discord.abc.Messageable, result: AnswerResult, answer_id: str,
                           *, reference: discord.Message | None = None) -> list[discord.Message]:
        parts = formatting.render_answer(result)
        view = answer_view(answer_id, with_sources=bool(result.citations))
        sent = []
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            kwargs: dict[str, Any] = {"allowed_mentions": NO_PINGS}
            if last:
                kwargs["view"] = view
            if index == 0 and reference is not None:
                kwargs["reference"] = reference
                kwargs["mention_author"] = False
            sent.append(await destination.send(part, **kwargs))
        return sent

    async def _after_answer(self, answer_id: str, sent: Sequence[discord.Message], asker: discord.abc.User,
                            where: str, result: AnswerResult) -> None:
        for message in sent:
            await asyncio.to_thread(self.audit.add_bot_message, answer_id, message.channel.id, message.id)
        await self._post_mod_log(answer_id, asker, where, result)

    async def _post_mod_log(self, answer_id: str, asker: discord.abc.User, where: str,
                            result: AnswerResult) -> None:
        """Every answer, also in DISCORD_MOD_LOG_CHANNEL_ID when it is set; a failure here is only logged."""
        header = (f"**Answer #{answer_id}** for {asker.mention} ({formatting.shown(asker.display_name)}) "
                  f"in {where}\n**Question:** {formatting.shown(result.question)}\n**Answer:**")
        await self.post_to_mod_log([header, *formatting.render_answer(result)])

    async def post_to_mod_log(self, blocks: Sequence[str]) -> None:
        """Text for DISCORD_MOD_LOG_CHANNEL_ID, when it is set; a failure here is only logged."""
        channel_id = self.settings.discord_mod_log_channel_id
        if not channel_id:
            return
        try:
            channel = self.get_channel(channel_id) or await self.fetch_channel(channel_id)
            for part in formatting.pack(blocks):
                await channel.send(part, allowed_mentions=NO_PINGS)
        except Exception:
            log.exception("cannot post to the moderators' log channel %s", channel_id)

    # -- asking by slash command ---------------------------------------------------------------
    async def ask_command(self, interaction: discord.Interaction, question: str, private: bool) -> None:
        if not channel_allowed(interaction.channel, self.settings):
            await interaction.response.send_message(self._where_to_ask(), ephemeral=True, allowed_mentions=NO_PINGS)
            return
        question = " ".join(question.split())
        problem = self._question_problem(question)
        if problem:
            await interaction.response.send_message(problem, ephemeral=True, allowed_mentions=NO_PINGS)
            return
        wait = self.rate_limiter.retry_after(interaction.user.id)
        if wait is not None:
            await interaction.response.send_message(_slow_down(wait), ephemeral=True, allowed_mentions=NO_PINGS)
            return
        await interaction.response.defer(ephemeral=private, thinking=True)
        channel = interaction.channel
        history = await self._history(channel)
        result = await self._ask(question, history)
        if isinstance(result, str):
            await interaction.followup.send(result, ephemeral=private, allowed_mentions=NO_PINGS)
            return
        in_thread = channel if isinstance(channel, discord.Thread) else None
        answer_id = await self._record(result, history, interaction.user, interaction.guild, channel,
                                       in_thread, None)
        parts = formatting.render_answer(result)
        view = answer_view(answer_id, with_sources=bool(result.citations))
        sent = []
        for index, part in enumerate(parts):
            kwargs: dict[str, Any] = {"ephemeral": private, "allowed_mentions": NO_PINGS, "wait": True}
            if index == len(parts) - 1:
                kwargs["view"] = view
            sent.append(await interaction.followup.send(part, **kwargs))
        await self._after_answer(answer_id, sent, interaction.user, sent[0].jump_url, result)
        if in_thread is None and not private and isinstance(channel, discord.TextChannel):
            await self._thread_for_follow_ups(channel, sent[0], question)

    async def _thread_for_follow_ups(self, channel: discord.TextChannel, answer: discord.Message,
                                     question: str) -> None:
        """A thread on a public /ask answer, where follow-ups need no mention."""
        try:
            await channel.create_thread(name=formatting.thread_name(question), message=answer,
                                        auto_archive_duration=1440)
        except discord.HTTPException as exc:
            log.warning("cannot start a thread on answer message %s: %s", answer.id, exc)

    def _where_to_ask(self) -> str:
        channels = ", ".join(f"<#{c}>" for c in self.settings.discord_channel_ids)
        return f"I answer questions in {channels}."

    # -- buttons ---------------------------------------------------------------------------------
    async def show_sources(self, interaction: discord.Interaction, answer_id: str) -> None:
        async with self.apologising(interaction, "showing sources"):
            record = await asyncio.to_thread(self.audit.get_answer, answer_id)
            if record is None:
                await interaction.response.send_message("I no longer have the sources of this answer.",
                                                        ephemeral=True, allowed_mentions=NO_PINGS)
                return
            parts = formatting.render_passages([c.to_citation() for c in record.citations])
            await interaction.response.send_message(parts[0], ephemeral=True, allowed_mentions=NO_PINGS)
            for part in parts[1:]:
                await interaction.followup.send(part, ephemeral=True, allowed_mentions=NO_PINGS)

    async def record_vote(self, interaction: discord.Interaction, answer_id: str, vote: int) -> None:
        async with self.apologising(interaction, "recording feedback"):
            await asyncio.to_thread(self.audit.set_feedback, answer_id, interaction.user.id, vote,
                                    interaction.user.display_name)
            thanks = "Thanks, noted 👍" if vote > 0 else "Thanks, noted 👎: moderators will take a look."
            await interaction.response.send_message(thanks, ephemeral=True, allowed_mentions=NO_PINGS)

    # -- moderators -------------------------------------------------------------------------------
    async def refuse_non_moderator(self, interaction: discord.Interaction) -> bool:
        """True (and an ephemeral "moderators only") when the user is not a moderator."""
        if is_moderator(interaction.user, self.settings):
            return False
        await interaction.response.send_message(MODERATORS_ONLY, ephemeral=True, allowed_mentions=NO_PINGS)
        return True

    async def status_command(self, interaction: discord.Interaction) -> None:
        if await self.refuse_non_moderator(interaction):
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        status = await asyncio.get_running_loop().run_in_executor(self._answer_pool, self.engine.status)
        latency = f"{self.latency * 1000:.0f} ms" if math.isfinite(self.latency) else "not measured yet"
        lines = [
            "**newsdesk status**",
            f"articles: {status.articles:,}",
            f"chunks: {status.chunks:,}",
            f"last ingest: {status.last_ingest or 'never'}",
            f"embedding model: {status.embedding_model}",
            f"answerer: {status.answerer}",
            f"reindex: {'running' if self._reindexing else 'idle'}",
            f"gateway latency: {latency}",
        ]
        await interaction.followup.send("\n".join(lines), ephemeral=True, allowed_mentions=NO_PINGS)

    async def reindex_command(self, interaction: discord.Interaction) -> None:
        if await self.refuse_non_moderator(interaction):
            return
        if self.reindex is None:
            await interaction.response.send_message("Reindexing is not available here.", ephemeral=True,
                                                    allowed_mentions=NO_PINGS)
            return
        if self._reindexing:
            await interaction.response.send_message("A reindex is already running; I'll post its summary "
                                                    "when it is done.", ephemeral=True, allowed_mentions=NO_PINGS)
            return
        self._reindexing = True
        folders = ", ".join(f"`{formatting.shown(p)}`" for p in self.settings.corpus_dirs)
        await interaction.response.send_message(f"Reindexing {folders} in the background; I'll post the "
                                                "summary here when it is done.", allowed_mentions=NO_PINGS)
        channel = interaction.channel
        try:
            summary = await asyncio.get_running_loop().run_in_executor(self._reindex_pool, self.reindex)
            text = f"Reindex finished:\n```\n{summary.describe()}\n```"
        except Exception as exc:
            log.exception("reindex failed")
            text = f"Reindex failed: {formatting.shown(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)}"
        finally:
            self._reindexing = False
        await self._report(interaction, channel, text)

    async def _report(self, interaction: discord.Interaction, channel: Any, text: str) -> None:
        """A late report: as a follow-up while the interaction token lives (15 minutes), else in the channel."""
        for part in formatting.split_text(text):
            try:
                await interaction.followup.send(part, allowed_mentions=NO_PINGS)
            except discord.HTTPException:
                if channel is None:
                    raise
                await channel.send(part, allowed_mentions=NO_PINGS)

    # -- errors ----------------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def apologising(self, interaction: discord.Interaction, doing: str) -> AsyncIterator[None]:
        """Log an unexpected error with its traceback and tell the user, briefly and privately."""
        with self.in_flight():
            try:
                yield
            except Exception:
                log.exception("error while %s (interaction %s)", doing, interaction.id)
                await _apologise(interaction)

    async def on_app_command_error(self, interaction: discord.Interaction,
                                   error: app_commands.AppCommandError) -> None:
        command = interaction.command.name if interaction.command else "?"
        log.error("error in /%s", command, exc_info=error)
        await _apologise(interaction)


async def _apologise(interaction: discord.Interaction) -> None:
    try:
        if interaction.response.is_done():
            await interaction.followup.send(APOLOGY, ephemeral=True, allowed_mentions=NO_PINGS)
        else:
            await interaction.response.send_message(APOLOGY, ephemeral=True, allowed_mentions=NO_PINGS)
    except Exception as exc:
        log.warning("could not send the apology for interaction %s: %s", interaction.id, exc)


def _slow_down(seconds: float) -> str:
    return f"You're asking faster than I can keep up; please try again in {math.ceil(seconds)} s."


@contextlib.asynccontextmanager
async def _typing(channel: discord.abc.Messageable) -> AsyncIterator[None]:
    """The typing indicator while the engine works; a failure to show it is no reason not to answer."""
    typing = channel.typing()
    try:
        await typing.__aenter__()
    except discord.HTTPException as exc:
        log.debug("no typing indicator in %s: %s", getattr(channel, "id", "?"), exc)
        yield
        return
    try:
        yield
    finally:
        await typing.__aexit__(None, None, None)


def build_reindexer(settings: Settings, engine: Any) -> Callable[[], Any]:
    """The /reindex job: ingest the configured corpus folders with the engine's loaded model."""
    from newsdesk.ingestion import Ingestor

    ingestor: list[Ingestor] = []

    def reindex() -> Any:
        if not ingestor:
            ingestor.append(Ingestor(settings, embedder=engine.embedder))
        return ingestor[0].ingest_paths([Path(p) for p in settings.corpus_dirs])
    return reindex
