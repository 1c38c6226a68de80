"""Moderators in Discord, through SimCord: /review and its pages, the flagged filter, Retract,
Hide article, /feedback, and everyone else refused."""

from __future__ import annotations

from pathlib import Path

import discord

from discord_support import ALTANBULAG, HARBOUR_QUESTION, MONGOLIA, build_index
from discord_world import audit, custom_ids, engine, index_settings, make_world  # noqa: F401 (fixtures)
from newsdesk.discord_bot import review
from newsdesk.discord_bot.client import MODERATORS_ONLY
from newsdesk.engine import Engine
from newsdesk.ingestion import Ingestor
from newsdesk.results import REFUSAL


def with_mods(world):
    world.bot.settings = world.bot.settings.model_copy(update={"discord_mod_role_ids": [world.mods.id]})
    return world


async def ask(world, user, question=ALTANBULAG):
    """Mention the bot; returns the thread it answered in and its answer there."""
    await user.send(world.news, f"{world.mention} {question}")
    thread = max(world.news.threads, key=lambda t: t.id)
    return thread, world.bot_messages(thread)[-1]


def last_of(result):
    return (result.followups or [result.response])[-1]


def everything(result) -> str:
    return "\n".join(m.content for m in [result.response, *result.followups] if m is not None)


async def test_non_moderators_are_refused_everywhere(make_world):
    async with make_world() as w:
        with_mods(w)
        thread, answer = await ask(w, w.alice)
        for result in [await w.alice.slash(w.news, "review"), await w.alice.slash(w.news, "feedback"),
                       await w.alice.context_menu(thread, "Moderate answer", answer)]:
            assert result.ephemeral and result.response.content == MODERATORS_ONLY


async def test_review_pages_through_answers_newest_first(make_world, audit):
    async with make_world(rate_limit_per_minute=0) as w:
        with_mods(w)
        for _ in range(7):
            await ask(w, w.alice)
        newest_first = [a.id for a in audit.list_answers(limit=10).items]

        first = await w.mod.slash(w.news, "review")
        page = first.response
        assert first.ephemeral and "(1–5 of 7)" in page.content
        assert [line.split("`")[1] for line in page.content.splitlines() if line.startswith("`")] == newest_first[:5]

        second = await w.mod.click(page, label="Next ▶")
        shown = second.response.content
        assert "(6–7 of 7)" in shown
        assert [line.split("`")[1] for line in shown.splitlines() if line.startswith("`")] == newest_first[5:]
        back = await w.mod.click(second.response, label="◀ Previous")
        assert "(1–5 of 7)" in back.response.content


async def test_flagged_review_lists_only_down_voted_answers_and_opens_one(make_world, audit):
    async with make_world() as w:
        with_mods(w)
        _, good = await ask(w, w.alice)
        _, bad = await ask(w, w.bob, HARBOUR_QUESTION)
        bad_id = audit.answer_for_bot_message(bad.id)
        await w.alice.click(bad, custom_id=f"newsdesk:vote:{bad_id}:down")

        listing = (await w.mod.slash(w.news, "review", show="flagged")).response
        assert "flagged" in listing.content and "(1–1 of 1)" in listing.content and bad_id in listing.content
        assert audit.answer_for_bot_message(good.id) not in listing.content

        opened = await w.mod.select(listing, [bad_id], custom_id="newsdesk:review:open")
        record = everything(opened)
        assert opened.ephemeral and f"**Answer `{bad_id}`**" in record
        assert "👎 1" in record and "Harbour festival" in record and "> Organisers posted" in record


async def test_retract_edits_the_right_message_and_can_be_undone(make_world, audit):
    async with make_world() as w:
        with_mods(w)
        kept_thread, kept = await ask(w, w.alice)
        thread, wrong = await ask(w, w.bob, HARBOUR_QUESTION)
        wrong_id = audit.answer_for_bot_message(wrong.id)

        panel = await w.mod.context_menu(thread, "Moderate answer", wrong)
        form = await w.mod.click(last_of(panel), custom_id=f"newsdesk:mod:retract:{wrong_id}")
        assert form.modal is not None
        await w.mod.submit_modal(form, {"reason": "the festival was cancelled"})

        [retracted] = w.bot_messages(thread)
        assert retracted.content == "⚠️ A moderator retracted this answer: the festival was cancelled"
        assert custom_ids(retracted) == []
        [untouched] = w.bot_messages(kept_thread)
        assert untouched.content == kept.content and custom_ids(untouched) == custom_ids(kept)
        record = audit.get_answer(wrong_id)
        assert record.retraction.reason == "the festival was cancelled"
        assert record.retraction.moderator_id == str(w.mod.id)
        assert [a.action for a in audit.moderator_actions(answer_id=wrong_id)] == ["retract"]

        again = await w.mod.context_menu(thread, "Moderate answer", retracted)
        assert "**Retracted** by mia" in everything(again)
        await w.mod.click(last_of(again), custom_id=f"newsdesk:mod:unretract:{wrong_id}")
        [restored] = w.bot_messages(thread)
        assert restored.content == wrong.content and custom_ids(restored) == custom_ids(wrong)
        assert audit.get_answer(wrong_id).retraction is None


async def test_hide_article_keeps_it_out_of_later_answers_until_unhidden(make_world, audit):
    async with make_world() as w:
        with_mods(w)
        thread, answer = await ask(w, w.alice)
        answer_id = audit.answer_for_bot_message(answer.id)
        panel = await w.mod.context_menu(thread, "Moderate answer", answer)

        hidden = await w.mod.select(last_of(panel), ["hide:1"], custom_id=f"newsdesk:mod:articles:{answer_id}")
        assert "Hidden: Russians flee into Mongolia" in everything(hidden)
        assert audit.hidden_articles() == {"https://example.org/mongolia"}
        _, after = await ask(w, w.bob)
        assert after.content == REFUSAL

        await w.mod.select(last_of(hidden), ["unhide:1"], custom_id=f"newsdesk:mod:articles:{answer_id}")
        assert audit.hidden_articles() == set()
        _, again = await ask(w, w.bob)
        assert "3,000" in again.content
        assert [a.action for a in audit.moderator_actions(article_id="https://example.org/mongolia")] == \
            ["unhide", "hide"]


async def test_feedback_counts_and_most_down_voted(make_world, audit):
    async with make_world() as w:
        with_mods(w)
        _, first = await ask(w, w.alice)
        _, second = await ask(w, w.alice, HARBOUR_QUESTION)
        first_id, second_id = (audit.answer_for_bot_message(m.id) for m in (first, second))
        await w.alice.click(first, custom_id=f"newsdesk:vote:{first_id}:up")
        await w.bob.click(second, custom_id=f"newsdesk:vote:{second_id}:down")
        await w.mod.click(second, custom_id=f"newsdesk:vote:{second_id}:down")

        shown = (await w.mod.slash(w.news, "feedback", days=7)).response
        assert shown.ephemeral
        assert "**Feedback, last 7 days:** 👍 1 · 👎 2" in shown.content
        assert second_id in shown.content and first_id not in shown.content


async def test_manage_server_counts_as_moderator(make_world):
    async with make_world() as w:
        managers = w.guild.create_role("Managers", permissions=discord.Permissions(manage_guild=True))
        manager = w.guild.add_member(w.env.create_user("boss"), roles=[managers])
        result = await manager.slash(w.news, "review")
        assert result.response.content.startswith("**Answers: recent**")


async def test_review_says_when_a_cited_article_changed_since(make_world, audit, tmp_path, embedder):
    settings = build_index(tmp_path / "own", embedder)
    own_engine = Engine(settings, embedder=embedder, hidden_articles=audit.hidden_articles)
    async with make_world(engine_override=own_engine) as w:
        with_mods(w)
        thread, answer = await ask(w, w.alice)
        corpus = Path(settings.corpus_dirs[0])
        (corpus / "mongolia.md").write_text(MONGOLIA.replace("3,000", "4,000"), encoding="utf-8")
        Ingestor(settings, embedder=embedder).ingest_paths([corpus])

        panel = everything(await w.mod.context_menu(thread, "Moderate answer", answer))
        assert "changed or removed since this answer" in panel
        assert "more than 3,000 arrivals" in panel  # the passage as it was cited


async def test_review_by_article_and_by_user_keeps_its_filter_across_pages(make_world, audit, monkeypatch):
    monkeypatch.setattr(review, "PAGE_SIZE", 1)
    async with make_world() as w:
        with_mods(w)
        await ask(w, w.alice)
        await ask(w, w.bob, HARBOUR_QUESTION)
        await ask(w, w.bob)

        listing = (await w.mod.slash(w.news, "review", article="https://example.org/mongolia")).response
        assert "citing `https://example.org/mongolia`" in listing.content and "(1–1 of 2)" in listing.content
        following = (await w.mod.click(listing, label="Next ▶")).response
        assert "citing `https://example.org/mongolia`" in following.content and "(2–2 of 2)" in following.content
        assert "Altanbulag" in following.content

        by_bob = (await w.mod.slash(w.news, "review", user=w.bob)).response
        assert f"asked by <@{w.bob.id}>" in by_bob.content and "(1–1 of 2)" in by_bob.content
        assert "alice" not in (await w.mod.click(by_bob, label="Next ▶")).response.content
