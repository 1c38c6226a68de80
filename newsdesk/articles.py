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
    seen: set[Path] = set()
    for given in paths:
        path = given.resolve()
        if path.is_dir():
            roots.append(path)
            for child in sorted(path.rglob("*")):
                rel_parts = child.relative_to(path).parts
                if any(part.startswith(".") for part in rel_parts):
                    continue
                if child.is_file() and child.suffix.lower() in SUPPORTED_SUFFIXES and child not in seen:
                    seen.add(child)
                    found.append(SourceFile(child, path))
        else:
            roots.append(path.parent)
            if path not in seen:
                seen.add(path)
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
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise ArticleError(f"not UTF-16 text (undecodable byte at offset {exc.start})") from None
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
    year = year or fields.get("year")
    url = _clean(fields.get("url"))
    article_id = _clean(fields.get("id")) or url or default_id
    return Article(
        id=str(article_id),
        title=_clean(fields.get("title")) or "",
        text=text,
        source=_clean(fields.get("source")),
        author=_clean_author(fields.get("author")),
        url=url,
        published=published,
        year=year,
        source_file=source.relative_id,
    )


def _clean(value: object) -> str | None:
    """One line of text from a metadata value (a string, a number, a list of names, {"name": ...})."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, dict):
        value = value.get("name")
    if isinstance(value, list):
        value = ", ".join(part for part in (_clean(v) for v in value) if part)
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text or None


def _clean_author(value: object) -> str | None:
    """An author without the "By " that bylines start with."""
    author = _clean(value)
    if author:
        author = re.sub(r"^by[:\s]+", "", author, flags=re.IGNORECASE).strip() or None
    return author


def normalise_text(text: str) -> str:
    """Unify line endings, trim trailing spaces and collapse runs of blank lines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ")
    lines = [line.rstrip() for line in text.split("\n")]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def parse_date(value: object) -> tuple[dt.date | None, int | None]:
    """A date from ISO strings, RFC 2822 strings or epoch numbers; unparseable -> None."""
    if value is None or value == "" or isinstance(value, bool):
        return None, None
    if isinstance(value, dt.datetime):
        return value.date(), value.year
    if isinstance(value, dt.date):
        return value, value.year
    if isinstance(value, (int, float)):
        try:
            stamp = dt.datetime.fromtimestamp(value / 1000 if value > 1e11 else value, tz=dt.timezone.utc)
        except (ValueError, OverflowError, OSError):
            return None, None
        return stamp.date(), stamp.year
    if not isinstance(value, str):
        return None, None
    text = value.strip()
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

# libyaml's safe loader when PyYAML was built with it: the same results, several times faster.
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.DOTALL)
_COPYRIGHT_MARK = r"(?:copyright\s*(?:©|\(c\))?|©|\(c\))"
# "(c) 2022 AFP", "© 2022 AFP. All rights reserved.", "Copyright © 2022 Reuters", "© AFP 2022"
COPYRIGHT_LINES = (
    re.compile(rf"^\s*{_COPYRIGHT_MARK}\s*(?P<year>\d{{4}})\s+(?P<source>.{{2,60}}?)"
               r"\.?(?:\s+all rights reserved\.?)?\s*$", re.IGNORECASE),
    re.compile(rf"^\s*{_COPYRIGHT_MARK}\s*(?P<source>\D.{{1,59}}?)[\s,]+(?P<year>\d{{4}})"
               r"\.?(?:\s+all rights reserved\.?)?\s*$", re.IGNORECASE),
)
MARKDOWN_HEADING = re.compile(r"^(\s{0,3})#{1,6}\s+(.*?)(?:\s+#+)?\s*$")
MARKDOWN_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
MARKDOWN_EMPHASIS = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")


def parse_plain_text(raw: str, *, markdown: bool = False) -> dict:
    """Front matter when present; otherwise the first line is the title.

    A closing line such as "(c) 2022 AFP" gives the outlet and year and leaves
    the text; a byline at the end of one of the first two lines ("... past week
    BYAMBASUREN BYAMBA-OCHIR AFP") gives the author when it names that same
    outlet, and leaves the text too. In markdown the `# Title` heading is the
    title, and heading marks, link targets and bold marks are dropped from the text.
    """
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    fields: dict = {}
    match = FRONT_MATTER.match(text)
    if match:
        try:
            meta = yaml.load(match.group(1), Loader=YAML_LOADER) or {}
        except yaml.YAMLError as exc:
            raise ArticleError(f"malformed front matter: {str(exc).splitlines()[0]}") from None
        if not isinstance(meta, dict):
            raise ArticleError("front matter is not a block of 'key: value' lines")
        fields.update(_record_fields(meta))
        fields.pop("text", None)
        text = text[match.end():]
    lines = text.strip("\n").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    if not _clean(fields.get("title")):
        if lines:
            first = lines.pop(0).strip()
            heading = MARKDOWN_HEADING.match(first) if markdown else None
            fields["title"] = heading.group(2) if heading else first
    elif markdown and lines:
        heading = MARKDOWN_HEADING.match(lines[0])
        if heading and " ".join(heading.group(2).split()) == _clean(fields["title"]):
            lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    if lines:
        closing = _copyright(lines[-1])
        if closing:
            lines.pop()
            year, source = closing
            fields.setdefault("year", year)
            if not _clean(fields.get("source")):
                fields["source"] = source
    if _clean(fields.get("source")) and not _clean(fields.get("author")):
        byline = _byline(lines, _clean(fields["source"]))
        if byline:
            index, author, cut = byline
            fields["author"] = author
            lines[index] = lines[index][:cut].rstrip()
    if markdown:
        lines = [_plain_markdown_line(line) for line in lines]
    fields["text"] = "\n".join(lines)
    return fields


def _copyright(line: str) -> tuple[int, str] | None:
    for pattern in COPYRIGHT_LINES:
        match = pattern.match(line)
        if match:
            source = match.group("source").strip(" .,")
            if source:
                return int(match.group("year")), source
    return None


def _byline(lines: list[str], source: str) -> tuple[int, str, int] | None:
    """An ALL-CAPS name followed by the outlet at the end of one of the first two lines:
    (line index, the name as a person writes it, where the byline starts)."""
    seen = 0
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        match = re.search(r"(?:^|\s)((?:[A-Z][A-Z'\-]+\s+){1,4}[A-Z][A-Z'\-]+)\s+"
                          + re.escape(source) + r"\s*$", line)
        if match:
            name = " ".join("-".join(p.capitalize() for p in part.split("-")) for part in match.group(1).split())
            return index, name, match.start(1)
        seen += 1
        if seen == 2:
            break
    return None


def _plain_markdown_line(line: str) -> str:
    heading = MARKDOWN_HEADING.match(line)
    if heading:
        line = heading.group(1) + heading.group(2)
    line = MARKDOWN_LINK.sub(r"\1", line)
    return MARKDOWN_EMPHASIS.sub(r"\2", line)


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

BLOCK_TAGS = ("p", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre")
NOISE_TAGS = ["script", "style", "noscript", "nav", "header", "footer", "aside", "form", "figure",
              "iframe", "svg", "button", "template", "dialog"]
# Class or id words that mark page furniture rather than the story.
NOISE_WORDS = {"related", "share", "sharing", "social", "newsletter", "advert", "advertisement", "ad",
               "ads", "promo", "subscribe", "subscription", "cookie", "cookies",
               "breadcrumb", "breadcrumbs", "paywall", "sidebar", "recommended", "popular", "trending",
               "caption", "credits", "outbrain", "taboola", "byline"}


def parse_html(raw: str) -> dict:
    """Main text from <article>/<main>/<body>; metadata from meta tags, JSON-LD and <time>.

    Page furniture (navigation, headers and footers, asides, scripts, share and
    newsletter boxes, related links) is removed before the text is taken, and the
    text is the page's paragraphs, subheadings, list items and quotes, one block
    per paragraph. A page whose body has no text but whose JSON-LD has
    `articleBody` uses that.
    """
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(raw)
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
    author_node = tree.css_first('[rel="author"], .byline, .author, [itemprop="author"]')
    fields = {
        "title": first(meta.get("og:title"), linked.get("headline"), meta.get("twitter:title"),
                       h1.text() if h1 else None, title_node.text() if title_node else None),
        "source": first(meta.get("og:site_name"), _ld_name(linked.get("publisher")),
                        meta.get("publisher"), meta.get("application-name")),
        "author": first(meta.get("author"), meta.get("article:author"), _ld_name(linked.get("author")),
                        author_node.text() if author_node else None),
        "published": first(meta.get("article:published_time"), linked.get("datePublished"),
                           meta.get("datepublished"), meta.get("date"), meta.get("pubdate"),
                           meta.get("dc.date"), time_node.attributes.get("datetime") if time_node else None),
        "url": first(canonical.attributes.get("href") if canonical else None, meta.get("og:url"),
                     linked.get("url") if isinstance(linked.get("url"), str) else None),
    }
    _remove_noise(tree)
    container = tree.css_first("article") or tree.css_first("main") or tree.body
    if container is None:
        raise ArticleError("HTML page has no body")
    blocks = [" ".join(node.text(separator=" ").split()) for node in container.css(", ".join(BLOCK_TAGS))
              if not _inside_block(node, container)]
    blocks = [block for block in blocks if block]
    if not blocks:
        blocks = [" ".join(line.split()) for line in container.text(separator="\n").split("\n")]
        blocks = [block for block in blocks if block]
    if blocks and fields["title"] and blocks[0] == fields["title"]:
        blocks.pop(0)
    if not blocks and isinstance(linked.get("articleBody"), str):
        blocks = [linked["articleBody"]]
    fields["text"] = "\n\n".join(blocks)
    return fields


NOISE_MARK = "data-newsdesk-noise"


def _remove_noise(tree) -> None:
    """Mark every piece of page furniture, then remove the marked nodes one at a time (outermost
    first), so that no node is touched after an ancestor of it has been freed."""
    paragraphs = len(tree.css("p"))
    for node in tree.css(", ".join(NOISE_TAGS)):
        node.attrs[NOISE_MARK] = "1"
    for node in tree.css("[class], [id], [hidden], [aria-hidden]"):
        if _is_noise(node, paragraphs):
            node.attrs[NOISE_MARK] = "1"
    while (node := tree.css_first(f"[{NOISE_MARK}]")) is not None:
        node.decompose()


def _is_noise(node, page_paragraphs: int) -> bool:
    attributes = node.attributes
    if node.tag in ("html", "body", "article", "main"):
        return False
    if "hidden" in attributes or attributes.get("aria-hidden") == "true":
        return True
    words = set(re.split(r"[\s_\-]+", f"{attributes.get('class') or ''} {attributes.get('id') or ''}".lower()))
    if not words & NOISE_WORDS:
        return False
    # A wrapper such as <div class="story has-comments"> that holds the story is not furniture.
    if node.css_first("article, main") is not None:
        return False
    return len(node.css("p")) <= max(3, page_paragraphs // 2)


def _inside_block(node, container) -> bool:
    """True for a paragraph nested in a list item or quote: its text is already in the outer block."""
    parent = node.parent
    while parent is not None and parent != container:
        if parent.tag in BLOCK_TAGS:
            return True
        parent = parent.parent
    return False


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
