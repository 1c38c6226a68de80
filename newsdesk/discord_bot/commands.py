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

    @tree.command(name="review", description="Moderators: the answers given, with their sources.")
    @app_commands.describe(show="recent answers, or only those with a 👎", user="only answers to this member",
                           article="only answers citing this article id")
    @app_commands.choices(show=[app_commands.Choice(name="recent", value="recent"),
                                app_commands.Choice(name="flagged (👎)", value="flagged")])
    @app_commands.guild_only()
    async def review(interaction: discord.Interaction, show: str = "recent", user: discord.Member | None = None,
                     article: str | None = None) -> None:
        with bot.in_flight():
            await bot.desk.review_command(interaction, show, user, article)

    @tree.command(name="feedback", description="Moderators: 👍/👎 counts and the most down-voted answers.")
    @app_commands.describe(days="how many days back (default 7)")
    @app_commands.guild_only()
    async def feedback(interaction: discord.Interaction, days: app_commands.Range[int, 1, 3650] = 7) -> None:
        with bot.in_flight():
            await bot.desk.feedback_command(interaction, days)

    @tree.context_menu(name="Moderate answer")
    @app_commands.guild_only()
    async def moderate(interaction: discord.Interaction, message: discord.Message) -> None:
        with bot.in_flight():
            await bot.desk.moderate_message(interaction, message)
