"""Articles and the files they come in: txt, md, html, json and jsonl.

Every parser returns `Article` objects with the text a reader sees and the
metadata the file really states (or that a plain-text layout clearly implies);
nothing is invented. A file that cannot be read raises `ArticleError` with a
reason a person can act on; the caller reports it and goes on.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml
from dateutil import parser as date_parser
from pydantic import BaseModel, Field

SUPPORTED_SUFFIXES = {".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl"}


class ArticleError(ValueError):
    """A file (or one record in it) that cannot become an article."""


class Article(BaseModel):
    """One news article, as ingested."""

    id: str = Field(description="Stable id: the file's `id` or `url`, else its path under the root folder.")
    title: str = Field(description="Headline; empty only when the file gives none.")
    text: str = Field(description="Body text; chunk spans are offsets into this string.")
    source: str | None = Field(None, description="Outlet, e.g. 'AFP' or 'The Verge'.")
    author: str | None = None
    url: str | None = None
    published: dt.date | None = Field(None, description="Publication date when the file states one.")
    year: int | None = Field(None, description="Publication year; known alone when only a (c) line gives it.")
    source_file: str | None = Field(
        None, description="Root folder name / path of the file it came from, for --prune."
    )

    def content_hash(self) -> str:
        """Changes whenever anything that is chunked, embedded or shown changes."""
        payload = self.model_dump(mode="json", exclude={"source_file"})
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class SourceFile:
    """A file found under one of the roots given to ingestion."""

    path: Path
    root: Path

    @property
    def relative_id(self) -> str:
        """`rootname/relative/path`: survives moving the folder or changing the working directory."""
        return f"{self.root.name}/{self.path.relative_to(self.root).as_posix()}"


def discover(paths: list[Path]) -> tuple[list[SourceFile], list[Path]]:
    """Expand files and folders (recursively) into article files, in a stable order.

    Returns the files and the roots they were found under. Hidden files and
    folders and unknown suffixes inside folders are passed over; a file named
    explicitly is always returned so that an unsupported format is reported.
    """
    found: list[SourceFile] = []
    roots: list[Path] = []
    for given in paths:
        path = given.resolve()
        if path.is_dir():
            roots.append(path)
            for child in sorted(path.rglob("*")):
                rel_parts = child.relative_to(path).parts
                if any(part.startswith(".") for part in rel_parts):
                    continue
                if child.is_file() and child.suffix.lower() in SUPPORTED_SUFFIXES:
                    found.append(SourceFile(child, path))
        else:
            roots.append(path.parent)
            found.append(SourceFile(path, path.parent))
    return found, roots


def parse_file(source: SourceFile) -> Iterator[Article | ArticleError]:
    """Yield the articles in one file; a bad record inside a jsonl file is yielded as an error."""
    suffix = source.path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise ArticleError(f"unsupported format {suffix or '(no suffix)'}; expected one of "
                           + ", ".join(sorted(SUPPORTED_SUFFIXES)))
    raw = _read_text(source.path)
    if not raw.strip():
        raise ArticleError("empty file")
    default_id = source.relative_id
    if suffix in {".txt", ".md", ".markdown"}:
        yield _finish(parse_plain_text(raw, markdown=suffix != ".txt"), default_id, source)
    elif suffix in {".html", ".htm"}:
        yield _finish(parse_html(raw), default_id, source)
    elif suffix == ".json":
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ArticleError(f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
        records = data if isinstance(data, list) else [data]
        if not records:
            raise ArticleError("the JSON list holds no articles")
        for index, record in enumerate(records):
            fallback = default_id if len(records) == 1 else f"{default_id}#{index}"
            try:
                yield _finish(parse_record(record), fallback, source)
            except ArticleError as exc:
                if len(records) == 1:
                    raise
                yield ArticleError(f"item {index}: {exc}")
    else:
        for number, line in enumerate(raw.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ArticleError(f"malformed JSON: {exc.msg}") from None
                yield _finish(parse_record(record), f"{default_id}#{number}", source)
            except ArticleError as exc:
                yield ArticleError(f"line {number}: {exc}")


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ArticleError(f"cannot read: {exc.strerror or exc}") from None
    if b"\x00" in data[:8192]:
        raise ArticleError("binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ArticleError(f"not UTF-8 text (undecodable byte at offset {exc.start})") from None


def _finish(fields: dict, default_id: str, source: SourceFile) -> Article:
    text = normalise_text(fields.get("text") or "")
    if not text:
        raise ArticleError("no article text")
    published, year = parse_date(fields.get("published"))
    year = fields.get("year") or year
    url = _clean(fields.get("url"))
    article_id = _clean(fields.get("id")) or url or default_id
    return Article(
        id=str(article_id),
        title=normalise_text(fields.get("title") or ""),
        text=text,
        source=_clean(fields.get("source")),
        author=_clean(fields.get("author")),
        url=url,
        published=published,
        year=year,
        source_file=source.relative_id,
    )


def _clean(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value if v)
    text = " ".join(str(value).split())
    return text or None


def normalise_text(text: str) -> str:
    """Unify line endings, trim trailing spaces and collapse runs of blank lines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ")
    lines = [line.rstrip() for line in text.split("\n")]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def parse_date(value: object) -> tuple[dt.date | None, int | None]:
    """A date from ISO strings, RFC 2822 strings or epoch numbers; unparseable -> None."""
    if value is None or value == "":
        return None, None
    if isinstance(value, dt.datetime):
        return value.date(), value.year
    if isinstance(value, dt.date):
        return value, value.year
    if isinstance(value, (int, float)):
        stamp = dt.datetime.fromtimestamp(value / 1000 if value > 1e11 else value, tz=dt.timezone.utc)
        return stamp.date(), stamp.year
    text = str(value).strip()
    if re.fullmatch(r"\d{4}", text):
        return None, int(text)
    try:
        parsed = date_parser.parse(text, default=dt.datetime(1900, 1, 1))
    except (ValueError, OverflowError):
        return None, None
    if parsed.year == 1900 and "1900" not in text:
        return None, None
    return parsed.date(), parsed.year


# -- plain text and markdown ----------------------------------------------------

FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.DOTALL)
COPYRIGHT_LINE = re.compile(r"^\s*(?:©|\(c\)|copyright)\s*(\d{4})\s+(.{2,60}?)\.?\s*$", re.IGNORECASE)


def parse_plain_text(raw: str, *, markdown: bool = False) -> dict:
    """Front matter when present; otherwise the first line is the title.

    A closing line such as "(c) 2022 AFP" gives the outlet and year, and a
    byline at the end of the second line ("... BYAMBASUREN BYAMBA-OCHIR AFP")
    gives the author when it names that same outlet.
    """
    text = raw.replace("\r\n", "\n")
    fields: dict = {}
    match = FRONT_MATTER.match(text)
    if match:
        try:
            meta = yaml.safe_load(match.group(1)) or {}
        except yaml.YAMLError as exc:
            raise ArticleError(f"malformed front matter: {str(exc).splitlines()[0]}") from None
        if not isinstance(meta, dict):
            raise ArticleError("front matter is not a block of 'key: value' lines")
        fields.update(_record_fields(meta))
        text = text[match.end():]
    lines = text.strip("\n").split("\n")
    if not fields.get("title"):
        while lines and not lines[0].strip():
            lines.pop(0)
        if lines:
            first = lines.pop(0).strip()
            fields["title"] = re.sub(r"^#+\s*", "", first) if markdown else first
    elif markdown and lines and lines[0].lstrip().startswith("#"):
        heading = re.sub(r"^#+\s*", "", lines[0].strip())
        if heading == fields["title"]:
            lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    if lines:
        closing = COPYRIGHT_LINE.match(lines[-1])
        if closing:
            lines.pop()
            fields.setdefault("year", int(closing.group(1)))
            fields.setdefault("source", closing.group(2).strip())
    if fields.get("source") and not fields.get("author"):
        author = _byline_author(lines, fields["source"])
        if author:
            fields["author"] = author
    fields["text"] = "\n".join(lines)
    return fields


def _byline_author(lines: list[str], source: str) -> str | None:
    """An ALL-CAPS name followed by the outlet at the end of one of the first lines."""
    for line in [line for line in lines if line.strip()][:2]:
        match = re.search(r"((?:[A-Z][A-Z'\-]+\s+){1,4}[A-Z][A-Z'\-]+)\s+" + re.escape(source) + r"\s*$", line)
        if match:
            return " ".join(part.capitalize() if "-" not in part else
                            "-".join(p.capitalize() for p in part.split("-"))
                            for part in match.group(1).split())
    return None


# -- JSON records -----------------------------------------------------------------

FIELD_ALIASES = {
    "title": ("title", "headline"),
    "text": ("body", "text", "content", "article"),
    "url": ("url", "link", "canonical_url"),
    "source": ("source", "outlet", "publisher", "site_name"),
    "author": ("author", "authors", "byline"),
    "published": ("published_at", "published", "date", "pubdate", "datePublished"),
    "id": ("id", "article_id"),
}


def _record_fields(record: dict) -> dict:
    fields: dict = {}
    for field, names in FIELD_ALIASES.items():
        for name in names:
            value = record.get(name)
            if value not in (None, "", []):
                fields[field] = value
                break
    if isinstance(fields.get("source"), dict):
        fields["source"] = fields["source"].get("name")
    if isinstance(fields.get("text"), list):
        fields["text"] = "\n\n".join(str(part) for part in fields["text"])
    return fields


def parse_record(record: object) -> dict:
    if not isinstance(record, dict):
        raise ArticleError(f"expected a JSON object, found {type(record).__name__}")
    fields = _record_fields(record)
    if not fields.get("text"):
        raise ArticleError("no 'body' or 'text' field")
    if not isinstance(fields["text"], str):
        raise ArticleError("'body'/'text' must be a string")
    return fields


# -- HTML ---------------------------------------------------------------------------

BLOCK_TAGS = "p, h2, h3, h4, li, blockquote, pre"
NOISE_TAGS = ["script", "style", "noscript", "nav", "header", "footer", "aside", "form", "figure",
              "iframe", "svg", "button"]


def parse_html(raw: str) -> dict:
    """Main text from <article>/<main>/<body>; metadata from meta tags, JSON-LD and <time>."""
    from selectolax.parser import HTMLParser

    tree = HTMLParser(raw)
    meta: dict[str, str] = {}
    for node in tree.css("meta"):
        key = (node.attributes.get("property") or node.attributes.get("name")
               or node.attributes.get("itemprop") or "").strip().lower()
        content = node.attributes.get("content")
        if key and content and key not in meta:
            meta[key] = content.strip()
    linked = _json_ld(tree)

    def first(*values: object) -> str | None:
        for value in values:
            cleaned = _clean(value)
            if cleaned:
                return cleaned
        return None

    title_node = tree.css_first("title")
    h1 = tree.css_first("h1")
    time_node = tree.css_first("time[datetime]")
    canonical = tree.css_first('link[rel="canonical"]')
    author_node = tree.css_first('[rel="author"], .byline, [itemprop="author"]')
    fields = {
        "title": first(meta.get("og:title"), linked.get("headline"), h1.text() if h1 else None,
                       title_node.text() if title_node else None),
        "source": first(meta.get("og:site_name"), _ld_name(linked.get("publisher")),
                        meta.get("publisher"), meta.get("application-name")),
        "author": first(meta.get("author"), meta.get("article:author"), _ld_name(linked.get("author")),
                        author_node.text() if author_node else None),
        "published": first(meta.get("article:published_time"), linked.get("datePublished"),
                           meta.get("datepublished"), meta.get("date"), meta.get("pubdate"),
                           time_node.attributes.get("datetime") if time_node else None),
        "url": first(canonical.attributes.get("href") if canonical else None, meta.get("og:url")),
    }
    for tag in NOISE_TAGS:
        for node in tree.css(tag):
            node.decompose()
    container = tree.css_first("article") or tree.css_first("main") or tree.body
    if container is None:
        raise ArticleError("HTML page has no body")
    blocks = [" ".join(node.text(separator=" ").split()) for node in container.css(BLOCK_TAGS)]
    blocks = [block for block in blocks if block]
    if blocks and blocks[0] == fields["title"]:
        blocks.pop(0)
    if not blocks:
        blocks = [line.strip() for line in container.text(separator="\n").split("\n") if line.strip()]
        if blocks and blocks[0] == fields["title"]:
            blocks.pop(0)
    fields["text"] = "\n\n".join(blocks)
    return fields


def _json_ld(tree) -> dict:
    for node in tree.css('script[type="application/ld+json"]'):
        try:
            data = json.loads(node.text())
        except (json.JSONDecodeError, TypeError):
            continue
        candidates = data if isinstance(data, list) else data.get("@graph", [data]) if isinstance(data, dict) else []
        for item in candidates:
            if isinstance(item, dict) and "Article" in str(item.get("@type", "")):
                return item
    return {}


def _ld_name(value: object) -> str | None:
    if isinstance(value, list):
        names = [_ld_name(item) for item in value]
        return ", ".join(name for name in names if name) or None
    if isinstance(value, dict):
        return value.get("name")
    return value if isinstance(value, str) else None
