"""The buttons under every answer. They are persistent: each is a `DynamicItem` whose
`custom_id` carries the answer id, registered on the client at start-up, so a click
on an answer posted before a restart still reaches the stored answer.

The buttons only parse their `custom_id`; what a click does lives on the client.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import discord

if TYPE_CHECKING:
    from newsdesk.discord_bot.client import NewsdeskBot

PREFIX = "newsdesk"
ANSWER_ID = r"(?P<answer_id>[a-z0-9]{1,40})"


def _bot(interaction: discord.Interaction) -> "NewsdeskBot":
    return interaction.client  # type: ignore[return-value]


class SourcesButton(discord.ui.DynamicItem[discord.ui.Button], template=rf"{PREFIX}:sources:{ANSWER_ID}"):
    """Shows the cited passages in full, only to the one who clicks."""

    def __init__(self, answer_id: str):
        super().__init__(discord.ui.Button(label="Sources", emoji="📰", style=discord.ButtonStyle.secondary,
                                           custom_id=f"{PREFIX}:sources:{answer_id}"))
        self.answer_id = answer_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item,
                             match: re.Match[str], /) -> "SourcesButton":
        return cls(match["answer_id"])

    async def callback(self, interaction: discord.Interaction) -> None:
        await _bot(interaction).show_sources(interaction, self.answer_id)


class VoteButton(discord.ui.DynamicItem[discord.ui.Button],
                 template=rf"{PREFIX}:vote:{ANSWER_ID}:(?P<vote>up|down)"):
    """👍 or 👎: one vote per user and answer; clicking again changes it."""

    def __init__(self, answer_id: str, vote: str):
        emoji = "👍" if vote == "up" else "👎"
        super().__init__(discord.ui.Button(emoji=emoji, style=discord.ButtonStyle.secondary,
                                           custom_id=f"{PREFIX}:vote:{answer_id}:{vote}"))
        self.answer_id = answer_id
        self.vote = vote

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item,
                             match: re.Match[str], /) -> "VoteButton":
        return cls(match["answer_id"], match["vote"])

    async def callback(self, interaction: discord.Interaction) -> None:
        await _bot(interaction).record_vote(interaction, self.answer_id, +1 if self.vote == "up" else -1)


class ReviewPageButton(discord.ui.DynamicItem[discord.ui.Button],
                       template=rf"{PREFIX}:review:(?P<query>[0-9]+:[01]:[0-9-]+:[a-z0-9.-]+):(?P<way>prev|next)"):
    """◀ / ▶ under a /review listing; the custom_id carries the whole query (see `ReviewQuery`)."""

    def __init__(self, query: str, way: str, *, disabled: bool = False):
        super().__init__(discord.ui.Button(label="◀ Previous" if way == "prev" else "Next ▶", disabled=disabled,
                                           style=discord.ButtonStyle.secondary,
                                           custom_id=f"{PREFIX}:review:{query}:{way}"))
        self.query = query

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item,
                             match: re.Match[str], /) -> "ReviewPageButton":
        return cls(match["query"], match["way"])

    async def callback(self, interaction: discord.Interaction) -> None:
        await _bot(interaction).desk.review_page(interaction, self.query)


class ReviewOpenSelect(discord.ui.DynamicItem[discord.ui.Select], template=rf"{PREFIX}:review:open"):
    """Picks one answer of a /review page to see in full."""

    def __init__(self, items: list | None = None):
        options = [discord.SelectOption(label=_label(item.question), value=item.id,
                                        description=_label(f"{item.asker_name or item.asker_id or '?'} · "
                                                           f"👍 {item.feedback.up} 👎 {item.feedback.down}"))
                   for item in items or []] or [discord.SelectOption(label="-", value="-")]
        super().__init__(discord.ui.Select(placeholder="Open an answer…", options=options,
                                           custom_id=f"{PREFIX}:review:open"))

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item,
                             match: re.Match[str], /) -> "ReviewOpenSelect":
        return cls()

    async def callback(self, interaction: discord.Interaction) -> None:
        await _bot(interaction).desk.show_panel(interaction, self.item.values[0])


class RetractButton(discord.ui.DynamicItem[discord.ui.Button],
                    template=rf"{PREFIX}:mod:(?P<action>retract|unretract):{ANSWER_ID}"):
    """Retract (asks why) or, on a retracted answer, Unretract."""

    def __init__(self, answer_id: str, *, undo: bool = False):
        action = "unretract" if undo else "retract"
        super().__init__(discord.ui.Button(
            label="Unretract" if undo else "Retract", custom_id=f"{PREFIX}:mod:{action}:{answer_id}",
            style=discord.ButtonStyle.secondary if undo else discord.ButtonStyle.danger))
        self.answer_id = answer_id
        self.undo = undo

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item,
                             match: re.Match[str], /) -> "RetractButton":
        return cls(match["answer_id"], undo=match["action"] == "unretract")

    async def callback(self, interaction: discord.Interaction) -> None:
        desk = _bot(interaction).desk
        if self.undo:
            await desk.unretract(interaction, self.answer_id)
        else:
            await desk.ask_retraction_reason(interaction, self.answer_id)


class ArticleSelect(discord.ui.DynamicItem[discord.ui.Select], template=rf"{PREFIX}:mod:articles:{ANSWER_ID}"):
    """Hide (or unhide) one of the articles an answer cites: later answers skip hidden articles."""

    def __init__(self, answer_id: str, citations: list | None = None, hidden: set[str] = frozenset()):
        options, seen = [], set()
        for citation in citations or []:
            if citation.article_id in seen:
                continue
            seen.add(citation.article_id)
            verb = "unhide" if citation.article_id in hidden else "hide"
            options.append(discord.SelectOption(label=_label(f"{verb.capitalize()} [{citation.n}] "
                                                             f"{citation.title or citation.article_id}"),
                                                value=f"{verb}:{citation.n}"))
        super().__init__(discord.ui.Select(placeholder="Hide or unhide a cited article…",
                                           options=options[:25] or [discord.SelectOption(label="-", value="-")],
                                           custom_id=f"{PREFIX}:mod:articles:{answer_id}"))
        self.answer_id = answer_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item,
                             match: re.Match[str], /) -> "ArticleSelect":
        return cls(match["answer_id"])

    async def callback(self, interaction: discord.Interaction) -> None:
        await _bot(interaction).desk.toggle_article(interaction, self.answer_id, self.item.values[0])


def _label(text: str) -> str:
    """Select option labels and descriptions: 1 to 100 characters."""
    from newsdesk.discord_bot.formatting import shorten

    return shorten(text, 100) or "-"


PERSISTENT_ITEMS: tuple[type[discord.ui.DynamicItem], ...] = (
    SourcesButton, VoteButton, ReviewPageButton, ReviewOpenSelect, RetractButton, ArticleSelect)


def answer_view(answer_id: str, *, with_sources: bool) -> discord.ui.View:
    """Sources (when the answer cites any), 👍 and 👎."""
    view = discord.ui.View(timeout=None)
    if with_sources:
        view.add_item(SourcesButton(answer_id))
    view.add_item(VoteButton(answer_id, "up"))
    view.add_item(VoteButton(answer_id, "down"))
    return view
