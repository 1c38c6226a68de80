"""What questions ask for: outlets, dates (absolute and relative to today), answer types, follow-ups."""

from __future__ import annotations

import datetime as dt

import pytest

from newsdesk.query import answer_type, is_follow_up, parse_filters

TODAY = dt.date(2023, 11, 15)  # a Wednesday
OUTLETS = ["AFP", "The Verge", "TechCrunch", "The Age", "BBC News"]


def test_outlet_named_with_or_without_the_article():
    assert parse_filters("What did The Verge report about Apple?", OUTLETS, TODAY).sources == ("The Verge",)
    assert parse_filters("according to verge, what happened?", OUTLETS, TODAY).sources == ("The Verge",)
    both = parse_filters("Do The Age and TechCrunch agree on Google?", OUTLETS, TODAY)
    assert both.sources == ("TechCrunch", "The Age")


def test_outlet_names_match_whole_words_only():
    assert parse_filters("Was the page outdated?", OUTLETS, TODAY).sources == ()
    assert parse_filters("What did the staff say?", ["AFP", "Staff"], TODAY).sources == ("Staff",)


@pytest.mark.parametrize("question, start, end", [
    ("What happened in September 2022?", dt.date(2022, 9, 1), dt.date(2022, 9, 30)),
    ("news from Sept. 2023", dt.date(2023, 9, 1), dt.date(2023, 9, 30)),
    # A single day gets a day of slack each side: articles are dated in UTC.
    ("What was reported on October 5, 2023?", dt.date(2023, 10, 4), dt.date(2023, 10, 6)),
    ("What was reported on 5 October 2023?", dt.date(2023, 10, 4), dt.date(2023, 10, 6)),
    ("stories between March 2023 and May 2023", dt.date(2023, 3, 1), dt.date(2023, 5, 31)),
])
def test_absolute_dates(question, start, end):
    filters = parse_filters(question, OUTLETS, TODAY)
    assert (filters.date_from, filters.date_to) == (start, end)


def test_several_dates_give_the_union_of_their_days():
    filters = parse_filters("After the report by The Age on October 22, 2023, did TechCrunch stay consistent in "
                            "its November 6, 2023, article and on December 15, 2023?", OUTLETS, TODAY)
    assert filters.windows == ((dt.date(2023, 10, 21), dt.date(2023, 10, 23)),
                               (dt.date(2023, 11, 5), dt.date(2023, 11, 7)),
                               (dt.date(2023, 12, 14), dt.date(2023, 12, 16)))
    assert filters.sources == ("TechCrunch", "The Age")


def test_a_date_without_a_year_borrows_one_or_restricts_nothing():
    assert parse_filters("Did Polygon report on October 18th?", OUTLETS, TODAY).windows == ()
    borrowed = parse_filters("Did Polygon report on October 18th that the 2023 game changed?", OUTLETS, TODAY)
    assert borrowed.windows == ((dt.date(2023, 10, 17), dt.date(2023, 10, 19)),)


def test_incidental_years_restrict_nothing():
    assert parse_filters("Who won the 2018 World Cup?", OUTLETS, TODAY).windows == ()


def test_before_and_after_exclude_the_named_period():
    before = parse_filters("What did AFP report before October 2023?", OUTLETS, TODAY)
    assert before.date_from is None and before.date_to == dt.date(2023, 9, 30)
    after = parse_filters("What happened after 2022-09-21?", OUTLETS, TODAY)
    assert after.date_from == dt.date(2023 - 1, 9, 22) and after.date_to is None


@pytest.mark.parametrize("question, start, end", [
    ("What happened last week?", dt.date(2023, 11, 6), dt.date(2023, 11, 12)),
    ("What happened this week?", dt.date(2023, 11, 13), TODAY),
    ("What happened yesterday?", dt.date(2023, 11, 14), dt.date(2023, 11, 14)),
    ("What happened last month?", dt.date(2023, 10, 1), dt.date(2023, 10, 31)),
    ("news from the past 3 days", dt.date(2023, 11, 12), TODAY),
    ("What happened last year?", dt.date(2022, 1, 1), dt.date(2022, 12, 31)),
])
def test_relative_dates_count_from_today(question, start, end):
    filters = parse_filters(question, OUTLETS, TODAY)
    assert (filters.date_from, filters.date_to) == (start, end)


def test_whole_years_let_year_only_articles_match():
    assert parse_filters("What happened last year?", OUTLETS, TODAY).whole_years() == [2022]
    assert parse_filters("What happened between January 2022 and December 2022?", OUTLETS,
                         TODAY).whole_years() == [2022]
    assert parse_filters("What happened in September 2022?", OUTLETS, TODAY).whole_years() == []


def test_a_bare_year_prefers_rather_than_restricts():
    filters = parse_filters("How much did Google spend in 2021 on search deals?", OUTLETS, TODAY)
    assert filters.windows == ()
    assert filters.prefer == ((dt.date(2021, 1, 1), dt.date(2021, 12, 31)),)


def test_one_date_among_several_outlets_does_not_exclude_the_others():
    filters = parse_filters("Before The Verge reported on November 17, 2023, did TechCrunch say the same?",
                            OUTLETS, TODAY)
    assert filters.sources == ("TechCrunch", "The Verge")
    assert filters.windows == ()
    assert filters.prefer == ((dt.date(2023, 11, 16), dt.date(2023, 11, 18)),)


def test_dates_inside_outlet_names_and_stories_restrict_nothing():
    outlets = OUTLETS + ["Business Today | Latest Stock Market And Economy News India"]
    assert parse_filters("Does the article from Business Today | Latest Stock Market And Economy News India "
                         "discuss Italy?", outlets, TODAY).windows == ()
    assert parse_filters("How did Kirk Cousins do in last week's game?", OUTLETS, TODAY).windows == ()


def test_latest_asks_for_newest_first_without_a_date_range():
    filters = parse_filters("What is the latest on the bridge?", OUTLETS, TODAY)
    assert filters.newest_first and filters.date_from is None


def test_a_question_with_no_outlet_or_date_is_unfiltered():
    filters = parse_filters("how many crossed at Altanbulag?", OUTLETS, TODAY)
    assert not filters.active and not filters.newest_first


@pytest.mark.parametrize("question, kind", [
    ("how many crossed at Altanbulag?", "count"),
    ("How far is Ulaanbaatar from the border?", "distance"),
    ("When did Russia launch the invasion?", "date"),
    ("Who urged Putin to end the conflict?", "person"),
    ("Where did the Russians cross?", "place"),
    ("Why did he leave?", None),
    ("What is the budget for the new flood barrier?", "money"),
    ("How much did the club pay to sign him?", "money"),
    ("How many homes lost power during the storm?", "count"),
    ("How many kilometres did the convoy travel?", "number"),
    ("Which researcher led the team?", "person"),
    ("What is the plastics bill about?", None),
    ("What was the bill passed by parliament on Tuesday?", None),
    ("How much was the bill for the repairs?", "number"),
    ("Who scored the winner when Corport City beat Yarmere Athletic?", "person"),
    ("Where were the Russians when the border closed?", "place"),
])
def test_answer_types(question, kind):
    assert answer_type(question) == kind


@pytest.mark.parametrize("question, follows", [
    ("and how far is that from the capital?", True),
    ("what about Georgia?", True),
    ("why?", True),
    ("How many Russians crossed into Mongolia at Altanbulag after the mobilisation?", False),
])
def test_follow_up_detection(question, follows):
    assert is_follow_up(question) is follows


@pytest.mark.parametrize("question, kind, answering, not_answering", [
    ("How long does he plan to stay in Mongolia?", "duration",
     "He said he plans to stay in Mongolia for a month.", "It is 350 kilometers from the border."),
    ("How old was the Russian man?", "age",
     "the man in his twenties told AFP", "He was among thousands of Russians."),
    ("How long is the border with Russia?", "number",
     "It shares a 3,500-kilometer border with Russia.", "The border is long."),
    ("What is the budget for the new flood barrier?", "money",
     "Councillors voted to spend 6.3 million euros on the new flood barrier.",
     "The new flood barrier is scheduled to open on 20 December."),
    ("How much did the club pay for him?", "money", "The fee was reported to be $42m.", "He signed 3 years ago."),
    ("How much did the club pay for him?", "money", "The club paid one million pounds for him.",
     "He signed 3 years ago."),
    ("How much did the club pay for him?", "money", "They paid a million dollars.", "He signed 3 years ago."),
    ("How many homes lost power during Storm Petra?", "count",
     "Officials said 33,072 homes lost power during Storm Petra.",
     "Storm Petra brought wind gusts of up to 170 kilometres per hour."),
])
def test_answer_shapes(question, kind, answering, not_answering):
    from newsdesk.query import has_answer_shape

    assert answer_type(question) == kind
    assert has_answer_shape(answering, kind)
    assert not has_answer_shape(not_answering, kind)


@pytest.mark.parametrize("question, answering", [
    ("How many awards did Hamilton win?", "Hamilton won 11 Tony Awards."),
    ("How many clubs were fined?", "Three football clubs were fined."),
    ("How many prizes did she take?", "She took 3 Grammy awards."),
    ("How many targets did the project reach?", "The project reached 5 milestones."),
    ("How many Tony Awards did Hamilton win?", "Hamilton won 11 Tony Awards."),
    ("How many football clubs were fined?", "Three football clubs were fined."),
])
def test_a_unit_is_a_whole_word_not_the_start_of_one(question, answering):
    """"foot" is a unit, "football" is not; "ton" is, "Tony" is not: a count stays a count."""
    from newsdesk.query import has_answer_shape

    assert answer_type(question) == "count"
    assert has_answer_shape(answering, "count")


@pytest.mark.parametrize("question, compound", [
    ("How strong were the wind gusts in Harmoor during Storm Elspeth?", False),
    ("How many people died after the earthquake in Harmoor?", False),
    ("Was the ferry busier than the bridge before the toll went up?", False),
    ("Did Polygon change its advice after publishing the Sorcerer guide?", True),
    ("Who heads the orthopaedics department at Dunridge General Hospital?", False),
    ("According to AFP, how many Russians crossed at Altanbulag?", False),
    ("Does The Verge article blame Google, while TechCrunch credits Epic Games?", True),
    (("Between the TechCrunch report on Epic Games and the TechCrunch report on the publisher's suit, "
      "did the coverage of Google change?"), True),
    ("Did TechCrunch report on Epic Games before The Verge covered the ruling?", True),
    ("Do the TechCrunch and The Verge articles agree on Google?", True),
    ("Did the TechCrunch article on Epic agree with the TechCrunch article on Google?", True),
])
def test_compound_questions_join_claims_or_reports(question, compound):
    """A compound question's parts may each come from a different article."""
    from newsdesk.query import is_compound

    assert is_compound(question, OUTLETS) is compound


@pytest.mark.parametrize("measured", ["It reached 20°C in Harmoor.", "Prices rose 5% in May.", "Gusts hit 170 km/h.",
                                      "The river rose 3 feet.", "The ship made 12 knots."])
def test_a_measure_is_not_a_count(measured):
    from newsdesk.query import has_answer_shape

    assert not has_answer_shape(measured, "count")
