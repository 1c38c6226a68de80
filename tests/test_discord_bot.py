"""The Discord bot's behaviour, driven through SimCord: the real discord.py client, the real
engine over a tiny real index, a real SQLite audit store; Discord itself simulated in-process."""

from __future__ import annotations

import logging
import re

import discord
import pytest
import simcord

from discord_support import ALTANBULAG, HARBOUR_QUESTION, LONG_QUESTION, UNANSWERABLE, LongAnswers, write_corpus
from discord_world import audit, custom_ids, engine, index_settings, make_world  # noqa: F401 (fixtures)
from newsdesk.discord_bot.client import APOLOGY, MODERATORS_ONLY, NewsdeskBot, build_reindexer
from newsdesk.discord_bot.formatting import MESSAGE_LIMIT
from newsdesk.results import REFUSAL


def deferred_first(env: simcord.Env) -> bool:
    """The interaction was acknowledged with a deferral (type 5) before anything else was sent."""
    relevant = [r for r in env.http_requests if r.method == "POST" and r.path.startswith(("/interactions/",
                                                                                            "/webhooks/"))]
    return bool(relevant) and relevant[0].path.endswith("/callback") and relevant[0].json["type"] == 5


def message_payloads(env: simcord.Env) -> list[dict]:
    """Every REST body with which the bot created or edited a message (channel, webhook, interaction)."""
    bodies = []
    for request in env.http_requests:
        body = request.json
        if request.method in ("POST", "PATCH") and isinstance(body, dict):
            if "data" in body and isinstance(body["data"], dict):  # interaction callback
                body = body["data"]
            if "content" in body or "embeds" in body:
                bodies.append(body)
    return bodies


# -- asking by mention ----------------------------------------------------------------------

async def test_mention_gets_a_threaded_answer_with_sources_and_buttons(make_world, audit):
    async with make_world() as w:
        question = await w.alice.send(w.news, f"{w.mention} {ALTANBULAG}")

        thread = w.only_thread(w.news)
        assert thread.id == question.id  # started from the question itself
        [answer] = w.bot_messages(thread)
        assert "more than 3,000 arrivals" in answer.content and "[1]" in answer.content
        assert "**Sources**" in answer.content
        assert "Russians flee into Mongolia — AFP, 2022-09-28 <https://example.org/mongolia>" in answer.content
        [record] = audit.list_answers().items
        assert custom_ids(answer) == [f"newsdesk:sources:{record.id}", f"newsdesk:vote:{record.id}:up",
                                      f"newsdesk:vote:{record.id}:down"]
        stored = audit.get_answer(record.id)
        assert stored.asker_id == str(w.alice.id) and stored.message_id == question.id
        assert stored.thread_id == thread.id
        assert [m.message_id for m in stored.bot_messages] == [answer.id]
        assert any(r.method == "POST" and r.path == f"/channels/{thread.id}/typing" for r in w.env.http_requests)
        assert w.bot_messages(w.news) == []  # nothing in the channel itself


async def test_refusal_is_one_sentence_without_sources(make_world):
    async with make_world() as w:
        await w.alice.send(w.news, f"{w.mention} {UNANSWERABLE}")
        [answer] = w.bot_messages(w.only_thread(w.news))
        assert answer.content == REFUSAL
        assert not any("sources" in cid for cid in custom_ids(answer))


@pytest.mark.parametrize("text, expected", [
    ("{mention}", "Ask me about the news"),
    ("{mention}    ", "Ask me about the news"),
    ("{mention} " + "why " * 300, "characters long; please keep it under 1,000"),
])
async def test_empty_or_overlong_question_gets_a_usage_reply(make_world, audit, text, expected):
    async with make_world() as w:
        await w.alice.send(w.news, text.format(mention=w.mention))
        [reply] = w.bot_messages(w.news)
        assert expected in reply.content
        assert w.news.threads == [] and audit.list_answers().total == 0


async def test_messages_not_addressed_to_the_bot_are_ignored(make_world, audit):
    async with make_world() as w:
        await w.alice.send(w.news, ALTANBULAG)
        assert w.bot_messages(w.news) == [] and audit.list_answers().total == 0


async def test_follow_up_in_the_bots_thread_needs_no_mention_and_uses_history(make_world, audit):
    async with make_world() as w:
        await w.alice.send(w.news, f"{w.mention} {ALTANBULAG}")
        thread = w.only_thread(w.news)
        await w.alice.send(thread, "And what did the men say?")

        first, second = w.bot_messages(thread)
        assert "did not want to fight in Ukraine" in second.content
        follow_up = next(a for a in audit.list_answers().items if a.question == "And what did the men say?")
        record = audit.get_answer(follow_up.id)
        assert [t.question for t in record.turns] == [ALTANBULAG]
        assert "3,000" in record.turns[0].answer
        assert record.search_query and ALTANBULAG in record.search_query
        assert len(w.news.threads) == 1  # no second thread


# -- asking by slash command ----------------------------------------------------------------------

async def test_ask_is_deferred_then_followed_up_with_a_thread_for_follow_ups(make_world, audit):
    async with make_world() as w:
        result = await w.alice.slash(w.news, "ask", question=ALTANBULAG)

        assert deferred_first(w.env) and not result.ephemeral
        answer = result.response
        assert "more than 3,000 arrivals" in answer.content and "**Sources**" in answer.content
        [record] = audit.list_answers().items
        assert f"newsdesk:sources:{record.id}" in custom_ids(answer.message)
        thread = w.only_thread(w.news)
        assert thread.id == answer.id

        await w.bob.send(thread, "What did the men say?")
        [follow_up] = w.bot_messages(thread)
        assert "did not want to fight" in follow_up.content
        newest = audit.get_answer(audit.list_answers().items[0].id)
        assert [t.question for t in newest.turns] == [ALTANBULAG]


async def test_private_ask_answers_only_the_asker(make_world):
    async with make_world() as w:
        result = await w.alice.slash(w.news, "ask", question=ALTANBULAG, private=True)
        assert deferred_first(w.env) and result.ephemeral
        answer = result.response
        assert answer.ephemeral and "3,000" in answer.content
        assert w.news.threads == []
        assert w.news.history(viewer=w.bob) == []


# -- buttons -----------------------------------------------------------------------------------------

async def test_sources_button_shows_full_passages_privately_and_survives_a_restart(make_world, engine, audit):
    async with make_world() as w:
        await w.alice.send(w.news, f"{w.mention} {ALTANBULAG}")
        [answer] = w.bot_messages(w.only_thread(w.news))

        shown = await w.bob.click(answer, label="Sources")
        assert shown.ephemeral
        text = shown.response.content
        assert "Russians flee into Mongolia — AFP, 2022-09-28 <https://example.org/mongolia>" in text
        assert "> Thousands of Russians have crossed the border" in text
        assert "> Many of the men said they did not want to fight in Ukraine." in text

        restarted = NewsdeskBot(w.bot.settings, engine, audit)
        await w.env.restart_bot(restarted)
        again = await w.alice.click(answer, label="Sources")
        assert again.ephemeral and again.response.content == text
        await restarted.close()


async def test_feedback_is_one_changeable_vote_per_user(make_world, audit):
    async with make_world() as w:
        await w.alice.send(w.news, f"{w.mention} {ALTANBULAG}")
        [answer] = w.bot_messages(w.only_thread(w.news))
        answer_id = audit.list_answers().items[0].id

        up = await w.alice.click(answer, custom_id=f"newsdesk:vote:{answer_id}:up")
        assert up.ephemeral and "Thanks" in up.response.content
        await w.bob.click(answer, custom_id=f"newsdesk:vote:{answer_id}:up")
        assert audit.feedback_counts(answer_id).model_dump() == {"up": 2, "down": 0}
        await w.alice.click(answer, custom_id=f"newsdesk:vote:{answer_id}:down")
        assert audit.feedback_counts(answer_id).model_dump() == {"up": 1, "down": 1}
        assert audit.get_vote(answer_id, w.alice.id) == -1


# -- moderators -----------------------------------------------------------------------------------------

async def test_status_is_for_moderators_only(make_world, index_settings):
    async with make_world() as w:
        manager = w.guild.add_member(w.env.create_user("manager"), roles=[
            w.guild.create_role("Managers", permissions=discord.Permissions(manage_guild=True))])
        refused = await w.alice.slash(w.news, "status")
        assert refused.ephemeral and refused.response.content == MODERATORS_ONLY

        w.bot.settings = w.bot.settings.model_copy(update={"discord_mod_role_ids": [w.mods.id]})
        for moderator in (w.mod, manager):
            shown = await moderator.slash(w.news, "status")
            assert shown.ephemeral
            text = (shown.response or shown.followups[0]).content
            assert "articles: 3" in text and "chunks:" in text and "last ingest: 20" in text
            assert "embedding model: all-MiniLM-L6-v2" in text and "answerer: extractive" in text
            assert "gateway latency:" in text


async def test_reindex_is_for_moderators_and_reports_its_summary(make_world, engine, tmp_path, embedder):
    corpus = write_corpus(tmp_path / "more", {"bridge.md": "---\ntitle: Bridge reopens\n---\n"
                                                          "The old bridge at Kessel reopened on Monday.\n"})
    reindex_settings = engine.settings.model_copy(update={"data_dir": tmp_path / "reindex-data",
                                                          "corpus_dirs": [str(corpus)]})
    async with make_world(reindex=build_reindexer(reindex_settings, engine)) as w:
        w.bot.settings = w.bot.settings.model_copy(update={"discord_mod_role_ids": [w.mods.id]})
        refused = await w.alice.slash(w.news, "reindex")
        assert refused.ephemeral and refused.response.content == MODERATORS_ONLY

        started = await w.mod.slash(w.news, "reindex")
        assert not started.ephemeral and "in the background" in started.response.content
        [report] = started.followups
        assert "Reindex finished" in report.content and "articles: 1 new" in report.content


# -- limits -------------------------------------------------------------------------------------------------

async def test_rate_limit_per_user(make_world, audit):
    async with make_world(rate_limit_per_minute=2) as w:
        for _ in range(3):
            await w.alice.send(w.news, f"{w.mention} {ALTANBULAG}")
        [slow_down] = w.bot_messages(w.news)
        assert "faster than I can keep up" in slow_down.content
        assert audit.list_answers().total == 2
        refused = await w.alice.slash(w.news, "ask", question=ALTANBULAG)
        assert refused.ephemeral and "faster than I can keep up" in refused.response.content
        await w.bob.send(w.news, f"{w.mention} {ALTANBULAG}")  # others are not held up
        assert audit.list_answers().total == 3


async def test_only_allowed_channels_are_answered(make_world, audit):
    async with make_world() as w:
        random = w.guild.create_text_channel("random")
        w.bot.settings = w.bot.settings.model_copy(update={"discord_channel_ids": [w.news.id]})

        await w.alice.send(random, f"{w.mention} {ALTANBULAG}")
        assert w.bot_messages(random) == [] and random.threads == []
        refused = await w.alice.slash(random, "ask", question=ALTANBULAG)
        assert refused.ephemeral and refused.response.content == f"I answer questions in <#{w.news.id}>."
        assert audit.list_answers().total == 0

        await w.alice.send(w.news, f"{w.mention} {ALTANBULAG}")
        assert audit.list_answers().total == 1


async def test_everyone_in_an_article_never_pings(make_world, tmp_path):
    async with make_world(discord_mod_log_channel_id=None) as w:
        log_channel = w.guild.create_text_channel("mod-log")
        w.bot.settings = w.bot.settings.model_copy(update={"discord_mod_log_channel_id": log_channel.id})
        await w.alice.send(w.news, f"{w.mention} {HARBOUR_QUESTION}")
        [answer] = w.bot_messages(w.only_thread(w.news))
        await w.bob.click(answer, label="Sources")
        await w.alice.slash(w.news, "ask", question=HARBOUR_QUESTION)

        [logged, *_] = w.bot_messages(log_channel)
        assert "everyone is welcome" in answer.content and "everyone is welcome" in logged.content
        bodies = message_payloads(w.env)
        assert len(bodies) >= 4  # answer, sources, /ask answer, mod log
        for body in bodies:
            assert body.get("allowed_mentions", {}).get("parse") == [], body
            assert not body["allowed_mentions"].get("users") and not body["allowed_mentions"].get("roles")
            assert not body["allowed_mentions"].get("replied_user")
        assert w.alice.mention in logged.content  # the moderators see who asked, and no one is pinged
        for message in [answer, logged, *w.bot_messages(w.news)]:
            stored = w.env.backend.get_message(message.channel.id, message.id)
            assert stored.ping_user_ids == [] and stored.ping_role_ids == [] and not message.mention_everyone


async def test_long_answers_are_split_at_sentences_within_discord_limits(make_world, engine, audit):
    async with make_world(engine_override=LongAnswers(engine)) as w:
        await w.alice.send(w.news, f"{w.mention} {LONG_QUESTION}")
        parts = w.bot_messages(w.only_thread(w.news))

        assert len(parts) >= 2
        assert all(len(p.content) <= MESSAGE_LIMIT for p in parts)
        for part in parts[:-1]:
            assert re.search(r"[.!?]( \[\d+\])+$", part.content), part.content[-80:]
            assert custom_ids(part) == []
        assert "**Sources**" in parts[-1].content and custom_ids(parts[-1])
        record = audit.get_answer(audit.list_answers().items[0].id)
        shown = " ".join(" ".join(p.content for p in parts).split())
        assert " ".join(record.answer.split()) in shown
        assert [m.message_id for m in record.bot_messages] == [p.id for p in parts]


# -- errors ----------------------------------------------------------------------------------------------------

async def test_a_failing_handler_apologises_and_the_bot_keeps_answering(make_world, audit, caplog):
    async with make_world() as w:
        w.env.inject_error("POST", "/channels/*/messages", status=500, times=1)
        with caplog.at_level(logging.ERROR, logger="newsdesk.discord_bot.client"):
            await w.alice.send(w.news, f"{w.mention} {ALTANBULAG}")
        [apology] = w.bot_messages(w.news)
        assert apology.content == APOLOGY
        failure = next(r for r in caplog.records if "error while answering" in r.getMessage())
        assert failure.exc_info is not None  # logged with its traceback

        w.env.inject_error("POST", "/webhooks/*", status=500, times=1)
        broken = await w.bob.slash(w.news, "ask", question=ALTANBULAG)
        assert APOLOGY in [m.content for m in [broken.response, *broken.followups]]
        assert len(w.env.errors) == 1  # the one error discord.py handed to the command tree

        await w.bob.send(w.news, f"{w.mention} {ALTANBULAG}")
        answered = [t for t in w.news.threads if any("3,000" in m.content for m in w.bot_messages(t))]
        assert answered, "the bot stopped answering after an error"
