"""A synthetic news archive for measuring retrieval and answering at scale.

`generate(articles=N, seed=S)` writes N dated articles from several outlets on
ten recurring beats (council projects, company results, football, storms,
courts, elections, hospitals, research, strikes, festivals). Places, people,
companies and clubs are invented, so no model can know the answers, and they
recur across many articles on the same beat: to answer, retrieval has to tell
apart the one article that holds a fact from dozens that look like it.

Every article carries one or two planted facts, each unique in the archive by
its key (say, town + facility for "how much will Varnholt spend on its new
tram depot?"). Questions ask for planted facts in other words than the
article's; "unplanted" questions ask the same kinds of question about keys that
were never planted, with a known entity (the town exists, the project does
not) or an entity that appears nowhere. Everything follows from the seed.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from newsdesk.evaluation import EvalQuestion, write_questions

ATTRIBUTION = "newsdesk synthetic archive (generated; invented places, people and facts)"

# Articles for about 1k, 10k and 100k chunks of newsdesk's default chunker (200 tokens, 40 overlap);
# measured: about 3.65 chunks per article of about 470 words.
SIZES = {"1k": 275, "10k": 2_750, "100k": 27_500}

OUTLETS = [
    ("The Harbor Courier", "harborcourier.example"), ("Northern Ledger", "northernledger.example"),
    ("Daily Meridian", "dailymeridian.example"), ("Valley Post", "valleypost.example"),
    ("Capital Wire", "capitalwire.example"), ("The Evening Gazette", "eveninggazette.example"),
    ("Coastline Times", "coastlinetimes.example"), ("Metro Dispatch", "metrodispatch.example"),
]
TOWN_HEADS = ["Ash", "Bel", "Cal", "Dun", "El", "Fen", "Gal", "Har", "Ing", "Kes", "Lor", "Mar", "Nor", "Ost",
              "Pen", "Quin", "Ros", "Sal", "Tor", "Ul", "Val", "Wyn", "Yar", "Zel", "Bram", "Cor", "Dal", "Ever",
              "Frost", "Glen", "Hollin", "Kirk", "Lang", "Mill", "Oak", "Red", "Stan", "Thorn", "Wex", "Bar"]
TOWN_TAILS = ["ford", "wick", "holm", "bury", "stead", "mere", "ton", "dale", "brook", "haven", "moor", "field",
              "gate", "ridge", "wood", "vik", "stad", "by", "port", "worth"]
FIRST_NAMES = [
    "Anna", "Ben", "Clara", "David", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Kaori", "Liam",
    "Maya", "Nikolai", "Olga", "Pedro", "Rosa", "Samir", "Tessa", "Umar", "Vera", "Walter", "Yusuf", "Zoe",
    "Amara", "Bruno", "Chloe", "Dmitri", "Esther", "Felix", "Greta", "Hassan", "Ivy", "Jakob", "Karin",
    "Lucia", "Marek", "Nadia", "Oscar", "Priya", "Rafael", "Sofia", "Tomas", "Ursula", "Viktor", "Wendy",
    "Xavier", "Yara", "Aisha", "Carlos", "Daniela", "Emil", "Fatima", "Gabriel", "Helga", "Isaac", "Julia",
    "Kwame", "Leila", "Mateo",
]
SURNAME_HEADS = ["Ander", "Bright", "Cald", "Dunst", "Eng", "Fair", "Gold", "Hallo", "Irving", "Jans", "Kell",
                 "Lind", "Morn", "Nord", "Orm", "Pell", "Quart", "Rein", "Strom", "Tall", "Ulf", "Vass",
                 "Wester", "Yeats", "Zorn", "Ack", "Brandt", "Crane", "Drex", "Esk"]
SURNAME_TAILS = ["son", "berg", "well", "ton", "man", "ley", "ski", "ova", "ard", "ing", "stone", "field",
                 "hart", "wood", "quist", "ez"]
COMPANY_HEADS = ["Brightwell", "Norcastle", "Silverline", "Redmoor", "Bluecrest", "Ironvale", "Kestrel",
                 "Greenway", "Highmark", "Lakeshore", "Northwind", "Oakridge", "Pinecroft", "Quayside",
                 "Riverbend", "Stonebridge", "Tidewater", "Upland", "Westfield", "Yellowfin", "Amberley",
                 "Coldharbour", "Driftwood", "Evergreen", "Foxglove", "Granite", "Harrowgate", "Juniper",
                 "Larkspur", "Marlow"]
COMPANY_KINDS = ["Energy", "Logistics", "Foods", "Motors", "Pharma", "Telecom", "Steel", "Airlines",
                 "Bank", "Software", "Chemicals", "Retail"]
FACILITIES = ["tram depot", "public library", "swimming pool", "bus station", "water treatment plant",
              "fire station", "sports hall", "footbridge", "primary school", "cycle path network",
              "community health centre", "concert hall", "recycling centre", "youth centre", "car park",
              "ice rink", "museum extension", "flood barrier", "market hall", "town hall renovation"]
PLANTS = ["battery factory", "distribution centre", "research campus", "data centre", "assembly plant",
          "headquarters", "bottling plant", "training academy"]
CLUB_KINDS = ["United", "Rovers", "Athletic", "City", "Wanderers", "Albion"]
STORMS = ["Adele", "Bertram", "Cordelia", "Dorian", "Elspeth", "Florian", "Gwendolyn", "Horace", "Isolde",
          "Jasper", "Katrin", "Leopold", "Magnus", "Nerys", "Otto", "Petra", "Rupert", "Sigrid", "Thaddeus",
          "Ulla", "Vaughn", "Wilma"]
CRIMES = ["fraud", "embezzlement", "arson", "bribery", "money laundering", "tax evasion", "burglary",
          "insider trading", "smuggling", "forgery"]
ILLNESSES = ["measles", "influenza", "norovirus", "whooping cough", "heatstroke", "food poisoning",
             "pneumonia", "Lyme disease"]
DEPARTMENTS = ["cardiology", "oncology", "paediatrics", "emergency", "neurology", "maternity", "orthopaedics"]
DISCOVERIES = ["a new species of freshwater crab", "a comet fragment in ancient sediment",
               "a bacterium that digests plastic", "the oldest known bronze tool in the region",
               "a gene linked to drought tolerance in barley", "a dwarf planet beyond Neptune",
               "a fossilised forest under the seabed", "a new antibiotic compound in soil",
               "a shipwreck from the 17th century", "an enzyme that speeds up cement curing"]
FESTIVALS = ["film", "jazz", "literature", "folk music", "theatre", "documentary", "animation", "photography"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
ROLES = ["councillor", "spokesperson", "an analyst", "resident", "union representative", "an economist",
         "shop owner", "professor", "campaigner", "local historian", "retired teacher", "an engineer"]


# -- the world ---------------------------------------------------------------------------------

@dataclass
class World:
    """The invented entities; a share of each is held back so that unplanted questions can name
    things that appear nowhere in the archive."""

    towns: list[str]
    people: list[str]
    companies: list[str]
    unseen_towns: list[str]
    unseen_people: list[str]
    unseen_companies: list[str]
    journalists: list[str]


def _split(rng: random.Random, names: list[str], held_back: float) -> tuple[list[str], list[str]]:
    names = sorted(set(names))
    rng.shuffle(names)
    cut = max(1, int(len(names) * held_back))
    return names[cut:], names[:cut]


def make_world(rng: random.Random) -> World:
    towns, unseen_towns = _split(rng, [h + t for h in TOWN_HEADS for t in TOWN_TAILS], 0.1)
    people, unseen_people = _split(rng, [f"{f} {h}{t}" for f in FIRST_NAMES for h in SURNAME_HEADS
                                         for t in SURNAME_TAILS], 0.1)
    companies, unseen_companies = _split(rng, [f"{h} {k}" for h in COMPANY_HEADS for k in COMPANY_KINDS], 0.1)
    journalists, people = people[:60], people[60:]
    return World(towns, people, companies, unseen_towns, unseen_people, unseen_companies, journalists)


# -- slots ---------------------------------------------------------------------------------------

def money(rng: random.Random, low: float = 1.5, high: float = 240.0) -> str:
    value = rng.uniform(low, high)
    currency = rng.choice(["euros", "dollars", "pounds"])
    return f"{value:.1f} million {currency}" if value < 100 else f"{int(value)} million {currency}"


def count(rng: random.Random, low: int, high: int) -> str:
    return f"{rng.randint(low, high):,}"


def day_month(rng: random.Random) -> tuple[str, list[str]]:
    day, month = rng.randint(1, 28), rng.choice(MONTHS)
    return f"{day} {month}", [f"{day} {month}", f"{month} {day}"]


# -- planted facts ----------------------------------------------------------------------------------

@dataclass
class FactKind:
    """A kind of fact a beat can plant: its key (unique in the archive), its sentence and its question."""

    name: str
    answer_type: str
    key_slots: tuple[str, ...]
    sentence: str
    questions: list[str]
    answer: Callable[[random.Random], tuple[str, list[str]]]
    unseen_key: Callable[[random.Random, World], tuple] | None = None
    """Values for `key_slots` that name entities appearing nowhere in the archive."""
    group: str | None = None
    """Kinds whose sentences reveal each other's answers share a group: one fact per key and group."""

    def full_key(self, slots: dict) -> tuple:
        return (self.group or self.name,) + tuple(slots[name] for name in self.key_slots)


@dataclass
class Beat:
    name: str
    titles: list[str]
    lead: list[str]
    body: list[str]
    facts: list[FactKind]
    context: Callable[[random.Random, World], dict]


def _context_council(rng, world):
    return {"town": rng.choice(world.towns), "facility": rng.choice(FACILITIES)}


def _context_company(rng, world):
    return {"company": rng.choice(world.companies), "town": rng.choice(world.towns), "plant": rng.choice(PLANTS)}


def _context_football(rng, world):
    home, away = rng.sample(world.towns, 2)
    return {"club": f"{home} {rng.choice(CLUB_KINDS)}", "rival": f"{away} {rng.choice(CLUB_KINDS)}",
            "player": rng.choice(world.people), "town": home}


def _context_storm(rng, world):
    return {"storm": rng.choice(STORMS), "town": rng.choice(world.towns)}


def _context_court(rng, world):
    return {"defendant": rng.choice(world.people), "judge": rng.choice(world.people),
            "crime": rng.choice(CRIMES), "town": rng.choice(world.towns)}


def _context_election(rng, world):
    return {"town": rng.choice(world.towns), "winner": rng.choice(world.people),
            "runner": rng.choice(world.people)}


def _context_hospital(rng, world):
    town = rng.choice(world.towns)
    return {"town": town, "hospital": f"{town} General Hospital", "illness": rng.choice(ILLNESSES),
            "department": rng.choice(DEPARTMENTS)}


def _context_research(rng, world):
    return {"town": rng.choice(world.towns), "discovery": rng.choice(DISCOVERIES)}


def _context_strike(rng, world):
    return {"company": rng.choice(world.companies), "town": rng.choice(world.towns)}


def _context_festival(rng, world):
    town = rng.choice(world.towns)
    return {"town": town, "festival": f"{town} {rng.choice(FESTIVALS)} festival"}


def _person(rng, world):
    name = rng.choice(world.people)
    return name, [name, name.split()[-1]]


BEATS: list[Beat] = [
    Beat(
        "council",
        ["{town} approves plans for new {facility}", "Council backs {facility} project in {town}",
         "{town} councillors clash over {facility} costs", "Residents split on {town}'s {facility} plans"],
        ["Councillors in {town} have voted on a long-debated plan for a new {facility}, ending months of "
         "argument over its cost and location.",
         "The future of the {facility} in {town} was settled at a tense council meeting on {weekday} evening."],
        ["Supporters said the {facility} was overdue and would serve the town for decades.",
         "Opponents argued that the money would be better spent on road repairs and social housing.",
         "A public consultation last year drew more than {n_small} written responses.",
         "The council's finance committee warned that borrowing costs had risen sharply since the plan was "
         "first drafted.",
         "Construction is expected to be carried out in several phases to limit disruption in the town "
         "centre.",
         "Neighbouring {town2} completed a similar project three years ago, though it ran over budget.",
         "Some residents questioned whether the site was suitable, citing traffic and parking concerns."],
        [
            FactKind("council_cost", "number",
                     ("town", "facility"),
                     "Councillors in {town} voted to spend {answer} on the new {facility}.",
                     ["How much will {town} spend on its new {facility}?",
                      "What is the budget for the new {facility} in {town}?"],
                     lambda rng: (lambda m: (m, [m]))(money(rng)),
                     lambda rng, w: (rng.choice(w.unseen_towns), rng.choice(FACILITIES))),
            FactKind("council_opening", "date",
                     ("town", "facility"),
                     "The new {facility} in {town} is scheduled to open on {answer}, officials said.",
                     ["When is the new {facility} in {town} due to open?",
                      "On what date will {town}'s new {facility} open?"],
                     day_month,
                     lambda rng, w: (rng.choice(w.unseen_towns), rng.choice(FACILITIES))),
        ],
        _context_council,
    ),
    Beat(
        "company",
        ["{company} beats forecasts as sales rise", "{company} shake-up continues",
         "{company} expands with new {plant}", "Investors cheer {company} results"],
        ["{company} on {weekday} set out its plans for the coming year, as the group tries to win back "
         "investors after a difficult period.",
         "Shares in {company} moved sharply in early trading after the company published its latest results."],
        ["Analysts had expected weaker figures because of high energy prices and cautious consumers.",
         "The group said demand had recovered faster than expected in its home market.",
         "{company} employs about {n_small} people across the region.",
         "A spokesperson declined to comment on speculation about a possible merger.",
         "The company has been criticised by unions over pay and working conditions.",
         "Its main competitor reported flat sales for the same period.",
         "The board said it would continue to invest in automation and staff training."],
        [
            FactKind("company_revenue", "number",
                     ("company",),
                     "{company} reported quarterly revenue of {answer}, up from a year earlier.",
                     ["What quarterly revenue did {company} report?",
                      "How much revenue did {company} make in the quarter?"],
                     lambda rng: (lambda m: (m, [m]))(money(rng, 20, 900)),
                     lambda rng, w: (rng.choice(w.unseen_companies),)),
            FactKind("company_ceo", "name",
                     ("company",),
                     "{company} named {answer} as its new chief executive, with effect from next month.",
                     ["Who did {company} name as its chief executive?",
                      "Who is the new chief executive of {company}?"],
                     None,
                     lambda rng, w: (rng.choice(w.unseen_companies),)),
            FactKind("company_plant", "place",
                     ("company", "plant"),
                     "{company} will build its new {plant} in {answer}, the company confirmed.",
                     ["Where will {company} build its new {plant}?",
                      "In which town is {company} putting its new {plant}?"],
                     None,
                     lambda rng, w: (rng.choice(w.unseen_companies), rng.choice(PLANTS))),
        ],
        _context_company,
    ),
    Beat(
        "football",
        ["{club} edge past {rival}", "Late drama as {club} meet {rival}", "{club} transfer news",
         "{club} boss praises squad after {rival} clash"],
        ["{club} and {rival} met on {weekday} in a match both sides badly needed to win.",
         "It was a night of high tension as {club} hosted {rival} in front of a full stadium."],
        ["The first half was scrappy, with few clear chances at either end.",
         "The visitors had a goal ruled out for offside shortly after the break.",
         "The manager said afterwards that he was proud of the way his players had responded.",
         "The result leaves the club {n_tiny} points from the top of the table.",
         "Fans sang throughout the second half despite the rain.",
         "The club has struggled with injuries to key defenders this season."],
        [
            FactKind("match_winner", "name",
                     ("club", "rival"),
                     "{answer} scored the winning goal as {club} beat {rival} 2-1.",
                     ["Who scored the winner when {club} beat {rival}?",
                      "Which player got the winning goal for {club} against {rival}?"],
                     None,
                     lambda rng, w: (f"{rng.choice(w.unseen_towns)} United", f"{rng.choice(w.towns)} City")),
            FactKind("transfer_fee", "number",
                     ("club", "player"),
                     "{club} signed {player} for a fee of {answer}.",
                     ["How much did {club} pay to sign {player}?",
                      "What fee did {club} pay for {player}?"],
                     lambda rng: (lambda m: (m, [m]))(money(rng, 1.5, 90)),
                     lambda rng, w: (f"{rng.choice(w.towns)} Rovers", rng.choice(w.unseen_people))),
        ],
        _context_football,
    ),
    Beat(
        "storm",
        ["Storm {storm} batters {town}", "Clean-up begins in {town} after Storm {storm}",
         "Storm {storm}: {town} counts the cost", "Warnings as Storm {storm} nears"],
        ["Storm {storm} swept through {town} overnight, tearing down trees and flooding low-lying streets.",
         "Residents of {town} were urged to stay indoors on {weekday} as Storm {storm} arrived."],
        ["Emergency services said they had received hundreds of calls.",
         "Several roads were closed because of fallen trees and debris.",
         "Forecasters said the storm would weaken as it moved inland.",
         "Schools in the area were closed for the day as a precaution.",
         "Insurers said it was too early to estimate the cost of the damage.",
         "Volunteers handed out sandbags at the town hall."],
        [
            FactKind("storm_gusts", "number",
                     ("storm", "town"),
                     "Storm {storm} brought wind gusts of up to {answer} to {town}.",
                     ["How strong were the wind gusts in {town} during Storm {storm}?",
                      "What wind speeds did Storm {storm} reach in {town}?"],
                     lambda rng: (lambda v: (f"{v} kilometres per hour", [f"{v} kilometres per hour"]))(
                         rng.randint(70, 190)),
                     lambda rng, w: (rng.choice(STORMS), rng.choice(w.unseen_towns))),
            FactKind("storm_power", "number",
                     ("storm", "town"),
                     "Officials said {answer} homes in {town} lost power during Storm {storm}.",
                     ["How many homes in {town} lost power in Storm {storm}?",
                      "How many households were left without electricity in {town} by Storm {storm}?"],
                     lambda rng: (lambda v: (v, [v]))(count(rng, 1200, 98000)),
                     lambda rng, w: (rng.choice(STORMS), rng.choice(w.unseen_towns),)),
        ],
        _context_storm,
    ),
    Beat(
        "court",
        ["{defendant} sentenced in {crime} case", "Verdict in {town} {crime} trial",
         "Court hears final arguments in {crime} case", "{defendant} trial ends"],
        ["A court in {town} has delivered its verdict in a {crime} case that has drawn wide attention.",
         "The trial of {defendant}, accused of {crime}, came to an end on {weekday}."],
        ["Prosecutors said the scheme had been carefully planned over several years.",
         "The defence argued that the evidence against the accused was circumstantial.",
         "Several witnesses gave evidence over the course of the trial.",
         "Lawyers for the defendant said they were considering an appeal.",
         "The case was adjourned twice last year because of delays in disclosing evidence.",
         "Victims' families were in court to hear the decision."],
        [
            FactKind("court_sentence", "number",
                     ("defendant",),
                     "The court sentenced {defendant} to {answer} in prison for {crime}.",
                     ["How long was {defendant} sentenced to?",
                      "What prison sentence did {defendant} receive?"],
                     lambda rng: (lambda v: (f"{v} years", [f"{v} years"]))(rng.randint(2, 19)),
                     lambda rng, w: (rng.choice(w.unseen_people),)),
            FactKind("court_judge", "name",
                     ("defendant",),
                     "Judge {answer} presided over the trial of {defendant}.",
                     ["Which judge presided over the trial of {defendant}?",
                      "Who was the judge at {defendant}'s trial?"],
                     None,
                     lambda rng, w: (rng.choice(w.unseen_people),)),
        ],
        _context_court,
    ),
    Beat(
        "election",
        ["{town} elects a new mayor", "Mayoral race in {town} goes to the wire",
         "{town} votes: what the result means", "New era at {town} town hall"],
        ["Voters in {town} went to the polls on {weekday} to choose a new mayor after a bitter campaign.",
         "The race for mayor of {town} ended after a campaign dominated by housing and transport."],
        ["Turnout was higher than at the previous election, officials said.",
         "The campaign was dominated by rising rents and the state of local roads.",
         "{runner} conceded defeat late in the evening and congratulated the winner.",
         "Both main candidates had promised to freeze local taxes.",
         "Counting was delayed by a recount in one district.",
         "Observers said the result reflected frustration with the outgoing administration."],
        [
            FactKind("election_share", "number",
                     ("town",),
                     "{winner} won the mayoral election in {town} with {answer} of the vote.",
                     ["What share of the vote did the winner of the {town} mayoral election get?",
                      "With what percentage was the new mayor of {town} elected?"],
                     lambda rng: (lambda v: (f"{v} percent", [f"{v} percent", f"{v}%"]))(
                         f"{rng.uniform(40, 72):.1f}"),
                     lambda rng, w: (rng.choice(w.unseen_towns),), group="election"),
            FactKind("election_winner", "name",
                     ("town",),
                     "{answer} was elected mayor of {town}, defeating {runner}.",
                     ["Who was elected mayor of {town}?",
                      "Who won the race to become mayor of {town}?"],
                     None,
                     lambda rng, w: (rng.choice(w.unseen_towns),), group="election"),
        ],
        _context_election,
    ),
    Beat(
        "hospital",
        ["Pressure grows on {hospital}", "{illness} cases rise in {town}", "{hospital} under strain",
         "Doctors in {town} warn over {illness}"],
        ["Doctors at {hospital} say they are seeing more patients than at any time in recent years.",
         "Health officials in {town} have issued new advice after a rise in cases of {illness}."],
        ["Waiting times in the emergency department have grown steadily since the spring.",
         "The hospital has asked patients with minor complaints to see their family doctor instead.",
         "Staff shortages have made it harder to keep all wards open.",
         "Officials urged people to make sure their vaccinations were up to date.",
         "A new wing is due to open next year, adding {n_small} beds.",
         "Nurses' unions said their members were exhausted."],
        [
            FactKind("hospital_cases", "number",
                     ("hospital", "illness"),
                     "{hospital} treated {answer} patients for {illness} last month.",
                     ["How many patients with {illness} did {hospital} treat last month?",
                      "How many {illness} patients were treated at {hospital}?"],
                     lambda rng: (lambda v: (v, [v]))(count(rng, 40, 4800)),
                     lambda rng, w: (f"{rng.choice(w.unseen_towns)} General Hospital", rng.choice(ILLNESSES))),
            FactKind("hospital_head", "name",
                     ("hospital", "department"),
                     "Dr {answer}, who heads the {department} department at {hospital}, said staff were "
                     "coping.",
                     ["Who heads the {department} department at {hospital}?",
                      "Who is in charge of {department} at {hospital}?"],
                     None,
                     lambda rng, w: (f"{rng.choice(w.unseen_towns)} General Hospital", rng.choice(DEPARTMENTS))),
        ],
        _context_hospital,
    ),
    Beat(
        "research",
        ["Scientists in {town} report {discovery}", "University of {town} team makes surprise find",
         "Breakthrough claimed by {town} researchers", "What the {town} discovery means"],
        ["Researchers at the University of {town} say they have found {discovery}.",
         "A team of scientists from the University of {town} published results this week that they say "
         "could change their field."],
        ["The findings were published in a peer-reviewed journal.",
         "Other scientists cautioned that the results would need to be repeated independently.",
         "The project was funded by a national research council and private donors.",
         "The team spent {n_tiny} years collecting samples before reaching its conclusion.",
         "The university plans to open a public exhibition about the work.",
         "Students from several countries took part in the fieldwork."],
        [
            FactKind("research_lead", "name",
                     ("town", "discovery"),
                     "The team that found {discovery} was led by {answer} of the University of {town}.",
                     ["Who led the University of {town} team that found {discovery}?",
                      "Which researcher headed the {town} study on {discovery}?"],
                     None,
                     lambda rng, w: (rng.choice(w.unseen_towns), rng.choice(DISCOVERIES))),
            FactKind("research_grant", "number",
                     ("town", "discovery"),
                     "The work on {discovery} at the University of {town} received a grant of {answer}.",
                     ["How much grant money did the University of {town} get for the work on {discovery}?",
                      "What was the grant for the {town} research on {discovery}?"],
                     lambda rng: (lambda m: (m, [m]))(money(rng, 1.5, 30)),
                     lambda rng, w: (rng.choice(w.unseen_towns), rng.choice(DISCOVERIES),)),
        ],
        _context_research,
    ),
    Beat(
        "strike",
        ["Workers at {company} vote to strike", "{company} strike: what to expect",
         "Talks fail at {company}", "Union escalates dispute with {company}"],
        ["Workers at {company} have voted to walk out in a dispute over pay and conditions.",
         "Union leaders at {company} said on {weekday} that talks with management had broken down."],
        ["Management said the union's demands were unaffordable.",
         "The union says wages have fallen far behind inflation over the past two years.",
         "Customers were advised to expect delays and to check for updates.",
         "An independent mediator has offered to help the two sides resume talks.",
         "The last strike at the company, {n_tiny} years ago, lasted more than a week.",
         "Ministers urged both sides to return to the negotiating table."],
        [
            FactKind("strike_days", "number",
                     ("company",),
                     "Workers at {company} will strike for {answer}, the union said.",
                     ["How many days will workers at {company} strike?",
                      "How long is the planned strike at {company}?"],
                     lambda rng: (lambda v: (f"{v} days", [f"{v} days"]))(rng.randint(2, 14)),
                     lambda rng, w: (rng.choice(w.unseen_companies),)),
            FactKind("strike_start", "date",
                     ("company",),
                     "The walkout at {company} is due to begin on {answer}.",
                     ["When does the strike at {company} begin?",
                      "On what date will the walkout at {company} start?"],
                     day_month,
                     lambda rng, w: (rng.choice(w.unseen_companies),)),
        ],
        _context_strike,
    ),
    Beat(
        "festival",
        ["{festival} draws record crowds", "Winners announced at the {festival}",
         "The {festival} at {n_tiny}0", "Stars gather for the {festival}"],
        ["The {festival} closed on {weekday} after a week of sold-out events.",
         "Thousands of visitors came to {town} for this year's {festival}."],
        ["Organisers said it had been one of the most successful editions in the festival's history.",
         "Local hotels and restaurants reported a busy week.",
         "Critics praised the programme for its range of new voices.",
         "Tickets for the closing night sold out within hours.",
         "The festival receives funding from the town council and several sponsors.",
         "Next year's edition is already being planned."],
        [
            FactKind("festival_prize", "name",
                     ("festival",),
                     "The top prize at the {festival} went to {answer}.",
                     ["Who won the top prize at the {festival}?",
                      "Who took the main award at the {festival}?"],
                     None,
                     lambda rng, w: (f"{rng.choice(w.unseen_towns)} {rng.choice(FESTIVALS)} festival",)),
            FactKind("festival_visitors", "number",
                     ("festival",),
                     "The {festival} sold {answer} tickets this year, organisers said.",
                     ["How many tickets did the {festival} sell?",
                      "How many tickets were sold for the {festival}?"],
                     lambda rng: (lambda v: (v, [v]))(count(rng, 800, 60000)),
                     lambda rng, w: (f"{rng.choice(w.unseen_towns)} {rng.choice(FESTIVALS)} festival",)),
        ],
        _context_festival,
    ),
]

GENERIC = [
    "{person}, {a_role}, said the decision had been expected for several weeks.",
    "The announcement comes amid growing concern about rising costs across the region.",
    "Critics say the plans do not go far enough, while supporters call them a sensible compromise.",
    "Business owners in the area told the {outlet} they were cautiously optimistic.",
    "Further details are expected to be published later this month.",
    "It was not immediately clear how the measures would be paid for.",
    "\u201cWe have listened carefully to what people told us,\u201d {person} said in a statement.",
    "Opposition politicians called for an independent review.",
    "The figures were broadly in line with what most observers had predicted.",
    "Similar questions have been raised in {town2} and {town3} in recent months.",
    "The issue is expected to come up again at the next regional assembly.",
    "{person}, {a_role} who has followed the matter closely, said the details would matter most.",
    "Officials did not respond to a request for comment by the time of publication.",
    "Earlier this year the regional government set aside money for projects of this kind.",
    "Not everyone was convinced. \u201cWe have heard promises like this before,\u201d said {person}, {a_role}.",
    "According to figures published in {month}, the region's population has grown by {n_tiny} percent in a "
    "decade.",
    "The debate has divided opinion in the town for much of the past year.",
    "A review of the decision is scheduled for the autumn.",
    "Local newspapers have followed the story closely since it first emerged in {month}.",
    "{person} said the priority now was to make sure that people were kept informed.",
    "The proposal has been through several rounds of consultation since it was first put forward.",
    "Supporters point to the success of comparable schemes elsewhere in the country.",
    "A petition calling for a rethink has gathered several hundred signatures.",
    "\u201cThis is a moment that will shape the next decade,\u201d said {person}, {a_role}.",
    "The regional chamber of commerce welcomed the news but asked for more clarity on timing.",
    "Some of the figures quoted during the debate were later disputed.",
    "Weather and supply problems have delayed similar work in other parts of the region.",
    "Residents who attended a public meeting on the subject raised questions about noise and traffic.",
    "The government has said it wants decisions of this kind to be taken closer to the people they affect.",
    "{person} told reporters that the details were still being worked out.",
    "A spokesperson for the regional authority said it would study the proposals carefully.",
    "Campaigners said they would keep up the pressure until their concerns were addressed.",
    "Inflation has pushed up the cost of materials and labour over the past two years.",
    "In a statement, the mayor's office said it remained committed to transparency.",
    "The story has been widely shared on social media, where reactions have been mixed.",
    "An earlier version of the plan was withdrawn after objections from environmental groups.",
    "{person}, {a_role}, said younger people in particular felt their views had been ignored.",
    "Details of the agreement have not been made public.",
    "The matter is likely to be raised again when the annual accounts are published.",
    "\u201cPeople want to see results, not more reports,\u201d {person} said.",
    "Local radio stations reported long queues and heavy traffic throughout the day.",
    "There was no immediate reaction from the national government.",
    "Several smaller towns nearby are watching the outcome closely.",
    "The region has seen a series of similar disputes over the past decade.",
    "{person} said she had lived in {town2} all her life and had never seen anything like it.",
]


# -- generating -------------------------------------------------------------------------------------

@dataclass
class PlantedFact:
    kind: FactKind
    key: tuple
    slots: dict
    sentence: str
    answer: str
    accepted: list[str]
    article_url: str = ""


@dataclass
class SyntheticArchive:
    articles: list[dict]
    questions: list[EvalQuestion]
    facts: list[PlantedFact] = field(default_factory=list)
    unplanted: dict[str, tuple[FactKind, dict]] = field(default_factory=dict)
    """Question id -> the kind of fact it asks for and the key it names (that no article holds)."""


def _fill(template: str, slots: dict) -> str:
    return template.format(**slots)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60]


def _plant(rng: random.Random, world: World, beat: Beat, context: dict, used: set[tuple]) -> PlantedFact | None:
    kinds = list(beat.facts)
    rng.shuffle(kinds)
    for kind in kinds:
        key = kind.full_key(context)
        if key in used:
            continue
        if kind.answer is None:
            answer, accepted = _person(rng, world)
            if kind.answer_type == "place":
                answer = rng.choice(world.towns)
                accepted = [answer]
        else:
            answer, accepted = kind.answer(rng)
        slots = dict(context, answer=answer)
        used.add(key)
        return PlantedFact(kind, key, slots, _fill(kind.sentence, slots), answer, accepted)
    return None


def generate(articles: int, seed: int = 7, *, questions: int = 200, unplanted: int = 50,
             start: dt.date = dt.date(2019, 1, 1), end: dt.date = dt.date(2024, 12, 31)) -> SyntheticArchive:
    """`articles` articles, `questions` questions about planted facts and `unplanted` about keys
    never planted (half naming known entities, half naming entities that appear nowhere)."""
    rng = random.Random(seed)
    world = make_world(rng)
    used: set[tuple] = set()
    records: list[dict] = []
    facts: list[PlantedFact] = []
    span = (end - start).days
    for number in range(articles):
        beat = BEATS[number % len(BEATS)] if number < len(BEATS) else rng.choice(BEATS)
        context = beat.context(rng, world)
        town2, town3 = rng.sample(world.towns, 2)
        outlet, domain = rng.choice(OUTLETS)
        published = start + dt.timedelta(days=rng.randint(0, span))
        slots = dict(context, town2=town2, town3=town3, outlet=outlet, weekday=rng.choice(WEEKDAYS),
                     month=rng.choice(MONTHS), n_small=count(rng, 120, 4000), n_tiny=rng.randint(2, 9))
        planted = [p for p in (_plant(rng, world, beat, context, used) for _ in range(rng.choice([1, 1, 2]))) if p]
        sentences = [_fill(rng.choice(beat.lead), slots)]
        pool = beat.body + GENERIC
        for template in rng.sample(pool, rng.randint(16, len(pool))):
            role = rng.choice(ROLES)
            a_role = role if role.startswith(("a ", "an ")) else f"a {role}"
            sentences.append(_fill(template, dict(slots, person=rng.choice(world.people), a_role=a_role)))
        for fact in planted:
            sentences.insert(rng.randint(1, len(sentences)), fact.sentence)
        paragraphs, current = [], []
        for sentence in sentences:
            current.append(sentence)
            if len(current) >= rng.randint(1, 3):
                paragraphs.append(" ".join(current))
                current = []
        if current:
            paragraphs.append(" ".join(current))
        title = _fill(rng.choice(beat.titles), slots)
        url = f"https://{domain}/{published:%Y/%m/%d}/{_slug(title)}-{number:06d}"
        for fact in planted:
            fact.article_url = url
            facts.append(fact)
        records.append({
            "title": title, "body": "\n\n".join(paragraphs), "url": url, "source": outlet,
            "author": rng.choice(world.journalists), "published_at": published.isoformat(),
            "category": beat.name, "attribution": ATTRIBUTION,
        })
    archive = SyntheticArchive(records, _questions(rng, facts, questions), facts)
    archive.questions += _unplanted(rng, world, facts, used, unplanted, archive.unplanted)
    return archive


def _questions(rng: random.Random, facts: list[PlantedFact], wanted: int) -> list[EvalQuestion]:
    chosen = rng.sample(facts, min(wanted, len(facts)))
    questions = []
    for index, fact in enumerate(chosen, start=1):
        questions.append(EvalQuestion(
            id=f"syn-{index:04d}", question=_fill(rng.choice(fact.kind.questions), fact.slots),
            answers=fact.accepted, evidence=[fact.article_url], passages=[fact.sentence],
            type=fact.kind.answer_type, attribution=ATTRIBUTION,
        ))
    return questions


def _unplanted(rng: random.Random, world: World, facts: list[PlantedFact], used: set[tuple],
               wanted: int, record: dict[str, tuple[FactKind, dict]]) -> list[EvalQuestion]:
    """Alternately: a planted fact with one part of its key swapped for another entity the archive
    mentions (the entity is known, the fact was never planted), and a key naming entities that appear
    nowhere in the archive."""
    kinds = [kind for beat in BEATS for kind in beat.facts]
    mentioned: dict[str, list[str]] = {}
    for fact in facts:
        for slot in fact.kind.key_slots:
            mentioned.setdefault(slot, []).append(fact.slots[slot])
    mentioned = {slot: sorted(set(values)) for slot, values in mentioned.items()}
    questions: list[EvalQuestion] = []
    seen: set[tuple] = set()
    attempts = 0
    while len(questions) < wanted and attempts < wanted * 200:
        attempts += 1
        if len(questions) % 2 == 0 and facts:
            fact = rng.choice(facts)
            kind, slots = fact.kind, dict(fact.slots)
            slot = rng.choice(kind.key_slots)
            slots[slot] = rng.choice(mentioned[slot])
            kind_type = "unplanted-known-entity"
        else:
            kind = rng.choice(kinds)
            slots = dict(zip(kind.key_slots, kind.unseen_key(rng, world)))
            kind_type = "unplanted-new-entity"
        key = kind.full_key(slots)
        if key in used or key in seen:
            continue
        seen.add(key)
        question_id = f"syn-none-{len(questions) + 1:04d}"
        record[question_id] = (kind, {name: slots[name] for name in kind.key_slots})
        questions.append(EvalQuestion(
            id=question_id, question=_fill(rng.choice(kind.questions), slots),
            evidence=[], type=kind_type, attribution=ATTRIBUTION,
        ))
    return questions


# -- writing ------------------------------------------------------------------------------------------

def write_archive(archive: SyntheticArchive, out_dir: Path | str, *, name: str = "synthetic") -> tuple[Path, Path]:
    """`corpus/NAME.jsonl` (what `newsdesk ingest` reads), `questions.jsonl` and a NOTICE."""
    out_dir = Path(out_dir)
    corpus_dir = out_dir / "corpus"
    corpus_dir.mkdir(parents=True, exist_ok=True)
    corpus = corpus_dir / f"{name}.jsonl"
    with corpus.open("w", encoding="utf-8") as handle:
        for record in archive.articles:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    questions = out_dir / "questions.jsonl"
    write_questions(questions, archive.questions)
    (out_dir / "NOTICE").write_text(
        f"{ATTRIBUTION}: {len(archive.articles)} articles, {len(archive.questions)} questions.\n"
        "Generated by newsdesk.synthetic_archive; every name, place and figure is invented.\n",
        encoding="utf-8")
    return corpus, questions
