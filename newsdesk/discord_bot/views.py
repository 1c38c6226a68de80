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


PERSISTENT_ITEMS: tuple[type[discord.ui.DynamicItem], ...] = (SourcesButton, VoteButton)


def answer_view(answer_id: str, *, with_sources: bool) -> discord.ui.View:
    """Sources (when the answer cites any), 👍 and 👎."""
    view = discord.ui.View(timeout=None)
    if with_sources:
        view.add_item(SourcesButton(answer_id))
    view.add_item(VoteButton(answer_id, "up"))
    view.add_item(VoteButton(answer_id, "down"))
    return view
