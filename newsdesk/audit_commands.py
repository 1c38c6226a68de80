"""What `newsdesk audit ...` does; argparse stays in cli.py, the store in audit.py."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import tempfile
from pathlib import Path

from newsdesk.audit import (
    AnswerFilter,
    AuditStore,
    export,
    format_feedback,
    format_page,
    format_record,
    parse_when,
    short_time,
)
from newsdesk.config import Settings

EXIT_OK, EXIT_USAGE = 0, 2


class AuditCommandError(ValueError):
    """A usage error worth one line (the CLI turns it into exit code 2)."""


def run(args: argparse.Namespace, settings: Settings) -> int:
    command = args.audit_command
    with AuditStore.from_settings(settings) as store:
        if command == "list":
            return list_answers(store, args)
        if command == "show":
            return show(store, args)
        if command == "export":
            return export_records(store, args)
        if command == "feedback":
            return feedback(store, args)
        if command == "hide":
            return hide(store, settings, args)
        if command == "unhide":
            return unhide(store, args)
        if command == "hidden":
            return hidden(store)
        if command == "forget-user":
            return forget_user(store, args)
        if command == "purge":
            return purge(store, args)
    raise AuditCommandError(f"unknown audit action {command!r}")


def answer_filter(args: argparse.Namespace) -> AnswerFilter:
    return AnswerFilter(
        flagged=bool(getattr(args, "flagged", False)),
        user_id=getattr(args, "user", None),
        article_id=getattr(args, "article", None),
        since=_when("--since", getattr(args, "since", None)),
        until=_when("--until", getattr(args, "until", None)),
        front_end=getattr(args, "front_end", None),
    )


def _when(option: str, value: str | None):
    if value is None:
        return None
    try:
        return parse_when(value)
    except ValueError as exc:
        raise AuditCommandError(f"{option}: {exc}") from None


def moderator(args: argparse.Namespace) -> str:
    if getattr(args, "by", None):
        return args.by
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def list_answers(store: AuditStore, args: argparse.Namespace) -> int:
    if args.limit < 1 or args.page < 1:
        raise AuditCommandError("--limit and --page start at 1")
    page = store.list_answers(answer_filter(args), limit=args.limit, offset=(args.page - 1) * args.limit)
    if args.json:
        print(page.model_dump_json())
    else:
        print(format_page(page))
    return EXIT_OK


def show(store: AuditStore, args: argparse.Namespace) -> int:
    record = store.get_answer(args.answer_id.strip())
    if record is None:
        raise AuditCommandError(f"no answer with id {args.answer_id!r} (see `newsdesk audit list`)")
    actions = store.moderator_actions(answer_id=record.id)
    if args.json:
        payload = record.model_dump(mode="json")
        payload["moderator_actions"] = [a.model_dump(mode="json") for a in actions]
        print(json.dumps(payload, ensure_ascii=False))
    else:
        print(format_record(record, actions))
    return EXIT_OK


def export_records(store: AuditStore, args: argparse.Namespace) -> int:
    flt = answer_filter(args)
    if args.path == "-":
        count = export(store, sys.stdout, args.format, flt)
        print(f"exported {count} answers", file=sys.stderr)
        return EXIT_OK
    target = Path(args.path)
    if target.is_dir():
        raise AuditCommandError(f"{target} is a folder; give a file name")
    if not target.parent.exists():
        raise AuditCommandError(f"no such folder: {target.parent}")
    # Written beside the target and renamed into place: a failed export leaves no half file.
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            count = export(store, out, args.format, flt)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    print(f"exported {count} answers to {target}")
    return EXIT_OK


def feedback(store: AuditStore, args: argparse.Namespace) -> int:
    summary = store.feedback_summary(since=_when("--since", args.since), until=_when("--until", args.until),
                                     limit=max(1, args.limit))
    print(summary.model_dump_json() if args.json else format_feedback(summary))
    return EXIT_OK


def _article_in_index(settings: Settings, article_id: str) -> bool | None:
    """Whether the index holds the article; None when there is no index to ask."""
    from newsdesk.embedding import DIMENSION, MODEL_ID
    from newsdesk.store import ChunkStore, IndexMissing

    try:
        chunks = ChunkStore.open(settings, MODEL_ID, DIMENSION, create=False)
    except IndexMissing:
        return None
    return chunks.get_article_text(article_id) is not None


def hide(store: AuditStore, settings: Settings, args: argparse.Namespace) -> int:
    article_id = args.article_id.strip()
    if not args.force and _article_in_index(settings, article_id) is False:
        raise AuditCommandError(f"the index holds no article {article_id!r}; check the id "
                                "(`newsdesk audit show ID` lists cited article ids) or pass --force")
    if store.hide_article(article_id, moderator(args), reason=args.reason):
        print(f"hidden: {article_id} (later answers will not use it; `newsdesk audit unhide` reverses it)")
    else:
        print(f"already hidden: {article_id}")
    return EXIT_OK


def unhide(store: AuditStore, args: argparse.Namespace) -> int:
    article_id = args.article_id.strip()
    if store.unhide_article(article_id, moderator(args)):
        print(f"unhidden: {article_id}")
    else:
        print(f"was not hidden: {article_id}")
    return EXIT_OK


def hidden(store: AuditStore) -> int:
    details = store.hidden_article_details()
    if not details:
        print("No hidden articles.")
    for item in details:
        reason = f": {item.reason}" if item.reason else ""
        who = item.moderator_name or item.moderator_id
        print(f"{item.article_id}  hidden {short_time(item.hidden_at)} by {who}{reason}")
    return EXIT_OK


def forget_user(store: AuditStore, args: argparse.Namespace) -> int:
    user = args.user_id.strip()
    if not user:
        raise AuditCommandError("give the user's id")
    if not args.yes:
        if not sys.stdin.isatty():
            raise AuditCommandError("this deletes records for good; pass --yes to confirm")
        reply = input(f"Delete every question, answer and vote of user {user}? [y/N] ")
        if reply.strip().lower() not in {"y", "yes"}:
            print("nothing deleted")
            return EXIT_OK
    report = store.forget_user(user)
    print(f"forgot user {user}: {report.answers} answers and {report.votes} votes deleted, "
          f"{report.moderator_actions_anonymised} moderator actions anonymised, "
          f"{report.copies_removed} copies in others' follow-ups removed")
    return EXIT_OK


def purge(store: AuditStore, args: argparse.Namespace) -> int:
    days = args.days if args.days is not None else store.retention_days
    if days is None:
        raise AuditCommandError("AUDIT_RETENTION_DAYS is not set, so records are kept; "
                                "set it or pass --days N")
    if days < 0:
        raise AuditCommandError("--days must be 0 or more")
    deleted = store.purge_older_than(days)
    print(f"purged {deleted} answers older than {days} days")
    return EXIT_OK
