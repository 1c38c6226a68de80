"""Moderators in Discord: /review (a paginated list of answers), the panel for one answer
(Retract / Unretract, Hide / Unhide a cited article) and /feedback.

Everything reads and writes the audit store; every action is logged there with who and when.
All of it answers privately (ephemeral) and only to moderators.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import discord

from newsdesk.audit import AnswerFilter, AnswerRecord, AnswerSummary
from newsdesk.discord_bot import formatting
from newsdesk.discord_bot.moderation import is_moderator

if TYPE_CHECKING:
    from newsdesk.discord_bot.client import NewsdeskBot

log = logging.getLogger(__name__)

NO_PINGS = discord.AllowedMentions.none()
PAGE_SIZE = 5
MODERATORS_ONLY = "Moderators only."


class ReviewQuery:
    """A /review listing: which answers, from where. Round-trips through a button's custom_id,
    so paging works after a restart; an article filter travels as `answer_id.n`, a citation that
    names it (article ids can be longer than a custom_id)."""

    def __init__(self, offset: int = 0, flagged: bool = False, user_id: int | None = None,
                 article_ref: str | None = None, article_id: str | None = None):
        self.offset = max(0, offset)
        self.flagged = flagged
        self.user_id = user_id
        self.article_ref = article_ref
        self.article_id = article_id

    def encode(self, offset: int) -> str:
        return (f"{offset}:{int(self.flagged)}:{self.user_id or '-'}:{self.article_ref or '-'}")

    def filter(self) -> AnswerFilter:
        return AnswerFilter(flagged=self.flagged, user_id=str(self.user_id) if self.user_id else None,
                            article_id=self.article_id)

    def describe(self) -> str:
        parts = ["flagged (👎)" if self.flagged else "recent"]
        if self.user_id:
            parts.append(f"asked by <@{self.user_id}>")
        if self.article_id:
            parts.append(f"citing `{formatting.shorten(self.article_id, 80)}`")
        return ", ".join(parts)


class ModeratorDesk:
    """The moderators' side of the bot; `bot.desk`."""

    def __init__(self, bot: "NewsdeskBot"):
        self.bot = bot

    @property
    def audit(self) -> Any:
        return self.bot.audit

    async def _refused(self, interaction: discord.Interaction) -> bool:
        """True (after telling them) when the user is not a moderator."""
        if is_moderator(interaction.user, self.bot.settings):
            return False
        await interaction.response.send_message(MODERATORS_ONLY, ephemeral=True, allowed_mentions=NO_PINGS)
        return True

    # -- /review -----------------------------------------------------------------------------
    async def review_command(self, interaction: discord.Interaction, show: str, user: discord.abc.User | None,
                             article: str | None) -> None:
        if await self._refused(interaction):
            return
        query = ReviewQuery(flagged=show == "flagged", user_id=user.id if user else None,
                            article_id=(article or "").strip() or None)
        content, view = await self._review_page(query)
        await interaction.response.send_message(content, view=view, ephemeral=True, allowed_mentions=NO_PINGS)

    async def review_page(self, interaction: discord.Interaction, encoded: str) -> None:
        """A Previous/Next click: the same listing at another offset, in place."""
        async with self.bot.apologising(interaction, "paging the review"):
            if await self._refused(interaction):
                return
            offset, flagged, user, article_ref = encoded.split(":")
            article_id = await asyncio.to_thread(self._article_of, article_ref) if article_ref != "-" else None
            query = ReviewQuery(int(offset), flagged == "1", None if user == "-" else int(user),
                                None if article_ref == "-" else article_ref, article_id)
            content, view = await self._review_page(query)
            await interaction.response.edit_message(content=content, view=view, allowed_mentions=NO_PINGS)

    def _article_of(self, article_ref: str) -> str | None:
        answer_id, _, n = article_ref.partition(".")
        record = self.audit.get_answer(answer_id)
        return next((c.article_id for c in record.citations if str(c.n) == n), None) if record else None

    async def _review_page(self, query: ReviewQuery) -> tuple[str, discord.ui.View]:
        from newsdesk.discord_bot.views import ReviewOpenSelect, ReviewPageButton

        page = await asyncio.to_thread(self.audit.list_answers, query.filter(), limit=PAGE_SIZE,
                                       offset=query.offset)
        if query.article_id and page.items and not query.article_ref:
            first = await asyncio.to_thread(self.audit.get_answer, page.items[0].id)
            n = next(c.n for c in first.citations if c.article_id == query.article_id)
            query.article_ref = f"{first.id}.{n}"
        view = discord.ui.View(timeout=None)
        if not page.items:
            return f"**Answers: {query.describe()}**\nNo answers match.", view
        lines = [f"**Answers: {query.describe()}** ({page.offset + 1}–{page.offset + len(page.items)} "
                 f"of {page.total})"]
        lines += [_summary_line(item) for item in page.items]
        view.add_item(ReviewOpenSelect(page.items))
        previous = max(0, page.offset - PAGE_SIZE)
        view.add_item(ReviewPageButton(query.encode(previous), "prev", disabled=page.offset == 0))
        view.add_item(ReviewPageButton(query.encode(page.offset + PAGE_SIZE), "next", disabled=not page.has_more))
        return formatting.pack(lines)[0], view

    # -- one answer ----------------------------------------------------------------------------
    async def moderate_message(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """The "Moderate answer" message command."""
        if await self._refused(interaction):
            return
        answer_id = await asyncio.to_thread(self.audit.answer_for_bot_message, message.id)
        if answer_id is None:
            await interaction.response.send_message("That message is not one of my answers.", ephemeral=True,
                                                    allowed_mentions=NO_PINGS)
            return
        await self.show_panel(interaction, answer_id)

    async def show_panel(self, interaction: discord.Interaction, answer_id: str, *, note: str | None = None) -> None:
        """The full record of one answer with its passages, and the moderator buttons."""
        async with self.bot.apologising(interaction, "showing an answer to a moderator"):
            if await self._refused(interaction):
                return
            record = await asyncio.to_thread(self.audit.get_answer, answer_id)
            if record is None:
                await interaction.response.send_message(f"No answer `{answer_id}` in the audit trail (purged or "
                                                        "forgotten).", ephemeral=True, allowed_mentions=NO_PINGS)
                return
            hidden = await asyncio.to_thread(self.audit.hidden_articles)
            gone = await asyncio.to_thread(self._passages_gone, record)
            parts = render_record(record, hidden, gone)
            if note:
                parts = formatting.pack([note, *parts])
            view = panel_view(record, hidden)
            await interaction.response.send_message(parts[0], ephemeral=True, allowed_mentions=NO_PINGS,
                                                    **({"view": view} if len(parts) == 1 else {}))
            for index, part in enumerate(parts[1:], start=2):
                extra = {"view": view} if index == len(parts) else {}
                await interaction.followup.send(part, ephemeral=True, allowed_mentions=NO_PINGS, **extra)

    def _passages_gone(self, record: AnswerRecord) -> set[str]:
        """Chunk ids no longer in the index: their article was changed or removed since the answer."""
        store = getattr(self.bot.engine, "store", None)
        ids = [c.chunk_id for c in record.citations]
        if store is None or not ids:
            return set()
        try:
            return set(ids) - set(store.get_chunks(ids))
        except Exception:
            log.warning("cannot check whether the cited passages of %s are still indexed", record.id, exc_info=True)
            return set()

    async def ask_retraction_reason(self, interaction: discord.Interaction, answer_id: str) -> None:
        async with self.bot.apologising(interaction, "starting a retraction"):
            if await self._refused(interaction):
                return
            await interaction.response.send_modal(RetractModal(self, answer_id))

    async def retract(self, interaction: discord.Interaction, answer_id: str, reason: str) -> None:
        async with self.bot.apologising(interaction, "retracting an answer"):
            if await self._refused(interaction):
                return
            user = interaction.user
            record = await asyncio.to_thread(self.audit.retract, answer_id, user.id, reason, user.display_name)
            edited = await self._edit_answer_messages(record, retracted=True)
            await self.show_panel(interaction, record.id,
                                  note=f"Retracted answer `{record.id}`; {edited} message(s) edited.")

    async def unretract(self, interaction: discord.Interaction, answer_id: str) -> None:
        async with self.bot.apologising(interaction, "restoring an answer"):
            if await self._refused(interaction):
                return
            user = interaction.user
            record = await asyncio.to_thread(self.audit.unretract, answer_id, user.id, user.display_name)
            edited = await self._edit_answer_messages(record, retracted=False)
            await self.show_panel(interaction, record.id,
                                  note=f"Restored answer `{record.id}`; {edited} message(s) edited.")

    async def _edit_answer_messages(self, record: AnswerRecord, *, retracted: bool) -> int:
        """Put the retraction notice in place of the answer (or the answer back); returns messages edited."""
        from newsdesk.discord_bot.views import answer_view

        messages = record.bot_messages
        if retracted:
            reason = record.retraction.reason if record.retraction else ""
            contents = [f"⚠️ A moderator retracted this answer: {formatting.shown(reason)}"] * len(messages)
        else:
            contents = formatting.render_answer(record.to_result())
            if len(contents) != len(messages):
                contents = formatting.pack(contents)[: len(messages)] + [""] * max(0, len(messages) - len(contents))
        edited = 0
        for index, (message, content) in enumerate(zip(messages, contents)):
            last = index == len(messages) - 1
            view = answer_view(record.id, with_sources=bool(record.citations)) if last and not retracted else None
            channel = self.bot.get_channel(message.channel_id) or self.bot.get_partial_messageable(message.channel_id)
            try:
                await channel.get_partial_message(message.message_id).edit(
                    content=content or "\u200b", view=view, allowed_mentions=NO_PINGS)
                edited += 1
            except discord.HTTPException as exc:  # an ephemeral answer, or a deleted message
                log.warning("cannot edit message %s of answer %s: %s", message.message_id, record.id, exc)
        return edited

    async def toggle_article(self, interaction: discord.Interaction, answer_id: str, choice: str) -> None:
        """"hide:n" / "unhide:n" from the panel's article menu."""
        async with self.bot.apologising(interaction, "hiding or unhiding an article"):
            if await self._refused(interaction):
                return
            action, _, n = choice.partition(":")
            record = await asyncio.to_thread(self.audit.get_answer, answer_id)
            citation = next((c for c in record.citations if str(c.n) == n), None) if record else None
            if citation is None:
                await interaction.response.send_message("That passage is no longer in the audit trail.",
                                                        ephemeral=True, allowed_mentions=NO_PINGS)
                return
            user = interaction.user
            label = f"{formatting.citation_label(citation.to_citation())} (`{citation.article_id}`)"
            if action == "hide":
                changed = await asyncio.to_thread(self.audit.hide_article, citation.article_id, user.id,
                                                  f"from answer {answer_id}", user.display_name)
                text = (f"Hidden: {label}. Later answers skip it until a moderator unhides it." if changed
                        else f"{label} was already hidden.")
            else:
                changed = await asyncio.to_thread(self.audit.unhide_article, citation.article_id, user.id,
                                                  user.display_name)
                text = f"Unhidden: {label}. Answers may cite it again." if changed else f"{label} was not hidden."
            await self.show_panel(interaction, answer_id, note=text)

    # -- /feedback -------------------------------------------------------------------------------
    async def feedback_command(self, interaction: discord.Interaction, days: int) -> None:
        if await self._refused(interaction):
            return
        since = datetime.now(timezone.utc) - timedelta(days=days)
        summary = await asyncio.to_thread(self.audit.feedback_summary, since, None, 10)
        lines = [f"**Feedback, last {days} day{'s' if days != 1 else ''}:** 👍 {summary.up} · 👎 {summary.down}"]
        if summary.most_down_voted:
            lines.append("**Most down-voted**")
            lines += [_summary_line(item) for item in summary.most_down_voted]
        else:
            lines.append("No down-voted answers in this period.")
        parts = formatting.pack(lines)
        await interaction.response.send_message(parts[0], ephemeral=True, allowed_mentions=NO_PINGS)
        for part in parts[1:]:
            await interaction.followup.send(part, ephemeral=True, allowed_mentions=NO_PINGS)


class RetractModal(discord.ui.Modal, title="Retract this answer"):
    """Asks why; the reason is shown in place of the answer and kept in the audit trail."""

    reason = discord.ui.TextInput(label="Why is it retracted?", custom_id="reason", max_length=300,
                                  placeholder="e.g. the cited article was corrected")

    def __init__(self, desk: ModeratorDesk, answer_id: str):
        super().__init__(timeout=900, custom_id=f"newsdesk:retract-reason:{answer_id}")
        self.desk = desk
        self.answer_id = answer_id

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await self.desk.retract(interaction, self.answer_id, str(self.reason.value))


def _when(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _summary_line(item: AnswerSummary) -> str:
    asker = formatting.shown(item.asker_name or item.asker_id or "?")
    flags = " · **retracted**" if item.retracted else ""
    flags += " · refused" if item.refused else ""
    return (f"`{item.id}` {_when(item.created_at)} · {asker} · 👍 {item.feedback.up} 👎 {item.feedback.down}"
            f"{flags}\n> {formatting.shown(formatting.shorten(item.question, 150))}")


def render_record(record: AnswerRecord, hidden: set[str], gone: set[str] = frozenset()) -> list[str]:
    """One answer as a moderator reads it: who, where, what, the votes, and every passage as it was
    cited (marked when its article is hidden, or changed or removed since)."""
    asker = f"<@{record.asker_id}> ({formatting.shown(record.asker_name or '')})" if record.asker_id else "?"
    where = ""
    if record.guild_id and record.bot_messages:
        first = record.bot_messages[0]
        where = f" · [message](https://discord.com/channels/{record.guild_id}/{first.channel_id}/{first.message_id})"
    head = [f"**Answer `{record.id}`** · {_when(record.created_at)} · {record.front_end} · asked by {asker}{where}",
            f"**Question:** {formatting.shown(record.question)}"]
    if record.turns:
        head.append(f"(a follow-up: {len(record.turns)} earlier turn(s) in the conversation)")
    head.append(f"**Answer:** {formatting.shown(record.answer)}")
    head.append(f"👍 {record.feedback.up} · 👎 {record.feedback.down} · {record.answerer} · "
                f"{record.latency_ms:.0f} ms" + (" · refused" if record.refused else ""))
    if record.retraction:
        r = record.retraction
        head.append(f"**Retracted** by {formatting.shown(r.moderator_name or r.moderator_id)} "
                    f"{_when(r.at)}: {formatting.shown(r.reason)}")
    blocks = ["\n".join(head)]
    for citation in record.citations:
        marks = " · **hidden**" if citation.article_id in hidden else ""
        if citation.chunk_id in gone:
            marks += " · **changed or removed since this answer** (the passage below is as it was cited)"
        blocks.append(f"article `{formatting.shorten(citation.article_id, 120)}`{marks}")
        blocks += formatting.render_passages([citation.to_citation()])
    return formatting.pack(blocks)


def panel_view(record: AnswerRecord, hidden: set[str]) -> discord.ui.View:
    from newsdesk.discord_bot.views import ArticleSelect, RetractButton

    view = discord.ui.View(timeout=None)
    view.add_item(RetractButton(record.id, undo=record.retraction is not None))
    if record.citations:
        view.add_item(ArticleSelect(record.id, record.citations, hidden))
    return view
