"""Who may do what: moderator checks, allowed channels, and the per-user rate limit."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

import discord

from newsdesk.config import Settings


def is_moderator(user: discord.abc.User, settings: Settings) -> bool:
    """Members with Manage Server (administrators and the owner have it) or a configured mod role."""
    if not isinstance(user, discord.Member):
        return False
    if user.guild_permissions.manage_guild:
        return True
    wanted = set(settings.discord_mod_role_ids)
    return any(role.id in wanted for role in user.roles)


def channel_allowed(channel: discord.abc.Messageable | None, settings: Settings) -> bool:
    """Allowed channels from DISCORD_CHANNEL_IDS (empty: all); a thread counts as its parent channel."""
    allowed = settings.discord_channel_ids
    if not allowed:
        return True
    if channel is None:
        return False
    ids = {getattr(channel, "id", None), getattr(channel, "parent_id", None)}
    return bool(ids & set(allowed))


class RateLimiter:
    """At most `per_minute` questions per user in any sliding minute; 0 turns it off."""

    WINDOW_SECONDS = 60.0

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic):
        self.per_minute = per_minute
        self.clock = clock
        self._asked: dict[int, deque[float]] = {}

    def retry_after(self, user_id: int) -> float | None:
        """None and counts the question if the user may ask now; else seconds until they may."""
        if self.per_minute <= 0:
            return None
        now = self.clock()
        times = self._asked.setdefault(user_id, deque())
        while times and now - times[0] >= self.WINDOW_SECONDS:
            times.popleft()
        if len(times) >= self.per_minute:
            return max(self.WINDOW_SECONDS - (now - times[0]), 1.0)
        times.append(now)
        return None
