#!/usr/bin/env python3
"""Builds crates/phi/gazetteers/eponyms.txt: words that name a person (or a place) in the name of a
disease, sign, score, test, reflex or instrument, so that the name detector does not flag
"Hodgkin lymphoma", "Babinski sign" or "Graves' disease" as a person.

Run:  python3 crates/phi/gazetteers/build_eponyms.py      (standard library only; no network)

Sources (public, never a gold-standard annotation file):
  1. The ICD-10-CM FY2026 code names, ../shared/data/icd10cm/icd10cm_codes_2026.tsv (US CDC/NCHS,
     public domain; see that folder's SOURCE.md). A word is taken when it is
       - possessive in a code name ("Parkinson's disease", "Graves' disease", "Bell's palsy") and
         a first name or surname of the gazetteers, or else no common English word written
         possessive somewhere other than the first word, or capitalised inside a sentence of
         MTSamples (source 2) (a code name's first word is capitalised anyway: "Caregiver's",
         "Swimmer's" are not names); or
       - capitalised inside a code name (ICD-10-CM capitalises only the first word otherwise),
         followed there by one of the HEAD words below ("Hodgkin lymphoma", "Lewy bodies"), a first
         name or surname of the gazetteers and no common English word.
  2. MTSamples transcriptions, ../shared/data/mtsamples/mtsamples.csv (CC0; see its SOURCE.md), for
     the signs, tests, reflexes, scores and instruments that ICD does not name: a capitalised word
     (possessive or not) right before a HEAD word in at least 3 distinct transcriptions, that is a
     first name or surname of the gazetteers, and no common English word unless written possessive
     ("Babinski sign", "Romberg test", "Apgar score", "Murphy's sign", "Foley catheter").
The name and common-word lists are this folder's first_names.txt, surnames.txt,
intl_first_names.txt, intl_surnames.txt and common_words.txt (built by
scripts/phi/build_gazetteers.py). Output: one lower-case word per line, sorted.
"""
import csv
import os
import re
import sys
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "..", "..", "shared", "data")

# The words after an eponym; the same list as EPONYM_HEADS in src/detectors/name.rs.
HEAD = (
    "disease diseases syndrome sign signs test tests reflex reflexes score scores scale criteria criterion "
    "maneuver maneuvers manoeuvre palsy phenomenon triad classification lymphoma sarcoma tumor tumour cyst "
    "bodies body coma stain procedure operation incision fracture ulcer node nodes catheter position"
).split()


def words(name):
    path = os.path.join(HERE, name)
    with open(path, encoding="utf-8") as f:
        return {l.strip().split("\t")[0].lower() for l in f if l.strip() and not l.startswith("#")}


def main():
    names = words("first_names.txt") | words("surnames.txt") | words("intl_first_names.txt") | words("intl_surnames.txt")
    common = words("common_words.txt")
    head = set(HEAD)
    out = set()
    inner = set()  # possessive words seen after a code name's first word
    candidates = set()

    icd = os.path.join(DATA, "icd10cm", "icd10cm_codes_2026.tsv")
    with open(icd, encoding="utf-8") as f:
        for line in f:
            code, _, desc = line.rstrip("\n").partition("\t")
            if code == "code":
                continue
            toks = re.findall(r"[A-Za-z][A-Za-z'\u2019-]*", desc)
            for i, t in enumerate(toks):
                m = re.fullmatch(r"([A-Z][a-z]+)(?:'s|s'|\u2019s)", t)
                if m:
                    w = m.group(1).lower()
                    if w in names:
                        out.add(w)
                    elif w not in common:
                        candidates.add(w)
                        if i > 0:
                            inner.add(w)
                    continue
                nxt = toks[i + 1].lower() if i + 1 < len(toks) else ""
                if i > 0 and re.fullmatch(r"[A-Z][a-z]+", t) and nxt in head:
                    w = t.lower()
                    if w in names and w not in common:
                        out.add(w)
    csv.field_size_limit(1 << 30)
    mid = re.compile(r"[a-z,;] ([A-Z][a-z]+)(?:'s|s'|\u2019s)?\b")
    capitalised = set()
    with open(os.path.join(DATA, "mtsamples", "mtsamples.csv"), encoding="utf-8") as f:
        for row in csv.DictReader(f):
            capitalised.update(m.group(1).lower() for m in mid.finditer(row.get("transcription") or ""))
    out |= {w for w in candidates if w in inner or w in capitalised}
    from_icd = len(out)

    rx = re.compile(r"\b([A-Z][a-z]{2,})('s|s')?\s+(" + "|".join(HEAD) + r")\b")
    docs = defaultdict(set)
    possessive = set()
    with open(os.path.join(DATA, "mtsamples", "mtsamples.csv"), encoding="utf-8") as f:
        for i, row in enumerate(csv.DictReader(f)):
            for m in rx.finditer(row.get("transcription") or ""):
                docs[m.group(1)].add(i)
                if m.group(2):
                    possessive.add(m.group(1))
    for w, d in docs.items():
        lw = w.lower()
        if len(d) >= 3 and lw in names and (lw not in common or w in possessive):
            out.add(lw)

    path = os.path.join(HERE, "eponyms.txt")
    with open(path, "w", encoding="utf-8") as f:
        for w in sorted(out):
            f.write(w + "\n")
    print(f"eponyms.txt: {len(out)} words ({from_icd} from ICD-10-CM, {len(out) - from_icd} more from MTSamples)", file=sys.stderr)


if __name__ == "__main__":
    main()
