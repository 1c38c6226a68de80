"""What a question asks for, beyond its words: outlets, dates, and the kind of answer it wants.

"according to AFP", "what did The Verge report" -> only chunks from those outlets;
"in September 2022", "last week", "before 5 October 2023" -> a date range on
`published` (relative dates are relative to today); "latest" -> newer first;
"how many" wants a number, "who" a name, "when" a date, "where" a place.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, field

MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
MONTHS["sept"] = 9
MONTH_PATTERN = r"(?:" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
YEAR_PATTERN = r"(?:19|20)\d{2}"
DATE_PATTERN = (
    rf"(?:{MONTH_PATTERN}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+{YEAR_PATTERN}"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+{MONTH_PATTERN},?\s+{YEAR_PATTERN}"
    rf"|{YEAR_PATTERN}-\d{{2}}-\d{{2}}"
    rf"|{MONTH_PATTERN}\s+{YEAR_PATTERN}"
    rf"|{YEAR_PATTERN})"
)


DateWindow = tuple["dt.date | None", "dt.date | None"]


@dataclass
class QueryFilters:
    """Restrictions on the chunks a question may be answered from.

    Dates are a union of windows: "after the report on October 22, 2023, did TechCrunch's
    November 6, 2023 article ..." may be answered from either day's articles.
    """

    sources: tuple[str, ...] = ()
    windows: tuple[DateWindow, ...] = ()
    prefer: tuple[DateWindow, ...] = ()
    """Soft windows: a bare year ("in 2021") may be when something happened rather than when it
    was reported, so articles published then rank higher but others still count."""
    newest_first: bool = False
    relative: str | None = None
    """The relative time the windows come from ("last month"), which may belong to the fact asked
    about rather than to when it was reported."""
    notes: list[str] = field(default_factory=list)

    @property
    def date_from(self) -> dt.date | None:
        starts = [w[0] for w in self.windows]
        return None if not starts or None in starts else min(starts)

    @property
    def date_to(self) -> dt.date | None:
        ends = [w[1] for w in self.windows]
        return None if not ends or None in ends else max(ends)

    def whole_years(self) -> list[int]:
        """Years wholly inside a window, so articles dated only by year can match."""
        years: list[int] = []
        for low, high in self.windows:
            if low and high:
                years += [y for y in range(low.year, high.year + 1)
                          if low <= dt.date(y, 1, 1) and dt.date(y, 12, 31) <= high]
        return sorted(set(years))

    @property
    def active(self) -> bool:
        return bool(self.sources or self.windows)

    def without_dates(self, note: str) -> "QueryFilters":
        """The same outlets, any date."""
        return QueryFilters(sources=self.sources, newest_first=self.newest_first,
                            notes=[n for n in self.notes if not n.startswith("date:")] + [note])


def _parse_date(text: str) -> tuple[dt.date, dt.date] | None:
    """The first and last day that a date expression covers."""
    text = text.strip().rstrip(",").lower()
    match = re.fullmatch(rf"({YEAR_PATTERN})-(\d{{2}})-(\d{{2}})", text)
    if match:
        try:
            day = dt.date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            return None
        return day, day
    parts = re.findall(r"[a-z]+|\d+", text)
    month = next((MONTHS[p] for p in parts if p in MONTHS), None)
    numbers = [int(p) for p in parts if p.isdigit()]
    years = [n for n in numbers if n >= 1900]
    days = [n for n in numbers if n < 32]
    if not years:
        return None
    year = years[0]
    try:
        if month and days:
            day = dt.date(year, month, days[0])
            return day, day
        if month:
            return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])
    except ValueError:
        return None
    return dt.date(year, 1, 1), dt.date(year, 12, 31)


def _relative(question: str, today: dt.date) -> tuple[dt.date, dt.date, str] | None:
    # "last week's game" names a time inside the story, not when it was published.
    q = re.sub(r"\b(?:last|this|past|next)\s+(?:week|month|year)['’]s\b|\b(?:yesterday|today)['’]s\b", " ",
               question.lower())
    monday = today - dt.timedelta(days=today.weekday())
    if re.search(r"\byesterday\b", q):
        day = today - dt.timedelta(days=1)
        return day, day, "yesterday"
    if re.search(r"\btoday\b", q):
        return today, today, "today"
    match = re.search(r"\b(?:past|last)\s+(\d+|two|three|four|five|six|seven|ten)\s+(day|week|month|year)s?\b", q)
    if match:
        words = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "ten": 10}
        n = int(match[1]) if match[1].isdigit() else words[match[1]]
        days = {"day": 1, "week": 7, "month": 31, "year": 366}[match[2]] * n
        return today - dt.timedelta(days=days), today, match[0]
    if re.search(r"\blast week\b", q):
        return monday - dt.timedelta(days=7), monday - dt.timedelta(days=1), "last week"
    if re.search(r"\bthis week\b", q):
        return monday, today, "this week"
    if re.search(r"\blast month\b", q):
        first = today.replace(day=1)
        previous_end = first - dt.timedelta(days=1)
        return previous_end.replace(day=1), previous_end, "last month"
    if re.search(r"\bthis month\b", q):
        return today.replace(day=1), today, "this month"
    if re.search(r"\blast year\b", q):
        return dt.date(today.year - 1, 1, 1), dt.date(today.year - 1, 12, 31), "last year"
    if re.search(r"\bthis year\b", q):
        return dt.date(today.year, 1, 1), today, "this year"
    return None


def parse_filters(question: str, known_sources: list[str], today: dt.date) -> QueryFilters:
    """Outlet and date restrictions stated in the question."""
    filters = QueryFilters()
    lowered = question.lower()
    mentioned = []
    for source in known_sources:
        name = source.lower().strip()
        if len(name) < 2:
            continue
        bare = re.sub(r"^the\s+", "", name)
        if re.search(rf"(?<![\w]){re.escape(bare)}(?![\w])", lowered):
            mentioned.append(source)
    if mentioned:
        filters.sources = tuple(sorted(set(mentioned)))
        filters.notes.append("outlet: " + ", ".join(filters.sources))

    # "Business Today | ..." is an outlet, not a date.
    dated_text = question
    for source in mentioned:
        dated_text = re.sub(re.escape(re.sub(r"^the\s+", "", source, flags=re.I)), " ", dated_text, flags=re.I)
    relative = _relative(dated_text, today)
    if relative:
        low, high, label = relative
        filters.windows = ((low, high),)
        filters.relative = label
        filters.notes.append(f"date: {label}")
    else:
        filters.windows, filters.prefer = _absolute_windows(dated_text)
        if len(filters.sources) > 1 and len(filters.windows) < len(filters.sources):
            # "Before The New York Times reported on 17 November 2023, did Sporting News ...": the
            # date belongs to one of the articles compared, so it may not exclude the others.
            filters.prefer, filters.windows = filters.prefer + filters.windows, ()
        if filters.windows:
            filters.notes.append("date: " + "; ".join(f"{a or '…'} to {b or '…'}" for a, b in filters.windows))
    if re.search(r"\b(latest|most recent|newest|recently|lately)\b", lowered):
        filters.newest_first = True
    return filters


INTRODUCED_DATE = re.compile(
    rf"\b(between|from|before|prior to|until|by|after|since|in|on|during|of|dated|published)\s+"
    rf"(?:the\s+)?({DATE_PATTERN}|{MONTH_PATTERN}\s+\d{{1,2}}(?:st|nd|rd|th)?\b|\d{{1,2}}(?:st|nd|rd|th)?\s+"
    rf"{MONTH_PATTERN}\b)", re.I)
ANY_DATE = re.compile(rf"{DATE_PATTERN}|{MONTH_PATTERN}\s+\d{{1,2}}(?:st|nd|rd|th)?\b|"
                      rf"\d{{1,2}}(?:st|nd|rd|th)?\s+{MONTH_PATTERN}\b", re.I)
SLACK = dt.timedelta(days=1)


def _absolute_windows(question: str) -> tuple[tuple[DateWindow, ...], tuple[DateWindow, ...]]:
    """Hard and soft windows for the dates a question introduces with a preposition ("in
    September 2022", "on 5 October 2023", "before ...", "between ... and ...").

    A date without a year takes the year of another date in the question, or is ignored. A
    month or a day restricts; bare years ("in 2021", "from 1905 to 1913") only prefer, since
    they often date the event rather than the report. One date after "before"/"after"/"since"/
    "until" gives an open window; several give the union of their days (a day of slack each
    side, since articles are dated in UTC). Years nobody introduced ("the 2018 World Cup")
    count for nothing."""
    introduced = {match.start(2): match.group(1).lower() for match in INTRODUCED_DATE.finditer(question)}
    if not introduced:
        return (), ()
    known_years = re.findall(YEAR_PATTERN, question)
    spans: list[tuple[str, tuple[dt.date, dt.date], bool]] = []
    for match in ANY_DATE.finditer(question):
        word = introduced.get(match.start(), "")
        bare_year = bool(re.fullmatch(YEAR_PATTERN, match.group()))
        if bare_year and not word:
            continue
        span = _parse_date(match.group())
        if span is None and known_years:
            span = _parse_date(f"{match.group()} {known_years[0]}")
        if span is not None:
            spans.append((word, span, bare_year))
    precise = [(word, span) for word, span, bare_year in spans if not bare_year]
    years = tuple(span for _, span, bare_year in spans if bare_year)
    if not precise:
        return (), years
    between = re.search(rf"\b(?:between|from)\s+({DATE_PATTERN})\s+(?:and|to|until)\s+({DATE_PATTERN})",
                        question, re.I)
    if between and len(spans) == 2:
        first, second = _parse_date(between[1]), _parse_date(between[2])
        if first and second:
            return ((first[0], second[1]),), ()
    if len(precise) == 1:
        word, (low, high) = precise[0]
        if word == "after":
            return ((high + dt.timedelta(days=1), None),), years
        if word == "since":
            return ((low, None),), years
        if word in {"before", "prior to"}:
            return ((None, low - dt.timedelta(days=1)),), years
        if word in {"until", "by"}:
            return ((None, high),), years
    windows = tuple((low - SLACK, high + SLACK) if low == high else (low, high) for _, (low, high) in precise)
    return windows, years


# -- the kind of answer a question wants ------------------------------------------

NUMBER = re.compile(r"\b\d[\d,.]*\b|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
                    r"dozens?|hundreds?|thousands?|millions?|billions?|tens of thousands)\b", re.I)
DATE_WORDS = re.compile(rf"\b(?:{MONTH_PATTERN}|monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
                        rf"yesterday|today|{YEAR_PATTERN}|last (?:week|month|year)|since|ago)\b", re.I)
DISTANCE = re.compile(r"\b\d[\d,.]*\s*(?:-\s*)?(?:kilomet(?:er|re)s?|km|miles?|meters?|metres?)\b", re.I)
CURRENCY = (r"(?:euros?|dollars?|pounds?(?! of)|sterling|yen|yuan|renminbi|francs?|rupees?|kronor|krona|kroner|krone|"
            r"roubles?|rubles?|pesos?|reais|rand|won|lira|tugriks?|dinars?|dirhams?|riyals?|shillings?|"
            r"usd|eur|gbp|cents?)")
MONEY = re.compile(rf"[$€£¥]\s?\d|\b\d[\d,.]*\s*(?:(?:million|billion|trillion|thousand|bn|m|k)\s+)?{CURRENCY}\b"
                   rf"|\b(?:a|one|two|three|several|hundreds of|thousands of|millions of|billions of)\s+"
                   rf"(?:(?:million|billion)\s+)?{CURRENCY}\b", re.I)
MONEY_QUESTION = re.compile(
    r"\bhow much\b[^?]*\b(?:cost|costs|pay|paid|pays|spend|spent|money|budget|grant|fee|fine|fined|price|worth|"
    r"raise|raised|fund|funding|invest|invested|owe|owed|earn|earned|salary|compensation|damages|charge|charged)\b|"
    r"\bhow much (?:money|cash|funding)\b|"
    r"\bwhat (?:is|was|were|are|will be) the (?:\w+ )?(?:cost|price|budget|fee|fine|salary|grant|transfer fee|"
    r"fundraising|funding|valuation)\b", re.I)
"""("What is the plastics bill?" asks about a law, not an invoice: "bill" is not among them.)"""
MEASURE_UNIT = (r"(?:kilomet(?:er|re)s?|km|miles?|met(?:er|re)s?|feet|foot|inch(?:es)?|centimet(?:er|re)s?|cm|mm|"
                r"per ?cent|percent|%|degrees?|°[cf]?|kilograms?|kg|grams?|tonnes?|tons?|pounds? of|litres?|liters?|"
                r"gallons?|mph|km/h|knots?|hectares?|acres?|square|cubic|points? (?:higher|lower)|"
                r"per (?:hour|second|cent))(?!\w)")
"""A unit ends where its word ends: "3 football clubs" and "11 Tony Awards" are counts."""
PERSON_NOUN = (r"(?:person|man|woman|official|leader|president|researcher|scientist|professor|doctor|judge|"
               r"player|coach|manager|minister|candidate|author|artist|director|executive|chief|spokesperson|"
               r"spokesman|spokeswoman|lawyer|prosecutor|witness|winner|founder|chairman|chairwoman|mayor|"
               r"governor|senator|journalist|reporter|team leader|individual|athlete|striker|goalkeeper|"
               r"actor|actress|singer|designer|photographer|architect|surgeon|nurse|officer|victim|suspect)")
NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+(?:[\s-][A-Z][a-z]+)+\b")


DURATION = re.compile(r"\b(?:\d[\d,.]*|a|an|one|two|three|four|five|six|seven|eight|nine|ten|several|few|"
                      r"couple of)\s+(?:more\s+)?(?:hours?|days?|weeks?|months?|years?|decades?|nights?)\b", re.I)
AGE = re.compile(r"\b\d{1,3}-year-old\b|\baged?\s+\d{1,3}\b|\b\d{1,3} years old\b|"
                 r"\bin (?:his|her|their) (?:early |mid-|late )?(?:teens|twenties|thirties|forties|fifties|sixties|"
                 r"seventies|eighties|nineties)\b", re.I)


def answer_type(question: str) -> str | None:
    """'money', 'count', 'number', 'distance', 'duration', 'age', 'date', 'person', 'place' or None."""
    q = question.lower().strip()
    if re.search(r"\bhow (?:far|long a drive|close)\b|\bdistance\b", q):
        return "distance"
    if re.search(r"\bhow old\b|\bwhat age\b|\bat what age\b", q):
        return "age"
    if re.search(r"\bhow long\b(?! is the| was the| are the| were the)|\bfor how long\b|\bwhat period\b", q):
        return "duration"
    if MONEY_QUESTION.search(q):
        return "money"
    if re.search(r"\bhow many\b", q) and not re.search(rf"\bhow many\s+(?:\w+\s+)?{MEASURE_UNIT}", q):
        return "count"
    if re.search(r"\bhow (?:many|much|large|big|long)\b|\bwhat (?:number|percentage|share|amount)\b|"
                 r"\bwhat (?:is|was|were|are) the (?:number|total|amount|cost|price|population|size|budget|"
                 r"value|revenue|turnout)\b|\bpopulation\b", q):
        return "number"
    # The first of who/where/when asks; a later "when" opens a clause ("who scored when X beat Y").
    lead = re.search(r"\b(?:who|whose|whom|where|when)\b", q)
    if (lead and lead.group() == "when") or re.search(r"\bwhat (?:year|date|day|month|time)\b|"
                                                      r"\bwhich (?:year|day|month)\b", q):
        return "date"
    if re.search(rf"\bwho\b|\bwhose\b|\b(?:which|what) {PERSON_NOUN}\b", q):
        return "person"
    if re.search(r"\bwhere\b|\bwhich (?:country|city|town|place|border|region)\b", q):
        return "place"
    return None


def has_answer_shape(sentence: str, wanted: str | None) -> bool:
    """Whether a sentence holds the kind of thing the question asks for."""
    if wanted == "distance":
        return bool(DISTANCE.search(sentence))
    if wanted == "duration":
        return bool(DURATION.search(sentence))
    if wanted == "age":
        return bool(AGE.search(sentence))
    if wanted == "money":
        return bool(MONEY.search(sentence))
    if wanted == "count":
        # "How many homes lost power?" is not answered by "gusts of 170 kilometres per hour".
        return any(not re.match(rf"\s*(?:-\s*)?{MEASURE_UNIT}", sentence[m.end():], re.I)
                   for m in NUMBER.finditer(sentence))
    if wanted == "number":
        return bool(NUMBER.search(sentence))
    if wanted == "date":
        return bool(DATE_WORDS.search(sentence))
    if wanted in {"person", "place"}:
        return bool(NAME.search(sentence))
    return False


CLAUSE_JOIN = re.compile(r"\b(?:while|whereas|both|compared|as well as|versus|vs)\b|,\s*(?:and|but|or)\b|;", re.I)
REPORTS_COMPARED = re.compile(r"\b(?:between|than|before|after|since|then|later|subsequent)\b", re.I)
REPORT_WORDS = re.compile(r"\b(?:reports?|reported|reporting|articles?|publish\w*|stor(?:y|ies)|coverage|according)\b",
                          re.I)


def is_compound(question: str, outlets: list[str] | tuple[str, ...] = ()) -> bool:
    """Whether a question joins several claims ("... while ...", "both ...", ", and ..."),
    compares reports ("between the report on ... and ...", "after publishing ..."), or names
    reports by two or more outlets (the same outlet twice counts): its parts may each be
    answered by a different article."""
    if CLAUSE_JOIN.search(question):
        return True
    # "after the report on ..." compares reports; "how many died after the earthquake" does not.
    if REPORTS_COMPARED.search(question) and REPORT_WORDS.search(question):
        return True
    lowered = question.lower()
    mentions = 0
    for outlet in outlets:
        bare = re.sub(r"^the\s+", "", outlet.lower().strip())
        if len(bare) >= 2:
            mentions += len(re.findall(rf"(?<!\w){re.escape(bare)}(?!\w)", lowered))
    return mentions >= 2


FOLLOW_UP_START = re.compile(
    r"^\s*(?:and|but|also|so|then|what about|how about|and what|why|how come|is that|was that|"
    r"it|its|it's|they|them|their|he|she|his|her|that|this|those|these|there)\b", re.I)
PRONOUN = re.compile(r"\b(?:it|its|they|them|their|he|she|him|his|her|that|this|those|these|there)\b", re.I)


def is_follow_up(question: str) -> bool:
    """Short or pronoun-led questions lean on the conversation before them."""
    words = re.findall(r"\w+", question)
    return bool(FOLLOW_UP_START.search(question)) or len(words) <= 4 or (
        len(words) <= 8 and bool(PRONOUN.search(question)))

