"""How answers look on Discord: text, source lists and passages cut to Discord's limits.

Pure functions over `AnswerResult` and plain strings, so every layout rule can be
tested without a client. Article and question text is shown as text: Markdown is
escaped and `@everyone`/role/user mentions are defused here as well, although the
real guarantee against pings is `allowed_mentions` on every message the bot sends.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from discord.utils import escape_markdown, escape_mentions

from newsdesk.results import AnswerResult, Citation

MESSAGE_LIMIT = 2000
TITLE_LIMIT = 120
URL_LIMIT = 500
THREAD_NAME_LIMIT = 100

# A sentence ends at . ! ? (or …), may be closed by quotes or brackets and followed by its
# citation markers; the cut goes into the whitespace after all of that.
_SENTENCE_END = re.compile(r"""[.!?…]["'”’)\]]*(?:\s*\[\d+\])*(?=\s)""")
_PARAGRAPH_END = re.compile(r"\n\s*\n")


def shown(text: str) -> str:
    """Text from an article or a person, made safe to show: no Markdown, no mentions."""
    return escape_mentions(escape_markdown(text))


def shorten(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a word boundary with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + "…"


def split_text(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Pieces of at most `limit` characters: cut after a paragraph, else after a sentence
    (with its [n] markers), else at a space; a single word longer than `limit` is the only
    thing ever cut inside (a URL of 2,000 characters, say)."""
    text = text.strip()
    pieces: list[str] = []
    while len(text) > limit:
        cut = _best_cut(text, limit)
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        pieces.append(text)
    return pieces


def _best_cut(text: str, limit: int) -> int:
    window = text[: limit + 1]
    floor = limit // 3
    for pattern in (_PARAGRAPH_END, _SENTENCE_END):
        ends = [m.end() for m in pattern.finditer(window) if floor <= m.end() <= limit]
        if ends:
            return ends[-1]
    space = max(window.rfind(" ", 0, limit + 1), window.rfind("\n", 0, limit + 1))
    if space > 0:
        return space
    return limit


def pack(blocks: Iterable[str], limit: int = MESSAGE_LIMIT, separator: str = "\n") -> list[str]:
    """Blocks joined into as few messages as fit; a block too long on its own is split."""
    messages: list[str] = []
    current = ""
    for block in blocks:
        for piece in split_text(block, limit) if len(block) > limit else [block]:
            candidate = f"{current}{separator}{piece}" if current else piece
            if len(candidate) <= limit:
                current = candidate
            else:
                messages.append(current)
                current = piece
    if current:
        messages.append(current)
    return messages


def citation_label(citation: Citation) -> str:
    """`Title — Outlet, 2022-09-28`, with whatever of it the article states."""
    title = shown(shorten(citation.title or "Untitled article", TITLE_LIMIT))
    details = [shown(shorten(citation.source, 60)) if citation.source else None, citation.published]
    details = [d for d in details if d]
    return f"{title} — {', '.join(details)}" if details else title


def _link(url: str | None) -> str:
    """A link without Discord's preview card (angle brackets), or nothing for odd URLs."""
    if not url or len(url) > URL_LIMIT or not url.startswith(("http://", "https://")) or any(
            ch.isspace() or ch == ">" for ch in url):
        return ""
    return f" <{url}>"


def source_lines(citations: Sequence[Citation]) -> list[str]:
    return [f"`[{c.n}]` {citation_label(c)}{_link(c.url)}" for c in citations]


def render_answer(result: AnswerResult, limit: int = MESSAGE_LIMIT) -> list[str]:
    """The messages of one answer: its text, then the numbered sources, all within `limit`.

    The source list stays with the last piece of text when it fits, else it follows as
    its own message(s). A refusal is its sentence alone."""
    body = shown(result.answer)
    if result.refused or not result.citations:
        return split_text(body, limit)
    sources = "**Sources**\n" + "\n".join(source_lines(result.citations))
    pieces = split_text(body, limit)
    last = f"{pieces[-1]}\n\n{sources}" if pieces else sources
    if len(last) <= limit:
        return pieces[:-1] + [last]
    return pieces + pack(["**Sources**", *source_lines(result.citations)], limit)


def render_passages(citations: Sequence[Citation], limit: int = MESSAGE_LIMIT) -> list[str]:
    """The cited passages in full for the Sources button, each under its article's label."""
    if not citations:
        return ["This answer cites no passages."]
    blocks = []
    for citation in citations:
        header = f"**[{citation.n}]** {citation_label(citation)}{_link(citation.url)}"
        quoted = "\n".join(f"> {line}" if line.strip() else ">" for line in shown(citation.text).splitlines())
        blocks.append(f"{header}\n{quoted}")
    return pack(blocks, limit, separator="\n\n")


def feed_poll_blocks(report) -> list[str]:
    """A feed poll for the moderators' log (`report` is a `newsdesk.feeds.WebReport`): its one-line
    summary, each feed that has just started failing with the reason, and each one that is back."""
    blocks = [f"**Feeds:** {shown(report.line())}"]
    blocks += [f"Feed failing: {_bare_link(feed.url)}: {shown(feed.note or 'no reason given')}"
               for feed in report.newly_failed_feeds]
    blocks += [f"Feed back: {_bare_link(feed.url)}, {feed.back_after()}" for feed in report.recovered_feeds]
    return blocks


def _bare_link(url: str) -> str:
    return _link(url).strip() or shown(url)


def thread_name(question: str) -> str:
    """A thread title from the question (1-100 characters, no mentions)."""
    name = shorten(escape_mentions(question), THREAD_NAME_LIMIT)
    return name or "Question"


def usage_text(bot_mention: str, max_chars: int) -> str:
    return (f"Ask me about the news: mention me with a question ({bot_mention} what happened in …?) or use "
            f"`/ask`. Questions can be up to {max_chars:,} characters.")
