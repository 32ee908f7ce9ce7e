"""One-sentence search (一句话办事) over the published bundles and matters.

People type what they want to get done, not the official name of a matter:
"我想开个饭店" has to find 开办餐饮店, "孩子出生要办什么" 新生儿出生一件事. The
search combines three things:

* word segmentation with jieba, its dictionary taught every name, keyword and
  synonym of the catalog, so a sentence becomes terms and filler words
  ("我想", "要办什么") drop out as stopwords;
* the synonym list in ``schemas/synonyms.json``: colloquial and official words
  for the same thing (饭店 / 餐饮, 上户口 / 出生登记, 卫生许可证 / 食品经营许可),
  kept as data so a service hall can extend it without touching code;
* pinyin (pypinyin), in full and as initials, so "canyin", "kfd" and
  homophone typos ("餐饮点") still land, and traditional characters (開飯店)
  meet their simplified keywords through the shared reading.

Each entry (a bundle or a matter) has weighted texts: names and keywords
weigh most, then the matters a bundle holds and a matter's result, then the
description. A query term scores the heaviest text that contains it, times its
rarity across entries (IDF); a keyword found whole in the sentence adds a
bonus. The index is built once per set of published versions and kept until
the next publication changes that set.
"""

from __future__ import annotations

import gc
import heapq
import json
import logging
import math
import re
import threading
import warnings
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from onething.catalog.definitions import Catalog
from onething.catalog.text import HAN, normalize, pinyin, sounds
from onething.publishing.directory import generation, listing
from onething.storage.models import PublishedService

with warnings.catch_warnings():
    # jieba 0.42 imports pkg_resources, which newer setuptools deprecates with a warning
    # at import; jieba works the same without it.
    warnings.filterwarnings("ignore", message=".*pkg_resources", category=UserWarning)
    warnings.filterwarnings("ignore", message=".*pkg_resources", category=DeprecationWarning)
    import jieba

# jieba logs every dictionary load at DEBUG on stderr.
jieba.setLogLevel(logging.WARNING)

# Weights of the texts of an entry: what it is called beats what it is about.
NAME, KEYWORD, PART, RESULT, DEPARTMENT, DESCRIPTION = 3.0, 2.6, 1.2, 1.2, 0.6, 0.7
SYNONYM = 0.75  # a synonym of a typed word counts a little less than the word itself
PINYIN = 0.6  # a match by reading only: a typo or another script
SINGLE = 0.3  # one character alone ("店", "证") says little
WHOLE_KEYWORD = 1.6  # a whole keyword or name inside the sentence

_LATIN = re.compile(r"[a-z0-9]+")


def _synonyms_path() -> Path:
    from onething.catalog.loader import default_root

    return default_root() / "synonyms.json"


@lru_cache(maxsize=4)
def load_synonyms(path: str | None = None) -> dict:
    """The synonym groups and stopwords of schemas/synonyms.json, normalized."""
    data = json.loads(Path(path or _synonyms_path()).read_text(encoding="utf-8"))
    groups = [[normalize(word) for word in group] for group in data.get("groups", [])]
    return {"groups": groups, "stopwords": {normalize(w) for w in data.get("stopwords", [])}}


# --- the segmenter ---------------------------------------------------------------------------

_TOKENIZER = jieba.Tokenizer()
_TOKENIZER_LOCK = threading.Lock()
_TAUGHT: set[str] = set()


def teach(words: Iterable[str]) -> None:
    """Add words to the segmenter's dictionary (once each), so they stay whole."""
    with _TOKENIZER_LOCK:
        for word in words:
            if len(word) > 1 and HAN.search(word) and word not in _TAUGHT:
                _TOKENIZER.add_word(word, freq=2000)
                _TAUGHT.add(word)


def segment(text: str) -> list[str]:
    """Split a sentence into words (jieba's accurate mode)."""
    return [word.strip() for word in _TOKENIZER.cut(text) if word.strip()]


def parts(word: str) -> list[str]:
    """The shorter words inside a long word (jieba's search mode), without the word itself."""
    return [p for p in _TOKENIZER.cut_for_search(word) if p.strip() and p != word]


# --- entries and the index -------------------------------------------------------------------

# The weight of each role of a service's texts (publishing.directory.ROLES).
WEIGHTS = {"name": NAME, "keyword": KEYWORD, "part": PART, "result": RESULT,
           "department": DEPARTMENT, "description": DESCRIPTION}


@dataclass
class Entry:
    """One searchable guide: a bundle or a matter, with its weighted texts."""

    code: str
    kind: str
    name: Any
    description: Any
    texts: list[tuple[float, str]] = field(default_factory=list)
    # Names and keywords, whole: found inside a sentence they weigh extra.
    phrases: list[str] = field(default_factory=list)
    # The pinyin of each phrase, in full and as initials.
    spellings: list[str] = field(default_factory=list)
    letters: list[str] = field(default_factory=list)
    # The readings of its names, keywords and parts, character by character (text.sounds).
    sound: str = ""
    # A bundle's kind: one_thing (一件事), one_class (一类事) or one_industry_one_licence.
    variety: str | None = None

    @classmethod
    def of(cls, row: dict) -> Entry:
        """The entry of a directory row (publishing.directory.listing)."""
        search = row["search"]
        return cls(row["code"], row["kind"], row["name"], row.get("description"),
                   texts=[(WEIGHTS[role], text) for role, text in search["texts"]],
                   phrases=search["phrases"], spellings=search["spellings"],
                   letters=search["letters"], variety=search.get("variety"))


@dataclass(frozen=True)
class Hit:
    """A search result: the entry and its score."""

    entry: Entry
    score: float

    @property
    def code(self) -> str:
        """The code of the guide found."""
        return self.entry.code


class _Haystack:
    """Many short strings joined into one, to find every one holding a substring at C speed."""

    def __init__(self, strings: list[str]):
        self.starts: list[int] = []
        position = 1
        for string in strings:
            self.starts.append(position)
            position += len(string) + 1
        # Each string follows a newline, so "\n" + a prefix finds the strings starting with it.
        self.text = "".join("\n" + string for string in strings)

    def holding(self, needle: str, prefix: bool = False) -> set[int]:
        """The numbers of the strings holding the needle (or starting with it)."""
        found: set[int] = set()
        if not needle or "\n" in needle:
            return found
        needle = "\n" + needle if prefix else needle
        position = self.text.find(needle)
        while position >= 0:
            found.add(bisect_right(self.starts, position + prefix) - 1)
            position = self.text.find(needle, position + 1)
        return found


class SearchIndex:
    """Entries with their texts, readings and term statistics, ready to rank a query.

    A query costs what its words hold, not what the catalog holds: a term is looked for
    in the entries holding each of its characters (a reading, each of its syllables),
    a phrase by the substrings of the sentence, and typed pinyin in one long string of
    every name's pinyin, searched at C speed.
    """

    def __init__(self, entries: list[Entry], synonyms: dict):
        self.entries = entries
        self.stopwords = synonyms["stopwords"]
        self.groups: dict[str, set[str]] = {}
        for group in synonyms["groups"]:
            for word in group:
                self.groups.setdefault(word, set()).update(w for w in group if w != word)
        teach([*self.groups, *(p for e in entries for p in e.phrases)])
        self._by_phrase: dict[str, set[int]] = {}
        spellings: list[str] = []
        letters: list[str] = []
        self._spelling_owner: list[int] = []
        self._letters_owner: list[int] = []
        # Which entries hold a character, and which a syllable: a rare term is looked for
        # only in the entries holding all of its characters.
        self._by_char: defaultdict[str, list[int]] = defaultdict(list)
        self._by_syllable: defaultdict[str, list[int]] = defaultdict(list)
        self._han_texts = [[(w, t) for w, t in entry.texts if HAN.search(t)]
                           for entry in entries]
        for number, entry in enumerate(entries):
            entry.sound = "|".join(sounds(t) for w, t in entry.texts
                                   if w >= PART and HAN.search(t))
            for char in set("".join(t for _, t in entry.texts)):
                self._by_char[char].append(number)
            for reading in set(entry.sound.split()):
                self._by_syllable[reading].append(number)
            for phrase in entry.phrases:
                if len(phrase) > 1:
                    self._by_phrase.setdefault(phrase, set()).add(number)
            spellings += entry.spellings
            self._spelling_owner += [number] * len(entry.spellings)
            letters += entry.letters
            self._letters_owner += [number] * len(entry.letters)
        self._longest_phrase = max(map(len, self._by_phrase), default=0)
        self._spellings = _Haystack(spellings)
        self._letters = _Haystack(letters)
        # Per term: the entries holding it with the weight it scores there. A term's
        # holdings are kept for the next query asking it, up to this many terms.
        self._holding: dict[str, dict[int, float]] = {}
        self._sounding: dict[str, frozenset[int]] = {}

    TERMS_KEPT = 4096

    @property
    def codes(self) -> list[str]:
        """The codes of every entry."""
        return [entry.code for entry in self.entries]

    @staticmethod
    def _narrowed(table: dict[str, list[int]], keys: Iterable[str]) -> set[int]:
        """The entries listed under every key: the rarest key's list, intersected."""
        lists = sorted((table.get(key, ()) for key in set(keys)), key=len)
        if not lists:
            return set()
        found = set(lists[0])
        for other in lists[1:]:
            found.intersection_update(other)
        return found

    def _holders(self, term: str) -> dict[int, float]:
        """The entries one of whose texts contains the term, with its weight there."""
        found = self._holding.get(term)
        if found is None:
            weights: dict[int, list[float]] = {}
            # A Chinese term is only looked for in texts with Chinese in them.
            texts = self._han_texts if HAN.search(term) else [e.texts for e in self.entries]
            for number in self._narrowed(self._by_char, term):
                held = [w for w, t in texts[number] if term in t]
                if held:
                    weights[number] = held
            # The heaviest text counts; being in several texts adds a little.
            found = {number: max(held) + 0.1 * min(len(held), 4)
                     for number, held in weights.items()}
            if len(self._holding) > self.TERMS_KEPT:
                self._holding.clear()
            self._holding[term] = found
        return found

    def _homophones(self, term: str) -> frozenset[int]:
        """The entries whose names, keywords or parts read like the term (a typo, a script)."""
        if not (HAN.search(term) and len(term) > 1):
            return frozenset()
        found = self._sounding.get(term)
        if found is None:
            spoken = sounds(term)
            found = frozenset(n for n in self._narrowed(self._by_syllable, spoken.split())
                              if spoken in self.entries[n].sound)
            if len(self._sounding) > self.TERMS_KEPT:
                self._sounding.clear()
            self._sounding[term] = found
        return found

    def _rarity(self, term: str) -> float:
        count = len(self._holders(term))
        return math.log(1 + len(self.entries) / count) if count else 0.0

    def terms(self, query: str) -> list[dict[str, float]]:
        """The concepts of a query, each a word with its synonyms and their weights.

        Filler words drop out. One concept scores once, by its best variant, so a word
        with twenty synonyms does not outweigh a word with none.
        """
        text = normalize(query)
        concepts: dict[frozenset, dict[str, float]] = {}

        def add(word: str) -> None:
            if not word or word in self.stopwords:
                return
            variants = {word: 1.0, **{other: SYNONYM for other in self.groups.get(word, ())}}
            concept = concepts.setdefault(frozenset(variants), {})
            for variant, weight in variants.items():
                if HAN.fullmatch(variant) and len(variant) == 1:
                    weight *= SINGLE
                concept[variant] = max(concept.get(variant, 0.0), weight)

        for word in segment(text):
            if HAN.search(word):
                if len(word) > 2 and not self._known(word):
                    # A word no entry uses may still hold words they do: 开饭店 → 饭店.
                    for part in parts(word):
                        add(part)
                else:
                    add(word)
            else:
                for latin in _LATIN.findall(word):
                    add(latin)
        # Synonyms of every known word inside the sentence, however jieba cut it.
        for word in self.groups:
            if len(word) > 1 and word in text:
                add(word)
        return list(concepts.values())

    def _phrases_in(self, text: str) -> set[str]:
        """The phrases of any entry standing whole in the text."""
        found: set[str] = set()
        for start in range(len(text)):
            for end in range(start + 2, min(len(text), start + self._longest_phrase) + 1):
                if text[start:end] in self._by_phrase:
                    found.add(text[start:end])
        return found

    def search(self, query: str, limit: int = 10) -> list[Hit]:
        """The best entries for a sentence, best first; nothing for an empty query."""
        text = normalize(query)
        if not text:
            return []
        terms = self.terms(text)
        han = "".join(HAN.findall(text))
        stripped = "".join(t for t in segment(han) if t not in self.stopwords)
        reading = pinyin(stripped)
        latin = "".join(_LATIN.findall(text)) if not han else ""
        # Term by term, over the entries holding each: a query costs what its words hold.
        # A lone character (开, 店) says too little to stand alone: an entry needs a word of
        # two or more characters, a whole phrase or a reading, so that 开理发店 finds
        # nothing in a catalog without barbers rather than every 开办.
        scores: dict[int, float] = {}
        substantial: set[int] = set()
        for concept in terms:
            best: dict[int, tuple[float, str]] = {}
            for term, weight in concept.items():
                held = self._holders(term)
                if held:
                    rarity = self._rarity(term)
                    for number, strength in held.items():
                        found = (weight * rarity * strength, term)
                        if found > best.get(number, (0.0, "")):
                            best[number] = found
                for number in self._homophones(term):
                    if number not in held:
                        found = (weight * PINYIN * KEYWORD, term)
                        if found > best.get(number, (0.0, "")):
                            best[number] = found
            for number, (score, term) in best.items():
                scores[number] = scores.get(number, 0.0) + score
                if score > 0 and len(term) > 1:
                    substantial.add(number)
        # Bonuses: a whole name or keyword in the sentence, its reading, pinyin typed.
        bonuses: dict[int, float] = {}
        for phrase in self._phrases_in(text):
            for number in self._by_phrase[phrase]:
                bonuses[number] = bonuses.get(number, 0.0) + WHOLE_KEYWORD * min(len(phrase), 6)
        if len(reading) >= 4:
            for number in {self._spelling_owner[n] for n in self._spellings.holding(reading)}:
                bonuses[number] = bonuses.get(number, 0.0) + PINYIN * KEYWORD * 2
        if len(latin) >= 2:
            typed = {self._letters_owner[n] for n in self._letters.holding(latin, prefix=True)}
            if len(latin) >= 4:
                typed |= {self._spelling_owner[n] for n in self._spellings.holding(latin)}
            for number in typed:
                bonuses[number] = bonuses.get(number, 0.0) + self._latin(
                    self.entries[number], latin)
        ranked = []
        for number in scores.keys() | bonuses.keys():
            bonus = bonuses.get(number, 0.0)
            score = scores.get(number, 0.0) + bonus
            if score > 0 and (number in substantial or bonus > 0):
                entry = self.entries[number]
                # Bundles first on a tie: people mostly want the whole thing done.
                ranked.append((-round(score, 4), entry.kind != "bundle", entry.code, number))
        return [Hit(self.entries[number], -score)
                for score, _bundle, _code, number in heapq.nsmallest(limit, ranked)]

    def _known(self, word: str) -> bool:
        """Whether any entry's text holds the word or one of its synonyms."""
        return any(self._holders(w) for w in (word, *self.groups.get(word, ())))

    @staticmethod
    def _latin(entry: Entry, letters: str) -> float:
        """Pinyin typed in Latin letters: a full reading or the initials of a keyword."""
        if len(letters) >= 4 and any(letters in s for s in entry.spellings):
            return NAME * 2
        if letters in entry.letters:
            return NAME * 2
        if len(letters) >= 2 and any(s.startswith(letters) for s in entry.letters):
            return KEYWORD
        return 0.0


def build_index(catalog: Catalog, synonyms: dict | None = None) -> SearchIndex:
    """Index every bundle and matter of a catalog, as publishing them would."""
    rows = [listing(catalog.service(code)) for code in catalog.services()]
    return SearchIndex([Entry.of(row) for row in rows], synonyms or load_synonyms())


_INDEX: dict[tuple[int, int], SearchIndex] = {}
_INDEX_LOCK = threading.Lock()


def directory_index(session) -> SearchIndex:
    """The index of the public directory, built once and kept until a publication changes it.

    One index per process: a city's takes about 60 MB.
    """
    from sqlmodel import select

    key = generation(session)
    with _INDEX_LOCK:
        index = _INDEX.get(key)
        if index is None:
            # Only the newest directory is ever asked for again: the old index goes first,
            # and the rows are read a batch at a time, so that a process never holds two
            # indexes, or all the rows beside the entries made of them.
            _INDEX.clear()
            rows = session.exec(select(
                PublishedService.code, PublishedService.kind, PublishedService.name,
                PublishedService.description, PublishedService.search)
                .order_by(PublishedService.code).execution_options(yield_per=500))
            entries = [Entry.of(row._asdict()) for row in rows]
            index = SearchIndex(entries, load_synonyms())
            _INDEX[key] = index
            # The index is a few million long-lived objects: left to the cyclic garbage
            # collector, a full collection would walk them all during some later search
            # (150 ms). They hold no cycles; reference counting frees the old index.
            gc.collect()
            gc.freeze()
    return index
