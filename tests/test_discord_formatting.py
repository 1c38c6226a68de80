"""Message layout for Discord: every piece within the limit, cut between sentences or words, never inside one."""

from __future__ import annotations

import re

from hypothesis import given, settings, strategies as st

from newsdesk.discord_bot.formatting import (
    MESSAGE_LIMIT, pack, render_answer, render_passages, shorten, split_text, thread_name,
)
from newsdesk.discord_bot.moderation import RateLimiter
from newsdesk.results import REFUSAL, AnswerResult, Citation

words = st.text(alphabet=st.characters(categories=["L", "N"]), min_size=1, max_size=30)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(words, min_size=1, max_size=60), min_size=1, max_size=60),
       st.integers(min_value=40, max_value=MESSAGE_LIMIT))
def test_split_text_keeps_every_word_whole_and_within_the_limit(sentence_words, limit):
    text = " ".join(" ".join(ws) + "." for ws in sentence_words)
    pieces = split_text(text, limit)
    assert all(0 < len(p) <= limit for p in pieces)
    assert " ".join(pieces).split() == text.split()  # nothing lost, no word cut (all words < limit)


def test_split_prefers_sentence_ends_and_keeps_markers_with_their_sentence():
    sentence = "The border post at Altanbulag saw more than 3,000 arrivals on Sunday alone, officials said."
    text = " ".join(f"{sentence} [{i % 3 + 1}]" for i in range(40))
    pieces = split_text(text, 500)
    assert len(pieces) > 1
    for piece in pieces:
        assert piece.startswith("The border post") and re.search(r"said\. \[\d\]$", piece)


def test_a_word_longer_than_a_message_is_the_only_thing_ever_cut():
    url = "https://example.org/" + "a" * 2500
    pieces = split_text(f"See {url} for more.", MESSAGE_LIMIT)
    assert all(len(p) <= MESSAGE_LIMIT for p in pieces) and "".join(pieces).replace(" ", "") == \
        f"See{url}formore."


def citation(n: int, **fields) -> Citation:
    values = dict(article_id=f"a{n}", chunk_id=f"c{n}", title=f"Title {n}", source="AFP",
                  published="2022-09-28", url=f"https://example.org/{n}", text=f"Passage {n}.")
    values.update(fields)
    return Citation(n=n, **values)


def answer(text: str, citations: list[Citation], refused: bool = False) -> AnswerResult:
    return AnswerResult(question="q", answer=text, refused=refused, citations=citations, answerer="extractive",
                        latency_ms=1.0)


def test_short_answer_is_one_message_with_its_numbered_sources():
    [message] = render_answer(answer("Thousands crossed. [1] More came. [2]", [citation(1), citation(2, url=None)]))
    assert message == ("Thousands crossed. [1] More came. [2]\n\n**Sources**\n"
                       "`[1]` Title 1 — AFP, 2022-09-28 <https://example.org/1>\n"
                       "`[2]` Title 2 — AFP, 2022-09-28")


def test_refusal_has_no_sources():
    assert render_answer(answer(REFUSAL, [], refused=True)) == [REFUSAL]


def test_sources_move_to_their_own_message_when_the_last_piece_is_full():
    text = " ".join(["A sentence that goes on for a while and then ends. [1]"] * 36)  # ~1,970 characters
    messages = render_answer(answer(text, [citation(n, title="T" * 110) for n in range(1, 9)]))
    assert all(len(m) <= MESSAGE_LIMIT for m in messages)
    assert messages[-1].startswith("**Sources**") and "`[8]`" in messages[-1]
    assert "**Sources**" not in messages[0]


def test_markdown_and_mentions_from_articles_are_shown_as_text():
    hostile = citation(1, title="**Big** @everyone <@123456789012345678>", url="javascript:alert(1)",
                       text="Line one @here\n\nLine _two_")
    [message] = render_answer(answer("Crowds @everyone came. [1]", [hostile]))
    assert "@everyone" not in message.replace("@\u200beveryone", "")
    assert "\\*\\*Big\\*\\*" in message and "javascript" not in message
    [passages] = render_passages([hostile])
    assert "> Line one @\u200bhere\n>\n> Line \\_two\\_" in passages


def test_passages_are_packed_into_messages_within_the_limit():
    long_passages = [citation(n, text="word " * 350) for n in range(1, 6)]
    messages = render_passages(long_passages)
    assert len(messages) >= 3 and all(len(m) <= MESSAGE_LIMIT for m in messages)
    assert sum(m.count("**[") for m in messages) == 5


def test_pack_and_shorten_and_thread_names():
    assert pack(["a" * 10, "b" * 10, "c" * 10], limit=21) == ["a" * 10 + "\n" + "b" * 10, "c" * 10]
    assert shorten("one two three four", 10) == "one two…"
    assert len(thread_name("why " * 100)) <= 100
    assert thread_name("@everyone what happened?") == "@\u200beveryone what happened?"


def test_rate_limiter_allows_n_per_sliding_minute():
    now = [0.0]
    limiter = RateLimiter(2, clock=lambda: now[0])
    assert limiter.retry_after(1) is None and limiter.retry_after(1) is None
    assert limiter.retry_after(1) == 60.0
    assert limiter.retry_after(2) is None  # per user
    now[0] = 59.0
    assert limiter.retry_after(1) == 1.0
    now[0] = 60.0
    assert limiter.retry_after(1) is None
    assert RateLimiter(0).retry_after(1) is None  # 0 turns it off
