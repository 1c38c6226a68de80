"""Answerers: from retrieved passages to a short answer whose every claim cites a passage.

* `ExtractiveAnswerer` (the default; offline, deterministic) quotes the one to
  three sentences that best answer the question. Sentences were found at
  ingestion time (their spans are stored with each chunk), so choosing them
  costs term arithmetic, not model calls: overlap with the question's terms
  weighted by rarity (idf), the kind of answer the question wants ("how many"
  wants a number), and how well the passage as a whole matched.
* `LLMAnswerer` asks any OpenAI-compatible chat endpoint, then checks every
  `[n]` marker against the passages it was given: invalid markers are removed
  and counted, and an answer with no valid citation, a timeout or an API error
  falls back to the extractive answer and says so.

Either way, `Passage` numbering is the only source of citations, so an answer
can never cite a passage it was not given.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from newsdesk.query import MONTHS, answer_type, has_answer_shape, is_compound
from newsdesk.results import REFUSAL, Citation
from newsdesk.retrieval import tokenize

log = logging.getLogger(__name__)

# Stems of words that say what kind of answer is wanted, not what it is about.
CALENDAR_WORDS = frozenset(MONTHS) | {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}
WHEN_STEMS = frozenset(tokenize(" ".join(CALENDAR_WORDS) + " last next past month week year day today "
                                "yesterday tomorrow ago weekend morning night"))
"""Words that say when ("last month"), not what: no part of the relation a question asks about."""
COMPOUND_THRESHOLD_FACTOR = 0.9
"""A compound question ("does X report ..., while Y ...") is answered part by part, so its best
sentence covers one part and scores lower: its threshold is 0.9 of the threshold (benchmarks/
refusal_calibration.py: MultiHop false refusals 0.070 -> about 0.045, every null query still
refused; simple questions, the seeds' and the synthetic archive's, are not affected)."""
MEASURED_TYPES = frozenset({"money", "count", "number", "distance", "duration", "age", "date"})
QUESTION_STEMS = frozenset(tokenize("many much far long happened happen tell know kind way thing "
                                    "number people person place time year date day called name"))


@dataclass
class Passage:
    """A retrieved chunk handed to an answerer, numbered from 1."""

    n: int
    chunk_id: str
    article_id: str
    text: str
    metadata: dict
    score: float
    dense: float | None = None
    sentences: list[tuple[int, int]] = field(default_factory=list)

    @classmethod
    def from_chunk(cls, n: int, chunk_id: str, text: str, metadata: dict, score: float,
                   dense: float | None) -> "Passage":
        spans = []
        for part in str(metadata.get("sentences", "")).split(";"):
            if ":" in part:
                start, end = part.split(":")
                spans.append((int(start), int(end)))
        return cls(n, chunk_id, metadata["article_id"], text, metadata, score, dense,
                   spans or [(0, len(text))])

    def citation(self, n: int, quote: str | None = None) -> Citation:
        meta = self.metadata
        return Citation(n=n, article_id=self.article_id, chunk_id=self.chunk_id, title=meta.get("title"),
                        source=meta.get("source"), published=meta.get("published"), url=meta.get("url"),
                        text=self.text, start=meta.get("start"), end=meta.get("end"),
                        author=meta.get("author"), quote=quote)


@dataclass(frozen=True)
class Evidence:
    """The signals behind a refusal decision, each from 0 to 1.

    `score` averages term coverage (the question's terms, weighted by rarity, found in the best
    sentence, or, discounted, anywhere in the best passage and its title: a follow-up's answer
    may lean on its context) with the best passage's dense similarity, then discounts the names
    the question gives that the answer does not hold: names no passage mentions
    (`missing_names`), names the best sentence replaces with a rival (`rivalled_names`), and
    names the best sentence's passage never mentions (`unsupported_names`; counted for simple
    questions only, since a compound one may take its names from several articles), and the
    question's other words that the quoted passages lack but a rival's sentence holds
    (`rival_relation`: asked how many pneumonia patients Dalvik General Hospital treated, the
    Dalvik passages speak of heatstroke and "pneumonia" comes with Ashbrook General Hospital: the
    archive has that figure for someone else, not for Dalvik)."""

    sentence_coverage: float
    passage_coverage: float
    union_coverage: float
    dense: float
    missing_names: float
    rivalled_names: float = 0.0
    unsupported_names: float = 0.0
    shape_missing: bool = False
    compound: bool = False
    rival_relation: float = 0.0

    def threshold(self, base: float) -> float:
        """The refusal threshold for this question (see `COMPOUND_THRESHOLD_FACTOR`)."""
        return base * (COMPOUND_THRESHOLD_FACTOR if self.compound else 1.0)

    @property
    def score(self) -> float:
        coverage = max(self.sentence_coverage, 0.7 * self.passage_coverage, 0.6 * self.union_coverage)
        names = max(0.6 * self.missing_names, self.rivalled_names, 1.5 * self.unsupported_names,
                    1.5 * self.rival_relation)
        score = (0.5 * coverage + 0.5 * self.dense) * max(0.0, 1.0 - names)
        return score * (0.75 if self.shape_missing else 1.0)


@dataclass
class Draft:
    """An answer before it becomes an `AnswerResult`: text with markers and the passages cited."""

    answer: str
    citations: list[Citation]
    refused: bool
    answerer: str
    evidence: Evidence | None = None
    note: str | None = None


@dataclass
class _Scored:
    passage: Passage
    start: int
    end: int
    text: str
    terms: frozenset[str]
    score: float
    coverage: float


@dataclass(frozen=True)
class _PassageTerms:
    sentences: tuple[frozenset[str], ...]
    title: frozenset[str]
    passage: frozenset[str]
    text_runs: tuple[frozenset[str], ...]
    """Runs of capitalised words in the text (see `name_runs`); `runs` adds the title's."""
    runs: tuple[frozenset[str], ...]
    sentence_runs: tuple[tuple[frozenset[str], ...], ...]
    """The runs of each sentence."""


class _TermCache:
    """Stemmed terms of each passage's sentences, kept for passages that come back often."""

    def __init__(self, size: int):
        self.size = size
        self._entries: OrderedDict[str, _PassageTerms] = OrderedDict()
        self._lock = threading.Lock()

    def of(self, passage: Passage) -> _PassageTerms:
        with self._lock:
            entry = self._entries.get(passage.chunk_id)
            if entry is not None:
                self._entries.move_to_end(passage.chunk_id)
                return entry
        sentences = tuple(frozenset(tokenize(passage.text[s:e])) for s, e in passage.sentences)
        title = frozenset(tokenize(f"{passage.metadata.get('title', '')} {passage.metadata.get('source', '')}"))
        sentence_runs = tuple(name_runs(passage.text[s:e]) for s, e in passage.sentences)
        text_runs = tuple(run for runs in sentence_runs for run in runs)
        entry = _PassageTerms(sentences, title, frozenset().union(title, *sentences), text_runs,
                              name_runs(str(passage.metadata.get("title") or "")) + text_runs, sentence_runs)
        with self._lock:
            self._entries[passage.chunk_id] = entry
            if len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return entry


class ExtractiveAnswerer:
    """Quote the sentences that best answer the question, each with its `[n]`."""

    name = "extractive"

    def __init__(self, refusal_threshold: float, max_sentences: int = 3, cache_size: int = 4096):
        self.refusal_threshold = refusal_threshold
        self.max_sentences = max_sentences
        self._terms = _TermCache(cache_size)

    def answer(self, question: str, passages: Sequence[Passage], *, context: str = "",
               idf: Callable[[str], float] = lambda term: 1.0, per_source: Sequence[str] = ()) -> Draft:
        """`idf` weighs question terms by rarity (the keyword index's); `context` is what a
        follow-up leans on, weighed at half."""
        if not passages:
            return Draft(REFUSAL, [], True, self.name)
        terms = [t for t in dict.fromkeys(tokenize(question)) if t not in QUESTION_STEMS]
        context_terms = [t for t in dict.fromkeys(tokenize(context)) if t not in terms and t not in QUESTION_STEMS]
        weights = {t: idf(t) for t in terms}
        weights.update({t: 0.5 * idf(t) for t in context_terms})
        wanted = answer_type(question)
        outlets = sorted({str(p.metadata.get("source")) for p in passages if p.metadata.get("source")})
        names = question_names(question, weights, outlets)
        compound = is_compound(question, outlets)
        scored = self._score_sentences(passages, weights, wanted, set(terms), () if compound else names)
        if not scored:
            return Draft(REFUSAL, [], True, self.name)
        chosen = self._choose(scored, weights, per_source)
        if not compound:
            chosen = self._without_rivals(chosen, names, frozenset(weights))
        evidence = self.evidence(question, chosen, passages, weights, names, compound, scored)
        threshold = evidence.threshold(self.refusal_threshold)
        if evidence.score < threshold:
            return Draft(REFUSAL, [], True, self.name, evidence,
                         note=f"best evidence {evidence.score:.2f} below the refusal threshold {threshold:.2f}")
        return self._compose(chosen, evidence)

    def evidence(self, question: str, chosen: Sequence[_Scored], passages: Sequence[Passage],
                 weights: dict[str, float], names: Sequence[QuestionName], compound: bool,
                 scored: Sequence[_Scored] = ()) -> Evidence:
        """How sure we are that the archive holds the answer (see `Evidence`); `chosen` are the
        sentences the answer would quote, best first; `names` the question's names, `compound`
        whether its parts may come from several articles (`is_compound`)."""
        best = chosen[0]
        total = sum(weights.values()) or 1.0
        passage_coverage = 0.0
        everywhere: set[str] = set()
        for passage in passages:
            terms = self._terms.of(passage).passage
            everywhere |= terms
            passage_coverage = max(passage_coverage, sum(w for t, w in weights.items() if t in terms) / total)
        union_coverage = sum(w for t, w in weights.items() if t in everywhere) / total
        dense = max((p.dense for p in passages if p.dense is not None), default=0.0)
        wanted = answer_type(question)
        shape_missing = wanted in MEASURED_TYPES and not has_answer_shape(best.text, wanted)
        rivalled, unsupported = self._name_support(names, best, frozenset(weights))
        return Evidence(best.coverage, passage_coverage, union_coverage, max(dense, 0.0),
                        self._missing_names(question, passages, weights, names), rivalled,
                        0.0 if compound else unsupported, shape_missing, compound,
                        self._rival_relation(chosen, scored, weights, names))

    # The sentences read for a rival's relation: the best-scored ones, where a rival's answer to
    # the same question would rank.
    RIVAL_SENTENCES_READ = 20

    def _rival_relation(self, chosen: Sequence[_Scored], scored: Sequence[_Scored], weights: dict[str, float],
                        names: Sequence[QuestionName]) -> float:
        """Share (idf-weighted) of the question's words other than its names that no quoted passage
        holds and that a well-scored sentence naming a rival of one of its names does (see `Evidence`).
        Words that say when ("last month") are left out of the share: the relation is what is asked."""
        named = frozenset().union(*(name.stems for name in names))
        topic = {t: w for t, w in weights.items() if t not in named and t not in WHEN_STEMS}
        if not topic or not names:
            return 0.0
        quoted = frozenset().union(*(self._terms.of(item.passage).passage for item in chosen))
        missing = {t for t in topic if t not in quoted}
        if not missing:
            return 0.0
        asked = frozenset(weights)
        found: set[str] = set()
        for item in scored[:self.RIVAL_SENTENCES_READ]:
            if item.terms & missing and _names_a_rival(item, names, asked):
                found |= item.terms & missing
        return sum(topic[t] for t in found) / sum(topic.values())

    def _name_support(self, names: Sequence[QuestionName], best: _Scored,
                      question_terms: frozenset[str]) -> tuple[float, float]:
        """Shares (idf-weighted) of the question's names that the best sentence contradicts, and
        that its passage does not speak of.

        Contradicted: the sentence names a rival in the name's place (see `QuestionName`): asked
        about Dunridge General Hospital, "... heads the orthopaedics department at Dunstead
        General Hospital" has the right relation about the wrong hospital. Unsupported: neither
        the sentence nor the rest of its passage or its title mentions the name (asked about
        Harmoor, a passage on Storm Elspeth in Zelmoor)."""
        total = sum(name.weight for name in names)
        if not total:
            return 0.0, 0.0
        runs = name_runs(best.text)
        cached = self._terms.of(best.passage)
        rivalled = sum(name.weight for name in names
                       if name.contradicted_by(best.terms, runs, question_terms))
        unsupported = sum(name.weight for name in names if not name.supported_by(cached, question_terms))
        return rivalled / total, unsupported / total

    def _missing_names(self, question: str, passages: Sequence[Passage], weights: dict[str, float],
                       names: Sequence[QuestionName]) -> float:
        """Share (idf-weighted) of the names in the question that no passage mentions: asked about
        Kazakhstan, an archive that only speaks of Mongolia does not hold the answer."""
        words = [t for t in named_terms(question) if t in weights]
        if not words:
            return 0.0
        present = frozenset().union(*(self._terms.of(p).passage for p in passages))
        total = sum(weights[t] for t in words) or 1.0
        missing_words = sum(weights[t] for t in words if t not in present) / total
        # "Silverline Pharma" is not "Silverline Software" plus "Riverbend Pharma": when every
        # word of a name is found but no passage speaks of the name itself, not even in part
        # ("Bankman-Fried"), the passages are about someone else.
        asked = frozenset(weights)
        missing_phrases = sum(name.weight for name in names
                              if len(name.weights) > 1 and name.stems <= present
                              and not any(name.supported_by(self._terms.of(p), asked) for p in passages))
        return max(missing_words, min(missing_phrases / total, 1.0))

    OTHER_NAME_PENALTY = 0.15
    """Taken from a sentence, times the share of the question's names (idf-weighted) that it
    gives to a rival or whose passage never speaks of: asked how many Lyme disease patients
    Kirkwick General Hospital treated, Rosstead General Hospital's figure in the first passage
    ranks below Kirkwick's in the tenth."""

    def _score_sentences(self, passages: Sequence[Passage], weights: dict[str, float], wanted: str | None,
                         question_terms: set[str], names: Sequence[QuestionName] = ()) -> list[_Scored]:
        """Every sentence of the passages, best first. `names` are the names every answer must be
        about (none for a compound question, whose parts may each name something else)."""
        total = sum(weights.values()) or 1.0
        top_score = max(p.score for p in passages) or 1.0
        names_weight = sum(name.weight for name in names) or 1.0
        asked = frozenset(weights)
        scored: list[_Scored] = []
        for rank, passage in enumerate(passages):
            cached = self._terms.of(passage)
            title_terms = cached.title
            relevance = passage.score / top_score
            supported = [name for name in names if name.supported_by(cached, asked)]
            unsupported = names_weight - sum(name.weight for name in supported) if names else 0.0
            sentences = zip(passage.sentences, cached.sentences, cached.sentence_runs)
            for (start, end), sentence_terms, runs in sentences:
                text = passage.text[start:end]
                if not sentence_terms:
                    continue
                matched = sum(w for t, w in weights.items() if t in sentence_terms)
                # A term the title already carries counts for a little: the sentence is about it.
                matched += 0.3 * sum(w for t, w in weights.items() if t in title_terms and t not in sentence_terms)
                coverage = min(matched / total, 1.0)
                shape = 0.0
                if wanted and has_answer_shape(text, wanted):
                    shape = 1.0 if sentence_terms - question_terms else 0.3
                elif wanted in MEASURED_TYPES:
                    # A sentence with no number cannot say "how many".
                    shape = -0.6
                elif wanted == "person":
                    # Nor one without a name "who".
                    shape = -0.3
                short = 0.15 if len(text.split()) < 6 else 0.0
                rivalled = sum(name.weight for name in supported
                               if name.contradicted_by(sentence_terms, runs, asked))
                other_names = self.OTHER_NAME_PENALTY * (unsupported + rivalled) / names_weight
                score = 0.62 * coverage + 0.2 * shape + 0.18 * relevance - short - 0.01 * rank - other_names
                scored.append(_Scored(passage, start, end, text, sentence_terms, score, coverage))
        scored.sort(key=lambda s: -s.score)
        return scored

    def _choose(self, scored: list[_Scored], weights: dict[str, float], per_source: Sequence[str]) -> list[_Scored]:
        chosen = [scored[0]]
        covered = set(scored[0].terms)
        if len(per_source) > 1:
            # Comparison across outlets: the best sentence from each outlet named.
            for source in per_source:
                if any(c.passage.metadata.get("source") == source for c in chosen):
                    continue
                match = next((s for s in scored if s.passage.metadata.get("source") == source), None)
                if match is not None and len(chosen) < self.max_sentences:
                    chosen.append(match)
            return chosen
        for candidate in scored[1:]:
            if len(chosen) >= self.max_sentences or candidate.score < 0.8 * scored[0].score:
                break
            gain = sum(w for t, w in weights.items() if t in candidate.terms and t not in covered)
            if gain > 0.15 * (sum(weights.values()) or 1.0):
                chosen.append(candidate)
                covered |= candidate.terms
        return chosen

    @staticmethod
    def _without_rivals(chosen: list[_Scored], names: Sequence[QuestionName],
                        question_terms: frozenset[str]) -> list[_Scored]:
        """The sentences after the best that name a rival in the place of a name the question gives
        are not quoted: asked who heads oncology at Thornport General Hospital, the head of oncology
        at Ostholm General Hospital is someone else's answer. (The best sentence stays, rival or
        not: the refusal decision reads it.)"""
        return chosen[:1] + [item for item in chosen[1:] if not _names_a_rival(item, names, question_terms)]

    def _compose(self, chosen: list[_Scored], evidence: Evidence) -> Draft:
        numbers: dict[str, int] = {}
        citations: list[Citation] = []
        quotes: dict[str, list[str]] = {}
        parts = []
        # Keep the reading order inside one passage; passages in order of their best sentence.
        for item in chosen:
            cid = item.passage.chunk_id
            if cid not in numbers:
                numbers[cid] = len(numbers) + 1
            quotes.setdefault(cid, []).append(item.text)
            parts.append(f"{_as_sentence(item.text)} [{numbers[cid]}]")
        for item in chosen:
            cid = item.passage.chunk_id
            if all(c.chunk_id != cid for c in citations):
                citations.append(item.passage.citation(numbers[cid], " ".join(quotes[cid])))
        return Draft(" ".join(parts), citations, False, self.name, evidence)


def named_terms(question: str) -> list[str]:
    """Stems of the capitalised words in a question, except the one that merely starts it."""
    words = re.findall(r"[A-Za-z][\w'’.-]*", question)
    names = [w for i, w in enumerate(words)
             if w[0].isupper() and (i > 0 or w.isupper()) and w.lower().rstrip(".") not in CALENDAR_WORDS]
    return list(dict.fromkeys(tokenize(" ".join(names))))


QUESTION_OPENERS = frozenset("""what who whom whose how when where which why did does do is was are were has have
had can could will would should according in on after before between since during""".split())
NAME_RUN = re.compile(r"[A-Z][\w’'.-]*(?:\s+(?:(?:of|the|de|del|von|van)\s+)?[A-Z][\w’'.-]*)+")
HONORIFICS = frozenset("mr mrs ms dr rep sen gov gen judge president prime minister chancellor coach".split())


def name_phrases(question: str) -> list[str]:
    """Runs of two or more capitalised words ("Brammoor General Hospital", "University of Fenholm")."""
    phrases = []
    for match in NAME_RUN.finditer(question):
        words = [re.sub(r"['’]s?$", "", w) for w in match.group().split()]
        if match.start() == 0 and words[0].lower() in QUESTION_OPENERS:
            words = words[1:]
        while words and (words[0].lower() in {"of", "the"} or words[0].lower().rstrip(".") in HONORIFICS):
            words = words[1:]
        words = [w for w in words if w.lower().strip(".,'’") not in CALENDAR_WORDS]
        if len(words) >= 2:
            phrases.append(" ".join(words).strip(".,'’"))
    return phrases


@dataclass(frozen=True)
class QuestionName:
    """A name the question gives ("Dunridge General Hospital", "Harmoor"), as stems with their
    idf weights, and how a text relates to it, judged on the text's runs of capitalised words:

    * mentions it in full: a run holds every word ("Dunridge General Hospital's staff");
    * mentions it in part: a run holds only words of the name ("Bankman-Fried" for Sam
      Bankman-Fried, "Caesars" for Caesars Sportsbook), as news does after the first mention;
    * names a rival: a run shares part of the name and adds a word the question does not use
      ("Dunstead General Hospital", "Juniper Airlines" for Juniper Logistics, "Priya Quartova"
      for Priya Reinfield).

    A one-word name ("Harmoor") is mentioned wherever its stem is, and has no rivals."""

    text: str
    weights: tuple[tuple[str, float], ...]

    @property
    def stems(self) -> frozenset[str]:
        return frozenset(stem for stem, _ in self.weights)

    @property
    def weight(self) -> float:
        return sum(w for _, w in self.weights)

    def mentioned_in_full(self, terms: frozenset[str], runs: Sequence[frozenset[str]]) -> bool:
        if len(self.weights) == 1:
            return self.weights[0][0] in terms
        return any(self.stems <= run for run in runs)

    def parts_mentioned(self, runs: Sequence[frozenset[str]]) -> list[frozenset[str]]:
        return [run for run in runs if run <= self.stems]

    def rivals(self, runs: Sequence[frozenset[str]], question_terms: frozenset[str]) -> list[frozenset[str]]:
        """("Wonder Seeds" is no rival of "Super Mario Bros. Wonder" in a question naming both.)"""
        if len(self.weights) == 1:
            return []
        return [run for run in runs
                if run & self.stems and run - self.stems - question_terms and not self.stems <= run]

    def supported_by(self, passage: _PassageTerms, question_terms: frozenset[str]) -> bool:
        """Whether a passage speaks of this name: in full (text or title), or in part where no
        rival in its text holds that part too ("Juniper" beside "Juniper Airlines" is that
        company; "Bankman-Fried" beside "Sam Altman" is still Sam Bankman-Fried)."""
        if self.mentioned_in_full(passage.passage, passage.runs):
            return True
        rivals = self.rivals(passage.text_runs, question_terms)
        return any(not any(part <= rival for rival in rivals) for part in self.parts_mentioned(passage.runs))

    def contradicted_by(self, terms: frozenset[str], runs: Sequence[frozenset[str]],
                        question_terms: frozenset[str]) -> bool:
        """A sentence that names a rival in this name's place and never the name, not even in part."""
        if self.mentioned_in_full(terms, runs) or self.parts_mentioned(runs):
            return False
        return bool(self.rivals(runs, question_terms))


def question_names(question: str, weights: dict[str, float],
                   outlets: Sequence[str] = ()) -> list[QuestionName]:
    """The names a question gives, as phrases ("Dunridge General Hospital") and single words
    ("Harmoor"), without the outlets among `outlets`: "according to The Verge" says where the
    answer was reported, not what it is about."""
    outlet_stems = [frozenset(tokenize(outlet)) for outlet in outlets if outlet]
    names: dict[frozenset[str], QuestionName] = {}
    in_phrases: set[str] = set()
    for phrase in name_phrases(question):
        stems = [t for t in dict.fromkeys(tokenize(phrase)) if t in weights]
        in_phrases.update(stems)
        if stems:
            names.setdefault(frozenset(stems), QuestionName(phrase, tuple((t, weights[t]) for t in stems)))
    for stem in named_terms(question):
        if stem in weights and stem not in in_phrases:
            names.setdefault(frozenset([stem]), QuestionName(stem, ((stem, weights[stem]),)))
    return [name for stems, name in names.items() if not any(stems <= outlet for outlet in outlet_stems)]


CAPITALISED_RUN = re.compile(r"[A-Z][\w’'.-]*(?:\s+(?:(?:of|the|de|del|von|van)\s+)?[A-Z][\w’'.-]*)*")


def name_runs(text: str) -> tuple[frozenset[str], ...]:
    """The stems of each run of capitalised words in a text ("Dunstead General Hospital",
    "Bankman-Fried"), titles such as "Dr" or "Judge" and days and months left out, as
    `name_phrases` leaves them out of the question ("On Tuesday Juniper said" names Juniper)."""
    runs = []
    for match in CAPITALISED_RUN.finditer(text):
        words = [w for w in match.group().split() if w.lower().rstrip(".") not in HONORIFICS
                 and re.sub(r"['’]s?$", "", w).lower().strip(".,") not in CALENDAR_WORDS]
        stems = frozenset(tokenize(" ".join(words)))
        if stems:
            runs.append(stems)
    return tuple(runs)


def _names_a_rival(item: _Scored, names: Sequence[QuestionName], question_terms: frozenset[str]) -> bool:
    """Whether a sentence names a rival in the place of one of the question's names."""
    runs = name_runs(item.text)
    return any(name.contradicted_by(item.terms, runs, question_terms) for name in names)


def _as_sentence(text: str) -> str:
    text = " ".join(text.split())
    return text if text[-1:] in ".!?\"'”’)" else text + "."


MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


def validate_citations(reply: str, passages: Sequence[Passage]) -> tuple[str, list[Citation], int]:
    """Keep only markers that name a passage given; renumber them 1..k in order of first use.

    Returns the answer text, its citations and how many invalid markers were removed.
    """
    by_number = {p.n: p for p in passages}
    order: dict[int, int] = {}
    invalid = 0

    def replace(match: re.Match) -> str:
        nonlocal invalid
        kept = []
        for part in match.group(1).split(","):
            number = int(part)
            if number not in by_number:
                invalid += 1
                continue
            order.setdefault(number, len(order) + 1)
            kept.append(f"[{order[number]}]")
        return "".join(kept)

    text = MARKER.sub(replace, reply)
    text = re.sub(r"\s+([.,;:!?])", r"\1", re.sub(r"[ \t]{2,}", " ", text)).strip()
    citations = [by_number[number].citation(new) for number, new in sorted(order.items(), key=lambda kv: kv[1])]
    return text, citations, invalid


SYSTEM_PROMPT = """You answer questions about the news using ONLY the numbered passages given.
Rules:
- Answer in one to three short sentences.
- After every claim, cite the passage it comes from with its number in square brackets, like [1] or [2][3].
- Cite only the numbers of passages given. Never invent facts.
- If the passages do not contain the answer, reply exactly: NOT_IN_ARCHIVE"""

REWRITE_PROMPT = """Rewrite the last question of this conversation as one stand-alone question that can be
understood without the conversation. Reply with the question only.

{history}
Last question: {question}"""


def format_passages(passages: Sequence[Passage]) -> str:
    blocks = []
    for p in passages:
        meta = p.metadata
        label = ", ".join(str(x) for x in (meta.get("title"), meta.get("source"), meta.get("published")) if x)
        blocks.append(f"[{p.n}] ({label})\n{p.text}")
    return "\n\n".join(blocks)


class LLMAnswerer:
    """Any OpenAI-compatible chat endpoint, through llama-index; falls back to the extractive answerer."""

    def __init__(self, base_url: str, model: str, api_key: str | None, timeout: float,
                 fallback: ExtractiveAnswerer):
        from llama_index.llms.openai_like import OpenAILike

        self.model = model
        self.name = f"llm:{model}"
        self.fallback = fallback
        self.llm = OpenAILike(model=model, api_base=base_url, api_key=api_key or "not-needed", timeout=timeout,
                              max_retries=0, is_chat_model=True, temperature=0.0, context_window=8192)

    def _chat(self, system: str, user: str) -> str:
        from llama_index.core.llms import ChatMessage

        response = self.llm.chat([ChatMessage(role="system", content=system),
                                  ChatMessage(role="user", content=user)])
        return (response.message.content or "").strip()

    def rewrite(self, question: str, history: Sequence[tuple[str, str]]) -> str | None:
        """A stand-alone version of a follow-up question, or None if the endpoint fails."""
        lines = "\n".join(f"Q: {q}\nA: {a}" for q, a in history[-3:])
        try:
            rewritten = self._chat("You rewrite follow-up questions.",
                                   REWRITE_PROMPT.format(history=lines, question=question))
        except Exception as exc:
            log.warning("LLM rewrite failed (%s); searching with the conversation instead", type(exc).__name__)
            return None
        rewritten = rewritten.strip().strip('"').splitlines()[0] if rewritten.strip() else ""
        return rewritten or None

    def answer(self, question: str, passages: Sequence[Passage], *, context: str = "",
               idf: Callable[[str], float] = lambda term: 1.0, per_source: Sequence[str] = ()) -> Draft:
        if not passages:
            return Draft(REFUSAL, [], True, self.name)
        fallback = dict(context=context, idf=idf, per_source=per_source)
        try:
            reply = self._chat(SYSTEM_PROMPT, f"{format_passages(passages)}\n\nQuestion: {question}")
        except Exception as exc:
            return self._fall_back(question, passages, fallback,
                                   f"LLM error ({_describe(exc)}); extractive answer instead")
        if "NOT_IN_ARCHIVE" in reply:
            return Draft(REFUSAL, [], True, self.name)
        text, citations, invalid = validate_citations(reply, passages)
        note = f"removed {invalid} invalid citation marker(s)" if invalid else None
        if not citations:
            return self._fall_back(question, passages, fallback,
                                   "LLM answer cited no given passage; extractive answer instead")
        return Draft(text, citations, False, self.name, note=note)

    def _fall_back(self, question: str, passages: Sequence[Passage], options: dict, why: str) -> Draft:
        draft = self.fallback.answer(question, passages, **options)
        draft.note = why
        return draft


def _describe(exc: Exception) -> str:
    name = type(exc).__name__
    if "timeout" in name.lower() or "timed out" in str(exc).lower():
        return "timed out"
    status = getattr(exc, "status_code", None)
    return f"HTTP {status}" if status else name
