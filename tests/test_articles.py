"""Every article format parses to the title, source, author, date and text a reader would expect."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from newsdesk.articles import Article, ArticleError, SourceFile, discover, parse_date, parse_file

SEED = Path(__file__).resolve().parent.parent / "seeds" / "000_4510fe1ca80486bb.txt"


def parse(path: Path, root: Path | None = None) -> list[Article]:
    items = list(parse_file(SourceFile(path, root or path.parent)))
    errors = [item for item in items if isinstance(item, ArticleError)]
    assert not errors, errors
    return items


def parse_one(path: Path) -> Article:
    articles = parse(path)
    assert len(articles) == 1
    return articles[0]


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


# -- the seed ---------------------------------------------------------------------

def test_seed_article_metadata_is_inferred_from_its_layout():
    article = parse_one(SEED)
    assert article.title == "'Better than killing people': Russians flee into Mongolia"
    assert article.source == "AFP"
    assert article.year == 2022
    assert article.published is None, "the seed states a year, not a date: nothing invented"
    assert article.author == "Byambasuren Byamba-Ochir"
    assert article.id == "seeds/000_4510fe1ca80486bb.txt"


def test_seed_text_keeps_the_story_and_drops_title_byline_and_copyright():
    text = parse_one(SEED).text
    assert text.startswith("Thousands of Russians have streamed across the border into Mongolia over the past week\n")
    assert "more than 3,000 Russians had entered the country via the crossing" in text
    assert text.endswith('killed in the thousands in Ukraine.')
    assert "© 2022" not in text and "(c) 2022" not in text
    assert "BYAMBA-OCHIR" not in text
    assert "Russians flee into Mongolia" not in text.split("\n")[0]


# -- plain text -------------------------------------------------------------------

def test_plain_text_without_front_matter(tmp_path):
    path = write(tmp_path / "news" / "storm.txt",
                 "\n\nStorm closes schools\r\nSchools in the county closed on Monday.\r\n\r\n\r\n\r\n"
                 "Officials said they would reopen Wednesday.\r\n\r\n(c) 2021 Herald Tribune. All rights reserved.\n")
    article = parse_one(path)
    assert article.title == "Storm closes schools"
    assert article.text == "Schools in the county closed on Monday.\n\nOfficials said they would reopen Wednesday."
    assert article.source == "Herald Tribune"
    assert article.year == 2021
    assert article.author is None
    assert article.id == "news/storm.txt"


@pytest.mark.parametrize("closing, source, year", [
    ("© 2022 AFP", "AFP", 2022),
    ("(C) 2019 Reuters.", "Reuters", 2019),
    ("Copyright © 2020 The Guardian", "The Guardian", 2020),
    ("© AFP 2023", "AFP", 2023),
])
def test_copyright_line_variants(tmp_path, closing, source, year):
    article = parse_one(write(tmp_path / "a.txt", f"Title\nBody sentence here.\n{closing}\n"))
    assert (article.source, article.year) == (source, year)
    assert article.text == "Body sentence here."


def test_plain_text_with_front_matter(tmp_path):
    path = write(tmp_path / "a.txt", """---
title: Council approves budget
source: City Gazette
author: Ana Ruiz
url: https://gazette.example/budget
published: 2023-05-02
---
The council approved the budget on Tuesday.

It passed 7-2.
""")
    article = parse_one(path)
    assert article.title == "Council approves budget"
    assert article.source == "City Gazette"
    assert article.author == "Ana Ruiz"
    assert article.url == "https://gazette.example/budget"
    assert article.published == dt.date(2023, 5, 2)
    assert article.year == 2023
    assert article.id == "https://gazette.example/budget", "the url is the id when there is no id"
    assert article.text == "The council approved the budget on Tuesday.\n\nIt passed 7-2."


def test_front_matter_id_wins_and_numbers_are_text(tmp_path):
    path = write(tmp_path / "a.txt", "---\nid: 12345\ntitle: 2024\nurl: https://x.example/a\n---\nBody.\n")
    article = parse_one(path)
    assert article.id == "12345"
    assert article.title == "2024"


def test_the_stated_date_gives_the_year_even_with_a_copyright_line(tmp_path):
    path = write(tmp_path / "a.txt", "---\ntitle: T\npublished: 2023-01-09\n---\nBody.\n(c) 2022 AFP\n")
    article = parse_one(path)
    assert article.published == dt.date(2023, 1, 9)
    assert article.year == 2023
    assert article.source == "AFP"


def test_malformed_front_matter_is_an_error(tmp_path):
    path = write(tmp_path / "a.md", "---\ntitle: [unclosed\n---\nBody.\n")
    with pytest.raises(ArticleError, match="front matter"):
        parse(path)


# -- markdown ---------------------------------------------------------------------

def test_markdown_with_front_matter_and_title_heading(tmp_path):
    path = write(tmp_path / "a.md", """---
title: "Rail strike ends"
source: Metro Daily
published: "2024-02-29T08:30:00Z"
---
# Rail strike ends

Trains ran again on **Thursday** after [the union](https://union.example) agreed.

## What happens next

Talks resume in March.
""")
    article = parse_one(path)
    assert article.title == "Rail strike ends"
    assert article.source == "Metro Daily"
    assert article.published == dt.date(2024, 2, 29)
    assert article.text == ("Trains ran again on Thursday after the union agreed.\n\n"
                            "What happens next\n\nTalks resume in March.")


def test_markdown_title_heading_without_front_matter(tmp_path):
    article = parse_one(write(tmp_path / "b.md", "# Bridge reopens\n\nThe bridge reopened today.\n"))
    assert article.title == "Bridge reopens"
    assert article.text == "The bridge reopened today."


# -- html -------------------------------------------------------------------------

HTML = """<!doctype html>
<html><head>
<title>Floods hit valley | The Daily Example</title>
<meta property="og:title" content="Floods hit the valley">
<meta property="og:site_name" content="The Daily Example">
<meta name="author" content="By Jane Roe">
<meta property="article:published_time" content="2023-03-04T10:00:00+00:00">
<link rel="canonical" href="https://daily.example/floods">
<style>p { color: red }</style>
</head><body>
<nav><ul><li>Home</li><li>World</li></ul></nav>
<header><p>Subscribe now!</p></header>
<article>
  <h1>Floods hit the valley</h1>
  <p class="byline">By Jane Roe</p>
  <p>Water rose&nbsp;two metres on Monday, officials said.</p>
  <div class="share-tools"><p>Share on social media</p></div>
  <figure><img src="x.jpg"><figcaption>A flooded street.</figcaption></figure>
  <h2>Rescue efforts</h2>
  <p>Boats carried <b>200 people</b> to safety.</p>
  <blockquote><p>It was terrifying.</p><p>We lost everything.</p></blockquote>
  <aside><p>Related: last year's floods</p></aside>
  <script>trackPageView();</script>
</article>
<footer><p>© The Daily Example</p></footer>
</body></html>"""


def test_html_metadata_from_meta_tags_and_text_from_the_article(tmp_path):
    article = parse_one(write(tmp_path / "floods.html", HTML))
    assert article.title == "Floods hit the valley"
    assert article.source == "The Daily Example"
    assert article.author == "Jane Roe"
    assert article.published == dt.date(2023, 3, 4)
    assert article.url == "https://daily.example/floods"
    assert article.id == "https://daily.example/floods"
    assert article.text == ("Water rose two metres on Monday, officials said.\n\n"
                            "Rescue efforts\n\n"
                            "Boats carried 200 people to safety.\n\n"
                            "It was terrifying. We lost everything.")
    for noise in ("Subscribe", "Share on", "Home", "Related", "trackPageView", "flooded street", "color"):
        assert noise not in article.text


def test_html_json_ld_and_time_element(tmp_path):
    page = """<html><head><title>Page title</title>
<script type="application/ld+json">
{"@context": "https://schema.org", "@graph": [
  {"@type": "WebSite", "name": "Site"},
  {"@type": ["NewsArticle"], "headline": "Mayor resigns", "datePublished": "2022-11-08",
   "author": [{"@type": "Person", "name": "Li Wei"}, {"@type": "Person", "name": "Sam Okafor"}],
   "publisher": {"@type": "Organization", "name": "Northern Post"}}]}
</script></head>
<body><main><p>The mayor resigned on Tuesday.</p><p>An election follows.</p></main></body></html>"""
    article = parse_one(write(tmp_path / "m.htm", page))
    assert article.title == "Mayor resigns"
    assert article.author == "Li Wei, Sam Okafor"
    assert article.source == "Northern Post"
    assert article.published == dt.date(2022, 11, 8)
    assert article.text == "The mayor resigned on Tuesday.\n\nAn election follows."
    assert article.id == f"{tmp_path.name}/m.htm"


def test_html_time_element_and_body_fallback(tmp_path):
    page = """<html><head><title>Harbour fire</title></head><body>
<div><time datetime="2021-07-15T21:00:00Z">July 15</time></div>
<div>A fire broke out at the harbour.<br>No one was hurt.</div></body></html>"""
    article = parse_one(write(tmp_path / "f.html", page))
    assert article.title == "Harbour fire"
    assert article.published == dt.date(2021, 7, 15)
    assert "A fire broke out at the harbour." in article.text
    assert "No one was hurt." in article.text


def test_html_without_text_is_an_error(tmp_path):
    with pytest.raises(ArticleError, match="no article text"):
        parse(write(tmp_path / "e.html", "<html><head><title>T</title></head><body><nav>x</nav></body></html>"))


# -- json and jsonl -----------------------------------------------------------------

def test_json_object(tmp_path):
    record = {"title": "Port reopens", "body": "The port reopened.", "url": "https://p.example/1",
              "source": {"name": "Harbour News"}, "author": ["A. Writer", "B. Writer"],
              "published_at": "2023-09-26T10:00:00Z"}
    article = parse_one(write(tmp_path / "one.json", json.dumps(record)))
    assert article.title == "Port reopens"
    assert article.text == "The port reopened."
    assert article.source == "Harbour News"
    assert article.author == "A. Writer, B. Writer"
    assert article.published == dt.date(2023, 9, 26)
    assert article.id == "https://p.example/1"


def test_json_list_gives_each_record_an_id(tmp_path):
    records = [{"title": "One", "text": "First."}, {"title": "Two", "text": "Second.", "id": "two"}]
    articles = parse(write(tmp_path / "list.json", json.dumps(records)))
    assert [a.title for a in articles] == ["One", "Two"]
    assert [a.id for a in articles] == [f"{tmp_path.name}/list.json#0", "two"]


def test_jsonl_one_article_per_line_and_a_bad_line_reported(tmp_path):
    lines = [json.dumps({"title": "A", "body": "Alpha.", "published_at": 1695722400}),
             "", "{not json", json.dumps({"title": "C", "text": "Gamma."}), json.dumps(["x"])]
    items = list(parse_file(SourceFile(write(tmp_path / "feed.jsonl", "\n".join(lines)), tmp_path)))
    good = [i for i in items if isinstance(i, Article)]
    bad = [str(i) for i in items if isinstance(i, ArticleError)]
    assert [a.title for a in good] == ["A", "C"]
    assert good[0].published == dt.date(2023, 9, 26)
    assert good[0].id == f"{tmp_path.name}/feed.jsonl#1"
    assert bad == ["line 3: malformed JSON: Expecting property name enclosed in double quotes",
                   "line 5: expected a JSON object, found list"]


# -- bad files ----------------------------------------------------------------------

@pytest.mark.parametrize("name, content, reason", [
    ("latin1.txt", "Caf\xe9 news\nBody\n".encode("latin-1"), "not UTF-8 text"),
    ("empty.txt", b"  \n\n", "empty file"),
    ("bad.json", b'{"title": "x", ', "malformed JSON"),
    ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
    ("nobody.json", b'{"title": "only a title"}', "no 'body' or 'text' field"),
    ("titleonly.txt", b"Just a headline\n", "no article text"),
    ("empty-list.json", b"[]", "holds no articles"),
    ("page.pdf", b"%PDF-1.4", "unsupported format .pdf"),
])
def test_bad_files_give_a_reason(tmp_path, name, content, reason):
    with pytest.raises(ArticleError, match=reason):
        list(parse_file(SourceFile(write(tmp_path / name, content), tmp_path)))


def test_utf16_with_a_byte_order_mark_is_text(tmp_path):
    article = parse_one(write(tmp_path / "u.txt", "Title\nCafé opens.\n".encode("utf-16")))
    assert (article.title, article.text) == ("Title", "Café opens.")


# -- dates and discovery ---------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    ("2023-09-26", (dt.date(2023, 9, 26), 2023)),
    ("Tue, 26 Sep 2023 10:00:00 GMT", (dt.date(2023, 9, 26), 2023)),
    ("2019", (None, 2019)),
    (1695722400000, (dt.date(2023, 9, 26), 2023)),
    ("Monday", (None, None)),
    ("soon", (None, None)),
    (1e30, (None, None)),
    (True, (None, None)),
    ({"date": "2020-01-01"}, (None, None)),
    (None, (None, None)),
])
def test_parse_date(value, expected):
    assert parse_date(value) == expected


def test_discover_walks_folders_skips_hidden_and_unknown_files_and_dedupes(tmp_path):
    root = tmp_path / "corpus"
    write(root / "a.txt", "A\nx")
    write(root / "sub" / "b.md", "B\nx")
    write(root / ".git" / "c.txt", "C\nx")
    write(root / ".hidden.txt", "D\nx")
    write(root / "notes.docx", "E")
    files, roots = discover([root, root, root / "a.txt"])
    assert [f.relative_id for f in files] == ["corpus/a.txt", "corpus/sub/b.md"]
    assert roots[0] == root.resolve()


def test_ids_do_not_depend_on_where_the_folder_lives(tmp_path):
    for place in ("one", "two/deeper"):
        write(tmp_path / place / "archive" / "x.txt", "T\nBody.")
    first = parse_one(tmp_path / "one" / "archive" / "x.txt")
    ids = [f.relative_id for f in discover([tmp_path / "one" / "archive"])[0]]
    ids += [f.relative_id for f in discover([tmp_path / "two" / "deeper" / "archive"])[0]]
    assert ids == ["archive/x.txt", "archive/x.txt"]
    assert first.id == "archive/x.txt"


def test_content_hash_changes_with_text_and_metadata_but_not_the_file_it_came_from():
    base = Article(id="a", title="T", text="Body.", source_file="r/a.txt")
    assert base.content_hash() == base.model_copy(update={"source_file": "r/b.txt"}).content_hash()
    assert base.content_hash() != base.model_copy(update={"text": "Body!"}).content_hash()
    assert base.content_hash() != base.model_copy(update={"author": "X"}).content_hash()
