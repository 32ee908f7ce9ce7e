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

import json
import logging
import math
import re
import threading
import unicodedata
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from onething.catalog.definitions import Bundle, Matter
from onething.catalog.text import HAN, LOCALES, initials, localize, pinyin

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


def normalize(text: str) -> str:
    """Fold full-width forms and case, and collapse spaces: how texts are compared."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text).lower()).strip()




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
    readings: set[str] = field(default_factory=set)
    spellings: list[str] = field(default_factory=list)
    letters: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Hit:
    """A search result: the entry and its score."""

    entry: Entry
    score: float

    @property
    def code(self) -> str:
        """The code of the guide found."""
        return self.entry.code


def _localized_texts(text: Any) -> list[str]:
    return list(dict.fromkeys(normalize(localize(text, locale)) for locale in LOCALES
                              if localize(text, locale)))


def bundle_entry(bundle: Bundle) -> Entry:
    """A bundle's entry: its names, keywords, the matters it holds and its description."""
    catalog = bundle.catalog
    entry = Entry(bundle.code, "bundle", bundle.name, bundle.data.get("description"))
    names = _localized_texts(bundle.name)
    keywords = [normalize(k) for k in bundle.data.get("keywords", [])]
    entry.texts += [(NAME, text) for text in names] + [(KEYWORD, k) for k in keywords]
    for code in bundle.matter_codes():
        matter = catalog.matters.get(code)
        if matter is not None:
            entry.texts += [(PART, text) for text in _localized_texts(matter.name)]
    entry.texts += [(DESCRIPTION, text)
                    for text in _localized_texts(bundle.data.get("description"))]
    entry.phrases = [normalize(localize(bundle.name)), *keywords]
    return entry


def matter_entry(matter: Matter) -> Entry:
    """A matter's entry: its names, its result, its department and its description."""
    catalog = matter.catalog
    entry = Entry(matter.code, "matter", matter.name, matter.data.get("description"))
    entry.texts += [(NAME, text) for text in _localized_texts(matter.name)]
    result = matter.data.get("result", {}).get("name")
    entry.texts += [(RESULT, text) for text in _localized_texts(result)]
    department = catalog.departments.get(matter.department)
    if department is not None:
        entry.texts += [(DEPARTMENT, text) for text in _localized_texts(department.name)]
    entry.texts += [(DESCRIPTION, text)
                    for text in _localized_texts(matter.data.get("description"))]
    # "《出生医学证明》首次签发" is also asked for as "出生医学证明", and "出生登记（户口登记）"
    # as "出生登记"; what the brackets add is often a qualifier ("（新生儿）"), not a name.
    name = normalize(localize(matter.name))
    entry.phrases = [name, *re.findall(r"《([^》]+)》", name),
                     *(p for p in [re.split(r"[（(]", name)[0]] if p != name and len(p) > 1)]
    if result:
        entry.phrases.append(normalize(localize(result)))
    return entry


class SearchIndex:
    """Entries with their texts, readings and term statistics, ready to rank a query."""

    def __init__(self, entries: list[Entry], synonyms: dict):
        self.entries = entries
        self.stopwords = synonyms["stopwords"]
        self.groups: dict[str, set[str]] = {}
        for group in synonyms["groups"]:
            for word in group:
                self.groups.setdefault(word, set()).update(w for w in group if w != word)
        teach([*self.groups, *(p for e in entries for p in e.phrases)])
        for entry in entries:
            zh_texts = [t for w, t in entry.texts if w >= PART and HAN.search(t)]
            for text in zh_texts:
                for word in segment(text):
                    if HAN.search(word) and len(word) > 1:
                        entry.readings.add(pinyin(word))
            entry.spellings = [pinyin(p) for p in entry.phrases if HAN.search(p)]
            entry.letters = {initials(p) for p in entry.phrases if HAN.search(p)}
        # Which entries hold a character, and which a reading: a term is looked for only in
        # the entries holding each of its characters, not in all twelve thousand of a city.
        self._by_char: dict[str, set[int]] = {}
        self._by_reading: dict[str, set[int]] = {}
        for number, entry in enumerate(entries):
            for char in {char for _, text in entry.texts for char in text}:
                self._by_char.setdefault(char, set()).add(number)
            for reading in entry.readings:
                self._by_reading.setdefault(reading, set()).add(number)
        self._df: dict[str, int] = {}
        self._holding: dict[str, frozenset[int]] = {}

    @property
    def codes(self) -> list[str]:
        """The codes of every entry."""
        return [entry.code for entry in self.entries]

    def _holders(self, term: str) -> frozenset[int]:
        """The entries one of whose texts contains the term."""
        found = self._holding.get(term)
        if found is None:
            postings = [self._by_char.get(char, set()) for char in set(term)]
            candidates = set.intersection(*postings) if postings else set()
            found = frozenset(n for n in candidates
                              if any(term in t for _, t in self.entries[n].texts))
            if len(self._holding) > 4096:
                self._holding.clear()
            self._holding[term] = found
        return found

    def _candidates(self, term: str) -> frozenset[int] | set[int]:
        """Every entry a term can score for: it holds the term, or the term's reading."""
        found = self._holders(term)
        if HAN.search(term) and len(term) > 1:
            return found | self._by_reading.get(pinyin(term), set())
        return found

    def _rarity(self, term: str) -> float:
        if term not in self._df:
            self._df[term] = len(self._holders(term))
        count = self._df[term]
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
        hits = []
        scoring = set()
        for concept in terms:
            for term in concept:
                scoring |= self._candidates(term)
        for number, entry in enumerate(self.entries):
            score = bonus = 0.0
            # A lone character (开, 店) says too little to stand alone: an entry needs a
            # word of two or more characters, a whole phrase or a reading, so that 开理发店
            # finds nothing in a catalog without barbers rather than every 开办.
            substantial = False
            for concept in terms if number in scoring else ():
                best, term = max((self._term_score(entry, term, weight), term)
                                 for term, weight in concept.items())
                score += best
                substantial = substantial or (best > 0 and len(term) > 1)
            for phrase in entry.phrases:
                if len(phrase) > 1 and phrase in text:
                    bonus += WHOLE_KEYWORD * min(len(phrase), 6)
            if len(reading) >= 4 and any(reading in s for s in entry.spellings):
                bonus += PINYIN * KEYWORD * 2
            if len(latin) >= 2:
                bonus += self._latin(entry, latin)
            score += bonus
            if score > 0 and (substantial or bonus > 0):
                hits.append(Hit(entry, round(score, 4)))
        # Bundles first on a tie: people mostly want the whole thing done.
        hits.sort(key=lambda h: (-h.score, h.entry.kind != "bundle", h.entry.code))
        return hits[:limit]

    def _known(self, word: str) -> bool:
        """Whether any entry's text holds the word or one of its synonyms."""
        return any(self._rarity(w) for w in (word, *self.groups.get(word, ())))

    def _term_score(self, entry: Entry, term: str, weight: float) -> float:
        """How much one term says for an entry: its heaviest text, or its reading."""
        found = [w for w, t in entry.texts if term in t]
        if found:
            # The heaviest text counts; being in several texts adds a little.
            return weight * self._rarity(term) * (max(found) + 0.1 * min(len(found), 4))
        if HAN.search(term) and len(term) > 1 and pinyin(term) in entry.readings:
            return weight * PINYIN * KEYWORD
        return 0.0

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


def build_index(bundles: Iterable[Bundle], synonyms: dict | None = None) -> SearchIndex:
    """Index bundles and their matters; a matter's entry comes from the last bundle holding it."""
    bundles = list(bundles)
    entries: list[Entry] = [bundle_entry(bundle) for bundle in bundles]
    source: dict[str, Matter] = {}
    for bundle in bundles:
        for code in bundle.matter_codes():
            matter = bundle.catalog.matters.get(code)
            if matter is not None:
                source[code] = matter
    entries += [matter_entry(matter) for _code, matter in sorted(source.items())]
    return SearchIndex(entries, synonyms or load_synonyms())


_INDEX: dict[tuple, SearchIndex] = {}
_INDEX_LOCK = threading.Lock()


def index_for(versions) -> SearchIndex:
    """The index of a set of published versions, built once and kept until the set changes."""
    from onething.publishing.versions import bundle_of

    ordered = sorted(versions, key=lambda v: (v.published_at, v.id or 0))
    key = tuple((v.bundle_code, v.digest) for v in ordered)
    with _INDEX_LOCK:
        index = _INDEX.get(key)
        if index is None:
            index = build_index([bundle_of(v) for v in ordered])
            # Only the newest set is ever asked for again.
            _INDEX.clear()
            _INDEX[key] = index
    return index
