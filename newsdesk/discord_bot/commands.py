"""The slash commands: names, options and descriptions; each one calls a method of the client."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands

if TYPE_CHECKING:
    from newsdesk.discord_bot.client import NewsdeskBot


def register_commands(bot: "NewsdeskBot") -> None:
    tree = bot.tree

    @tree.command(name="ask", description="Ask the news archive a question; the answer cites its sources.")
    @app_commands.describe(question="What you want to know", private="Show the answer only to you")
    @app_commands.guild_only()
    async def ask(interaction: discord.Interaction, question: str, private: bool = False) -> None:
        with bot.in_flight():
            await bot.ask_command(interaction, question, private)

    @tree.command(name="status", description="Moderators: the index, the answerer and the bot's latency.")
    @app_commands.guild_only()
    async def status(interaction: discord.Interaction) -> None:
        with bot.in_flight():
            await bot.status_command(interaction)

    @tree.command(name="reindex", description="Moderators: ingest the configured corpus folders again.")
    @app_commands.guild_only()
    async def reindex(interaction: discord.Interaction) -> None:
        with bot.in_flight():
            await bot.reindex_command(interaction)
