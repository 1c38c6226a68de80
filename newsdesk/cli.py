"""`newsdesk`: the command line. Each subcommand is a thin layer over a library call.

Exit codes: 0 all went well, 1 the command ran but something in it failed
(some article files, say), 2 usage errors (bad arguments, no index yet, a
Chroma server that cannot be reached) with a one-line message and no traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

from newsdesk.config import Settings, SettingsError, load_settings

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE = 0, 1, 2

Handler = Callable[[argparse.Namespace, Settings], int]


class CommandError(Exception):
    """A failure to report in one line, with its exit code."""

    def __init__(self, message: str, code: int = EXIT_USAGE):
        super().__init__(message)
        self.code = code


def _add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="where the index lives (default: NEWSDESK_DATA_DIR or ./data)")


# -- ingest -------------------------------------------------------------------------

def add_ingest(subparsers) -> None:
    parser = subparsers.add_parser(
        "ingest", help="add or update articles in the index",
        description="Ingest article files and folders (txt, md, html, json, jsonl), RSS/Atom feeds and "
                    "article pages. Re-running is incremental: unchanged articles are skipped, changed "
                    "ones replaced. --rebuild rebuilds everything: the folders (default NEWSDESK_CORPUS) "
                    "and every web page stored in the data directory, without the network.")
    parser.add_argument("paths", nargs="*", type=Path,
                        help="files or folders (default: NEWSDESK_CORPUS, which is ./seeds)")
    parser.add_argument("--prune", action="store_true",
                        help="remove articles whose files are gone from the given folders")
    parser.add_argument("--rebuild", action="store_true", help="drop the index and build it again")
    parser.add_argument("--feed", action="append", default=[], metavar="URL",
                        help="read this RSS/Atom feed and ingest its entries' pages (repeatable)")
    parser.add_argument("--url", action="append", default=[], metavar="URL",
                        help="fetch this article page and ingest it (repeatable)")
    parser.add_argument("--feeds", action="store_true", help="read every feed listed in FEEDS")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_data_dir(parser)
    parser.set_defaults(handler=run_ingest)


def run_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from newsdesk.ingestion import Ingestor, tqdm_progress

    if args.feeds and not settings.feeds:
        raise CommandError("--feeds: no feeds configured; list their URLs in FEEDS in .env")
    feeds = [*args.feed, *(settings.feeds if args.feeds else [])]
    web = bool(feeds or args.url)
    paths = args.paths or ([] if web and not args.rebuild else [Path(p) for p in settings.corpus_dirs])
    if web or (args.rebuild and _has_stored_pages(settings)):
        return _run_web_ingest(args, settings, paths, feeds)
    ingestor = Ingestor(settings)
    summary = ingestor.ingest_paths(paths, prune=args.prune, rebuild=args.rebuild,
                                    progress=tqdm_progress(not args.quiet and not args.json))
    if args.json:
        print(summary.model_dump_json())
    else:
        print(summary.describe())
    return EXIT_PARTIAL if summary.failures else EXIT_OK


def _has_stored_pages(settings: Settings) -> bool:
    from newsdesk.pages import PageStore

    return PageStore(settings.data_dir).has_pages()


def _run_web_ingest(args: argparse.Namespace, settings: Settings, paths: list[Path], feeds: list[str]) -> int:
    from newsdesk.feeds import ingest_sources
    from newsdesk.ingestion import Ingestor, tqdm_progress

    report = ingest_sources(settings, Ingestor(settings), paths=paths, feeds=feeds, urls=args.url,
                            prune=args.prune, rebuild=args.rebuild,
                            progress=tqdm_progress(not args.quiet and not args.json))
    print(report.json_summary() if args.json else report.describe())
    return EXIT_PARTIAL if report.failures else EXIT_OK


# -- watch ------------------------------------------------------------------------

def add_watch(subparsers) -> None:
    parser = subparsers.add_parser(
        "watch", help="poll the feeds on a schedule",
        description="Poll FEEDS (or the --feed URLs) now and then at every interval, ingesting new and "
                    "corrected articles; one line per poll. Polls never overlap. Stop with Ctrl-C.")
    parser.add_argument("--every", metavar="INTERVAL", default=None,
                        help="time between polls: 15m, 90s, 1h (default: FEEDS_POLL_MINUTES, else 15m)")
    parser.add_argument("--feed", action="append", default=[], metavar="URL",
                        help="watch this feed instead of FEEDS (repeatable)")
    parser.add_argument("--json", action="store_true", help="one JSON object per poll")
    _add_data_dir(parser)
    parser.set_defaults(handler=run_watch)


def run_watch(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from newsdesk.feeds import parse_duration, watch

    feeds = args.feed or settings.feeds
    if not feeds:
        raise CommandError("no feeds to watch: list their URLs in FEEDS in .env, or pass --feed URL")
    try:
        seconds = parse_duration(args.every) if args.every else (settings.feeds_poll_minutes or 15) * 60
    except ValueError as exc:
        raise CommandError(f"--every: {exc}") from None
    asyncio.run(watch(settings, feeds, seconds, emit=lambda line: print(line, flush=True), as_json=args.json))
    return EXIT_OK


# -- ask and chat ---------------------------------------------------------------------

def add_ask(subparsers) -> None:
    parser = subparsers.add_parser("ask", help="answer one question from the archive",
                                   description="Answer one question, citing the passages the answer rests on.")
    parser.add_argument("question", help="the question, in quotes")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    _add_data_dir(parser)
    parser.set_defaults(handler=run_ask)


def add_chat(subparsers) -> None:
    parser = subparsers.add_parser("chat", help="a conversation with the archive in the terminal",
                                   description="Ask questions one after another; follow-ups use the "
                                               "conversation. /sources shows the last answer's passages, "
                                               "/quit leaves.")
    _add_data_dir(parser)
    parser.set_defaults(handler=run_chat)


def _open_engine(settings: Settings, front_end: str):
    """The engine, keeping out the articles moderators hid, recording its answers in the audit trail."""
    import getpass

    from newsdesk.audit import RecordingAsker, open_trail_quietly
    from newsdesk.engine import Engine

    engine = Engine(settings)
    audit = open_trail_quietly(settings)
    if audit is not None:
        engine.hidden_articles = audit.hidden_articles
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = None
    return RecordingAsker(engine, audit, front_end=front_end, asker_id=f"cli:{user}" if user else None,
                          asker_name=user)


def run_ask(args: argparse.Namespace, settings: Settings) -> int:
    from newsdesk.results import QuestionError

    try:
        from newsdesk.engine import validate_question

        validate_question(args.question)
        result = _open_engine(settings, "cli").ask(args.question)
    except QuestionError as exc:
        raise CommandError(str(exc)) from None
    if args.json:
        print(result.to_json())
    else:
        print(format_answer(result))
    return EXIT_OK


def format_answer(result) -> str:
    """The answer, then a readable list of its sources."""
    lines = [result.answer]
    if result.citations:
        lines.append("")
        lines.append("Sources:")
        for citation in result.citations:
            lines.append(f"  [{citation.n}] {describe_source(citation)}")
    return "\n".join(lines)


def describe_source(citation) -> str:
    details = ", ".join(part for part in (citation.source, citation.published) if part)
    text = citation.title or citation.article_id
    if details:
        text += f" ({details})"
    if citation.url:
        text += f" <{citation.url}>"
    return text


def run_chat(args: argparse.Namespace, settings: Settings) -> int:
    from newsdesk.results import QuestionError, Turn

    engine = _open_engine(settings, "chat")
    history: list[Turn] = []
    last = None
    interactive = sys.stdin.isatty()
    if interactive:
        import readline  # noqa: F401  (line editing and history for input())

        print("Ask about the news archive. /sources shows the last answer's passages, /quit leaves.")
    while True:
        try:
            line = input("you> " if interactive else "")
        except EOFError:
            break
        question = line.strip()
        if not question:
            continue
        if question in {"/quit", "/exit", "/q"}:
            break
        if question == "/sources":
            print(format_passages(last) if last and last.citations else "No sources yet.")
            continue
        if question.startswith("/"):
            print("Commands: /sources, /quit")
            continue
        try:
            last = engine.ask(question, history)
        except QuestionError as exc:
            print(exc)
            continue
        print(format_answer(last))
        print()
        history.append(Turn(question=last.question, answer=last.answer))
    return EXIT_OK


def format_passages(result) -> str:
    blocks = []
    for citation in result.citations:
        blocks.append(f"[{citation.n}] {describe_source(citation)}\n{citation.text}")
    return "\n\n".join(blocks)


# -- eval ---------------------------------------------------------------------------

def add_eval(subparsers) -> None:
    parser = subparsers.add_parser(
        "eval", help="measure answer quality on a questions file",
        description="Run every question of a JSONL questions file (id, question, answers, evidence, "
                    "passages, type) through the same engine as `ask` and report Hits@1/4/k, MRR@k, All@k, "
                    "citation precision, passage hit, answer accuracy, refusals and latency, overall and "
                    "per question type.")
    parser.add_argument("questions", type=Path, help="the questions file (.jsonl)")
    parser.add_argument("--k", type=int, default=10, help="retrieval depth for Hits@k, MRR@k, All@k (default 10)")
    parser.add_argument("--json", action="store_true", help="print the full report as one JSON object")
    parser.add_argument("--output", type=Path, metavar="PATH", help="also write the JSON report to PATH")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_data_dir(parser)
    parser.set_defaults(handler=run_eval)


def run_eval(args: argparse.Namespace, settings: Settings) -> int:
    from newsdesk.evaluation import QuestionsFileError, evaluate_engine, format_table

    if args.k < 1:
        raise CommandError("--k must be at least 1")
    try:
        report = evaluate_engine(settings, args.questions, k=args.k, progress=not args.quiet)
    except QuestionsFileError as exc:
        raise CommandError(str(exc)) from None
    if args.output:
        try:
            args.output.write_text(report.model_dump_json(indent=1) + "\n", encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    print(report.model_dump_json() if args.json else format_table(report))
    return EXIT_OK


# -- bot --------------------------------------------------------------------------

def add_bot(subparsers) -> None:
    parser = subparsers.add_parser(
        "bot", help="run the Discord bot",
        description="Answer questions on Discord (mention, /ask, follow-ups in the bot's threads). "
                    "Needs DISCORD_TOKEN; see the README's Discord bot section.")
    _add_data_dir(parser)
    parser.set_defaults(handler=run_bot)


def run_bot(args: argparse.Namespace, settings: Settings) -> int:
    from newsdesk.audit import AuditError
    from newsdesk.discord_bot.runner import BotStartError, run

    try:
        return run(settings)
    except (BotStartError, AuditError) as exc:
        raise CommandError(str(exc)) from None


# -- audit ------------------------------------------------------------------------

def _add_answer_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--flagged", action="store_true", help="only answers with a thumbs-down")
    parser.add_argument("--since", metavar="WHEN", help="YYYY-MM-DD, an ISO time, or 24h / 7d / 2w ago")
    parser.add_argument("--until", metavar="WHEN", help="before this moment (same forms as --since)")
    parser.add_argument("--user", metavar="ID", help="only answers to this asker (a Discord user id)")
    parser.add_argument("--article", metavar="ARTICLE_ID", help="only answers citing this article")
    parser.add_argument("--front-end", metavar="NAME", help="discord, cli, chat, eval, ...")


def add_audit(subparsers) -> None:
    parser = subparsers.add_parser(
        "audit", help="the moderators' audit trail of every answer",
        description="Read, export and act on the audit trail: every answer given, its cited passages, "
                    "feedback and moderator actions.")
    actions = parser.add_subparsers(dest="audit_command", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="answers, newest first")
    _add_answer_filters(listing)
    listing.add_argument("--limit", type=int, default=20, help="answers per page (default 20)")
    listing.add_argument("--page", type=int, default=1, help="page number, from 1")
    listing.add_argument("--json", action="store_true", help="print the page as one JSON object")

    show = actions.add_parser("show", help="one answer in full, with its passages")
    show.add_argument("answer_id", metavar="ID")
    show.add_argument("--json", action="store_true", help="print the record as one JSON object")

    export = actions.add_parser("export", help="write records to a file (- for standard output)")
    export.add_argument("--format", choices=("jsonl", "csv"), required=True)
    export.add_argument("path", metavar="PATH")
    _add_answer_filters(export)

    feedback = actions.add_parser("feedback", help="thumbs up/down counts and the most down-voted answers")
    feedback.add_argument("--since", metavar="WHEN", default="7d", help="period start (default 7d)")
    feedback.add_argument("--until", metavar="WHEN")
    feedback.add_argument("--limit", type=int, default=10)
    feedback.add_argument("--json", action="store_true")

    for name, verb in (("hide", "keep an article out of all later answers"), ("unhide", "let it back in")):
        sub = actions.add_parser(name, help=verb)
        sub.add_argument("article_id", metavar="ARTICLE_ID")
        sub.add_argument("--by", metavar="NAME", help="who does it (default: cli:$USER)")
        if name == "hide":
            sub.add_argument("--reason", help="why, for the log")
            sub.add_argument("--force", action="store_true", help="hide it even if the index does not hold it")

    actions.add_parser("hidden", help="the hidden articles, with who hid them and why")

    forget = actions.add_parser("forget-user", help="delete one person's questions, answers and votes")
    forget.add_argument("user_id", metavar="USER_ID")
    forget.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    purge = actions.add_parser("purge", help="delete answers older than the retention period")
    purge.add_argument("--days", type=int, help="override AUDIT_RETENTION_DAYS")
    for action in actions.choices.values():
        _add_data_dir(action)
    parser.set_defaults(handler=run_audit)


def run_audit(args: argparse.Namespace, settings: Settings) -> int:
    from newsdesk import audit_commands
    from newsdesk.audit import AuditError

    try:
        return audit_commands.run(args, settings)
    except (AuditError, ValueError) as exc:
        raise CommandError(str(exc)) from None


# -- review -----------------------------------------------------------------------

def add_review(subparsers) -> None:
    parser = subparsers.add_parser(
        "review", help="serve the read-only review page",
        description="A local web page listing answers, each with its cited passages highlighted in "
                    "their full articles. Binds 127.0.0.1 unless told; any other address needs "
                    "REVIEW_TOKEN, which every request must then carry.")
    parser.add_argument("--host", help="address to bind (default: REVIEW_HOST, 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default: REVIEW_PORT, 8765; 0 picks a free one)")
    _add_data_dir(parser)
    parser.set_defaults(handler=run_review)


def run_review(args: argparse.Namespace, settings: Settings) -> int:
    from newsdesk.audit import AuditError
    from newsdesk.review import ReviewConfigError, serve

    try:
        return serve(settings, host=args.host, port=args.port)
    except (ReviewConfigError, AuditError) as exc:
        raise CommandError(str(exc)) from None


# -- main ---------------------------------------------------------------------------

COMMANDS: list[Callable] = [add_ingest, add_ask, add_chat, add_bot, add_watch, add_audit, add_review,
                            add_eval]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newsdesk", description="Questions answered from a news archive, "
                                     "with the passages they rest on.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in COMMANDS:
        add(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_USAGE
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from pydantic import ValidationError

    from newsdesk.embedding import EmbeddingModelError
    from newsdesk.ingestion import UsageError
    from newsdesk.store import StoreError

    try:
        settings = load_settings(data_dir=getattr(args, "data_dir", None))
        return args.handler(args, settings)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = error.get("loc", ["?"])[0]
        print(f"newsdesk: invalid setting {name}: {error.get('msg')}", file=sys.stderr)
        return EXIT_USAGE
    except CommandError as exc:
        print(f"newsdesk: {exc}", file=sys.stderr)
        return exc.code
    except (UsageError, StoreError, EmbeddingModelError, SettingsError) as exc:
        print(f"newsdesk: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("newsdesk: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `newsdesk audit list | head`: the reader left; say nothing more, not even at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def json_dump(value) -> str:
    return json.dumps(value, ensure_ascii=False)


if __name__ == "__main__":
    sys.exit(main())
