"""A loopback fake of Discord: the REST API and the gateway websocket on 127.0.0.1 (aiohttp),
so the real discord.py network path (HTTP client, rate-limit handling, gateway, heartbeats,
RESUME) runs in tests without a token or discord.com.

It speaks only as much of the protocol as the newsdesk bot uses, and records every request.
Point discord.py at it with `pointing_discord_py_at(fake)`, which sets `Route.BASE` and the
default gateway and restores both afterwards.

Test helpers act as users (`send_message`, `slash`, `click`) by dispatching gateway events,
and wait for what the bot does with `wait_for_request`, never with sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import discord
import discord.gateway
import discord.http
import yarl
from aiohttp import WSMsgType, web

API = "/api/v10"
HEARTBEAT_INTERVAL_MS = 41_250
EPHEMERAL = 1 << 6
MESSAGE_CONTENT_INTENT = 1 << 15
ALL_PERMISSIONS = str((1 << 50) - 1)
NO_PERMISSIONS = "0"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    json: Any
    headers: dict[str, str]
    status: int = 200


@dataclass
class User:
    id: int
    name: str
    bot: bool = False
    roles: list[int] = field(default_factory=list)
    permissions: str = NO_PERMISSIONS

    def payload(self) -> dict:
        return {"id": str(self.id), "username": self.name, "global_name": self.name, "discriminator": "0",
                "avatar": None, "bot": self.bot, "public_flags": 0}

    def member(self) -> dict:
        return {"user": self.payload(), "roles": [str(r) for r in self.roles], "nick": None, "avatar": None,
                "joined_at": _now(), "deaf": False, "mute": False, "flags": 0, "pending": False,
                "permissions": self.permissions}

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """JSON with exactly `Content-Type: application/json`: discord.py compares the header verbatim."""
    return web.Response(status=status, body=json.dumps(data).encode(),
                        headers={"Content-Type": "application/json", **(headers or {})})


class FakeDiscord:
    """One guild with a #news channel, the bot, and any users a test adds."""

    def __init__(self, *, token: str = "good-token", message_content_intent: bool = True):
        self.token = token
        self.message_content_intent = message_content_intent
        ids = itertools.count(1_100_000_000_000_000_000)
        self._next_id = lambda: next(ids)
        self.application_id = self._next_id()
        self.bot = User(self.application_id, "newsdesk", bot=True)
        self.guild_id = self._next_id()
        self.channel_id = self._next_id()
        self.users: dict[int, User] = {}
        self.channels: dict[int, dict] = {self.channel_id: self._channel(self.channel_id, "news")}
        self.messages: dict[int, dict] = {}
        self.interactions: dict[str, dict] = {}
        self.commands: list[dict] = []
        self.requests: list[Request] = []
        self.rate_limits: list[tuple[str, str, float]] = []
        self.sockets: list[web.WebSocketResponse] = []
        self.identifies = 0
        self.forbid_commands = False
        self.heartbeats = 0
        self.resumes = 0
        self.sequence = 0
        self.session_id = "fake-session"
        self._changed: asyncio.Condition | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> "FakeDiscord":
        self._changed = asyncio.Condition()
        app = web.Application()
        app.router.add_route("GET", "/gateway", self._gateway)
        app.router.add_route("*", API + "/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        for ws in list(self.sockets):
            await ws.close()
        if self._runner:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{API}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    async def _notify(self) -> None:
        assert self._changed is not None
        async with self._changed:
            self._changed.notify_all()

    async def wait_for_request(self, predicate: Callable[[Request], bool], *, after: int = 0,
                               timeout: float = 60.0) -> Request:
        """The first recorded request (from index `after`) that matches; waits for it if need be."""
        assert self._changed is not None

        def found() -> Request | None:
            return next((r for r in self.requests[after:] if predicate(r)), None)

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: found() is not None), timeout)
        return found()

    async def wait_until(self, condition: Callable[[], bool], timeout: float = 60.0) -> None:
        assert self._changed is not None
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(condition), timeout)

    # -- the world ------------------------------------------------------------------------------
    def add_user(self, name: str, *, roles: list[int] = (), permissions: str = NO_PERMISSIONS) -> User:
        user = User(self._next_id(), name, roles=list(roles), permissions=permissions)
        self.users[user.id] = user
        return user

    def _channel(self, channel_id: int, name: str) -> dict:
        return {"id": str(channel_id), "type": 0, "guild_id": str(self.guild_id), "name": name, "position": 0,
                "permission_overwrites": [], "nsfw": False, "parent_id": None, "topic": None,
                "last_message_id": None, "rate_limit_per_user": 0}

    def _guild(self) -> dict:
        everyone = {"id": str(self.guild_id), "name": "@everyone", "permissions": ALL_PERMISSIONS, "position": 0,
                    "color": 0, "hoist": False, "managed": False, "mentionable": False, "flags": 0}
        return {
            "id": str(self.guild_id), "name": "Newsroom", "icon": None, "owner_id": str(self._next_id()),
            "roles": [everyone], "emojis": [], "stickers": [], "features": [], "unavailable": False,
            "channels": [c for c in self.channels.values() if c["type"] == 0],
            "threads": [c for c in self.channels.values() if c["type"] == 11],
            "members": [self.bot.member()], "member_count": 1 + len(self.users), "large": False,
            "joined_at": _now(), "voice_states": [], "presences": [], "stage_instances": [],
            "guild_scheduled_events": [], "soundboard_sounds": [], "mfa_level": 0, "verification_level": 0,
            "explicit_content_filter": 0, "default_message_notifications": 0, "premium_tier": 0,
            "nsfw_level": 0, "system_channel_flags": 0, "preferred_locale": "en-US", "afk_timeout": 300,
        }

    def _message(self, channel_id: int, author: User, content: str, *, components: list | None = None,
                 flags: int = 0, extra: dict | None = None) -> dict:
        message = {
            "id": str(self._next_id()), "channel_id": str(channel_id), "guild_id": str(self.guild_id),
            "author": author.payload(), "content": content, "timestamp": _now(), "edited_timestamp": None,
            "tts": False, "mention_everyone": False, "mention_roles": [], "attachments": [], "embeds": [],
            "pinned": False, "type": 0, "flags": flags, "components": components or [],
            "mentions": [dict(u.payload(), member=u.member()) for u in self._mentioned(content)],
        }
        if not author.bot:
            message["member"] = author.member()
        message.update(extra or {})
        self.messages[int(message["id"])] = message
        return message

    def _mentioned(self, content: str) -> list[User]:
        everyone = {self.bot.id: self.bot, **self.users}
        return [everyone[int(i)] for i in re.findall(r"<@!?(\d+)>", content) if int(i) in everyone]

    def bot_messages(self, channel_id: int) -> list[dict]:
        return [m for m in self.messages.values()
                if m["channel_id"] == str(channel_id) and m["author"]["id"] == str(self.bot.id)]

    def threads(self) -> list[dict]:
        return [c for c in self.channels.values() if c["type"] == 11]

    # -- acting as users ----------------------------------------------------------------------------
    async def send_message(self, user: User, content: str, channel_id: int | None = None) -> dict:
        message = self._message(channel_id or self.channel_id, user, content)
        await self.dispatch("MESSAGE_CREATE", message)
        return message

    async def slash(self, user: User, name: str, channel_id: int | None = None, **options: Any) -> str:
        """Invoke a synced slash command; returns the interaction token."""
        command = next(c for c in self.commands if c["name"] == name)
        types = {bool: 5, str: 3, int: 4}
        data = {"id": command["id"], "name": name, "type": 1,
                "options": [{"name": k, "type": types[type(v)], "value": v} for k, v in options.items()]}
        return await self._interact(user, 2, data, channel_id or self.channel_id)

    async def click(self, user: User, message: dict, custom_id: str) -> str:
        data = {"custom_id": custom_id, "component_type": 2}
        return await self._interact(user, 3, data, int(message["channel_id"]), message=message)

    async def _interact(self, user: User, kind: int, data: dict, channel_id: int, message: dict | None = None
                        ) -> str:
        interaction_id = str(self._next_id())
        token = f"token-{interaction_id}"
        payload = {
            "id": interaction_id, "application_id": str(self.application_id), "type": kind, "token": token,
            "version": 1, "guild_id": str(self.guild_id), "channel_id": str(channel_id),
            "channel": self.channels[channel_id], "member": user.member(), "data": data,
            "app_permissions": ALL_PERMISSIONS, "locale": "en-US", "guild_locale": "en-US", "entitlements": [],
            "authorizing_integration_owners": {"0": str(self.guild_id)}, "context": 0,
            "attachment_size_limit": 10_000_000,
        }
        if message is not None:
            payload["message"] = message
        self.interactions[token] = {"id": interaction_id, "channel_id": channel_id, "original": None,
                                    "followups": []}
        await self.dispatch("INTERACTION_CREATE", payload)
        return token

    # -- gateway --------------------------------------------------------------------------------------
    async def dispatch(self, event: str, data: dict) -> None:
        self.sequence += 1
        frame = {"op": 0, "t": event, "s": self.sequence, "d": data}
        for ws in list(self.sockets):
            if not ws.closed:
                await ws.send_str(json.dumps(frame))

    async def ask_for_heartbeat(self) -> None:
        """Gateway op 1: the client must send a heartbeat at once (its event loop must be free)."""
        for ws in list(self.sockets):
            await ws.send_str(json.dumps({"op": 1, "d": self.sequence}))

    async def drop_gateway(self, code: int = 4000) -> None:
        """Close the bot's gateway connection the way Discord does on a hiccup (resumable codes)."""
        for ws in list(self.sockets):
            await ws.close(code=code)

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.append(ws)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS}}))
        try:
            async for frame in ws:
                if frame.type is not WSMsgType.TEXT:
                    continue
                await self._gateway_op(ws, json.loads(frame.data))
        finally:
            self.sockets.remove(ws)
            await self._notify()
        return ws

    async def _gateway_op(self, ws: web.WebSocketResponse, message: dict) -> None:
        op, data = message.get("op"), message.get("d")
        if op == 1:  # heartbeat
            self.heartbeats += 1
            await ws.send_str(json.dumps({"op": 11}))
        elif op == 2:  # identify
            if data.get("token") != self.token:
                await ws.close(code=4004, message=b"Authentication failed.")
                return
            if not self.message_content_intent and data.get("intents", 0) & MESSAGE_CONTENT_INTENT:
                await ws.close(code=4014, message=b"Disallowed intent(s).")
                return
            self.identifies += 1
            await self.dispatch("READY", {
                "v": 10, "user": self.bot.payload(), "guilds": [{"id": str(self.guild_id), "unavailable": True}],
                "session_id": self.session_id, "resume_gateway_url": self.gateway_url, "shard": [0, 1],
                "application": {"id": str(self.application_id), "flags": 0},
            })
            await self.dispatch("GUILD_CREATE", self._guild())
        elif op == 6:  # resume
            if data.get("token") != self.token or data.get("session_id") != self.session_id:
                await ws.send_str(json.dumps({"op": 9, "d": False}))
                return
            self.resumes += 1
            await self.dispatch("RESUMED", {})
        await self._notify()

    # -- REST --------------------------------------------------------------------------------------------
    def rate_limit_once(self, method: str, path_pattern: str, retry_after: float = 0.05) -> None:
        """The next request to `method` and a path matching the regex gets a 429, as Discord sends it."""
        self.rate_limits.append((method, path_pattern, retry_after))

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        body = await request.read()
        payload = json.loads(body) if body and request.content_type == "application/json" else None
        record = Request(request.method, path, dict(request.query), payload, dict(request.headers))
        self.requests.append(record)
        try:
            limited = next((r for r in self.rate_limits if r[0] == request.method and re.fullmatch(r[1], path)),
                           None)
            if limited:
                self.rate_limits.remove(limited)
                record.status = 429
                return _json({"message": "You are being rate limited.", "retry_after": limited[2],
                              "global": False}, 429, {"Via": "1.1 google", "X-RateLimit-Scope": "user"})
            if request.headers.get("Authorization", "").removeprefix("Bot ") != self.token and not \
                    path.startswith(("/interactions/", "/webhooks/")):
                record.status = 401
                return _json({"message": "401: Unauthorized", "code": 0}, 401)
            response = await self._route(request.method, path, payload, request.query)
            record.status = response.status
            return response
        finally:
            await self._notify()

    async def _route(self, method: str, path: str, body: Any, query) -> web.Response:
        def match(pattern: str) -> re.Match | None:
            return re.fullmatch(pattern, path)

        if method == "GET" and path == "/users/@me":
            return _json(self.bot.payload())
        if method == "GET" and path == "/oauth2/applications/@me":
            return _json({"id": str(self.application_id), "name": "newsdesk", "description": "", "icon": None,
                          "bot_public": False, "bot_require_code_grant": False, "verify_key": "0" * 64,
                          "owner": User(self._next_id(), "owner").payload(), "flags": 0, "team": None})
        if (m := match(r"/applications/(\d+)(?:/guilds/(\d+))?/commands")) and method == "PUT":
            if self.forbid_commands:  # invited without the applications.commands scope
                return _json({"message": "Missing Access", "code": 50001}, 403)
            self.commands = [{"description": "", **c, "id": str(self._next_id()),  # menus have no description
                              "application_id": str(self.application_id), "version": "1",
                              **({"guild_id": m[2]} if m[2] else {})} for c in body]
            return _json(self.commands)
        if (m := match(r"/channels/(\d+)/typing")) and method == "POST":
            return web.Response(status=204)
        if (m := match(r"/channels/(\d+)/messages")) and method == "POST":
            message = self._message(int(m[1]), self.bot, body.get("content", ""),
                                    components=body.get("components"))
            await self.dispatch("MESSAGE_CREATE", message)
            return _json(message)
        if (m := match(r"/channels/(\d+)/messages/(\d+)/threads")) and method == "POST":
            thread = dict(self._channel(int(m[2]), body["name"]), type=11, parent_id=m[1],
                          owner_id=str(self.bot.id), member_count=1, message_count=0,
                          thread_metadata={"archived": False, "auto_archive_duration": 1440,
                                           "archive_timestamp": _now(), "locked": False})
            self.channels[int(m[2])] = thread
            await self.dispatch("THREAD_CREATE", dict(thread, newly_created=True))
            return _json(thread)
        if (m := match(r"/interactions/(\d+)/([^/]+)/callback")) and method == "POST":
            return await self._callback(m[2], body)
        if (m := match(r"/webhooks/(\d+)/([^/]+)")) and method == "POST":
            interaction = self.interactions[m[2]]
            data = body or {}
            message = self._message(interaction["channel_id"], self.bot, data.get("content", ""),
                                    components=data.get("components"), flags=data.get("flags", 0),
                                    extra={"webhook_id": str(self.application_id),
                                           "application_id": str(self.application_id)})
            interaction["followups"].append(message)
            return _json(message)
        return _json({"message": f"404: Not Found ({method} {path})", "code": 0}, 404)

    async def _callback(self, token: str, body: dict) -> web.Response:
        interaction = self.interactions[token]
        kind, data = body["type"], body.get("data") or {}
        flags = data.get("flags", 0)
        message = None
        if kind in (4, 5):
            message = self._message(interaction["channel_id"], self.bot, data.get("content", ""),
                                    components=data.get("components"), flags=flags,
                                    extra={"webhook_id": str(self.application_id),
                                           "application_id": str(self.application_id)})
            interaction["original"] = message
        interaction["response_type"] = kind
        return _json({
            "interaction": {"id": interaction["id"], "type": 2, "response_message_id": message and message["id"],
                            "response_message_loading": kind == 5,
                            "response_message_ephemeral": bool(flags & EPHEMERAL)},
            "resource": {"type": kind, **({"message": message} if message else {})},
        })

    def responses(self, token: str) -> list[dict]:
        """What the bot answered to one interaction: the original response, then its follow-ups."""
        interaction = self.interactions[token]
        return [m for m in [interaction["original"], *interaction["followups"]] if m is not None]


@contextlib.contextmanager
def pointing_discord_py_at(fake: FakeDiscord) -> Iterator[None]:
    """discord.py's REST base and default gateway aimed at the fake; both restored afterwards."""
    discord.http._set_api_version(10)
    saved_base, saved_gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = fake.base_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE = saved_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved_gateway


class FakeDiscordThread:
    """The fake on its own event loop in a thread, for tests that run the bot as `newsdesk bot` does
    (which owns its event loop through asyncio.run)."""

    def __init__(self, **options: Any):
        self.fake = FakeDiscord(**options)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> FakeDiscord:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.fake.start(), self._loop).result(30)
        return self.fake

    def call(self, coroutine, timeout: float = 60.0) -> Any:
        """Run one of the fake's coroutines on its loop, from the test's thread."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def __exit__(self, *exc_info: Any) -> None:
        asyncio.run_coroutine_threadsafe(self.fake.stop(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)
        self._loop.close()
