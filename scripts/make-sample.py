#!/usr/bin/env python3
"""Writes samples/clinic-notes.csv: the synthetic sample data set that LocalDx's Quick start imports.

Every name, date, number and place in it is invented by this script (fixed seed, so the file is
reproducible); no real patient is behind any row. The notes imitate short primary-care visit notes,
each coded with one ICD-10-CM diagnosis, and carry the kinds of identifiers a data steward must
redact (names, dates, phone numbers, record numbers, addresses). Three notes per patient, so the
patient-grouped train/validation/test split has something to do.

Run: python3 scripts/make-sample.py   (stdlib only)
"""
import csv
import random
from pathlib import Path

SEED = 20261122
rng = random.Random(SEED)

FIRST = ["Maria", "James", "Aisha", "Robert", "Linh", "Carlos", "Emily", "Dmitri", "Grace", "Samuel",
         "Fatima", "Thomas", "Yuki", "Andre", "Hannah", "Mohammed", "Olivia", "Peter", "Rosa", "Kwame"]
LAST = ["Alvarez", "Brennan", "Chowdhury", "Delacroix", "Eriksen", "Fontaine", "Gallagher", "Haddad",
        "Ivanova", "Jablonski", "Kowalczyk", "Lindqvist", "Mbeki", "Nakamura", "Okafor", "Petrov",
        "Quintero", "Rasmussen", "Sandoval", "Thibodeaux"]
CLINICIANS = ["Dr. Helen Marsh", "Dr. Victor Osei", "Dr. Priya Raman", "Dr. Julian Weiss", "Nurse Ana Ortiz"]
STREETS = ["Maple Avenue", "Harbor Road", "Cedar Lane", "Mill Street", "Orchard Drive", "Lakeview Court"]
CITIES = [("Springfield", "IL", "62704"), ("Dayton", "OH", "45402"), ("Bangor", "ME", "04401"),
          ("Fresno", "CA", "93721"), ("Macon", "GA", "31201"), ("Pueblo", "CO", "81003")]

# ICD-10-CM code -> (complaints, findings, plans). Codes and names from the CMS FY2026 tabular list.
DIAGNOSES = {
    "I10": (["headaches in the morning", "no symptoms, came for a blood pressure check", "occasional dizziness"],
            ["BP 152/94 and 148/92 on repeat", "BP 160/98, heart rate 78, no edema", "home readings average 150/95"],
            ["start lisinopril 10 mg daily", "continue amlodipine 5 mg, low-salt diet", "recheck blood pressure in 4 weeks"]),
    "E11.9": (["increased thirst and frequent urination", "fatigue and blurred vision", "follow-up of high sugars"],
              ["HbA1c 8.1%", "fasting glucose 168 mg/dL, HbA1c 7.6%", "BMI 33, monofilament sensation intact"],
              ["start metformin 500 mg twice daily", "diabetes education, diet review", "increase metformin to 1000 mg twice daily"]),
    "J45.909": (["wheezing at night", "shortness of breath when running", "cough worse in cold air"],
                ["scattered expiratory wheeze", "peak flow 72% of predicted", "mild wheeze, saturation 97% on room air"],
                ["albuterol inhaler as needed", "start low-dose inhaled budesonide", "asthma action plan reviewed"]),
    "N39.0": (["burning on urination and frequency", "lower abdominal pain and urgency", "cloudy urine for two days"],
              ["urinalysis positive for nitrites and leukocytes", "suprapubic tenderness, no flank pain", "urine dipstick leukocyte esterase positive"],
              ["nitrofurantoin 100 mg twice daily for 5 days", "urine culture sent, increase fluids", "trimethoprim-sulfamethoxazole for 3 days"]),
    "K21.9": (["heartburn after meals", "sour taste in the mouth at night", "chest burning when lying down"],
              ["epigastric tenderness, normal bowel sounds", "no weight loss, no dysphagia", "symptoms worse after coffee"],
              ["omeprazole 20 mg daily for 8 weeks", "raise head of bed, avoid late meals", "trial of famotidine"]),
    "F41.1": (["constant worry and poor sleep", "restlessness and muscle tension", "feeling on edge for six months"],
              ["GAD-7 score 15", "anxious affect, no suicidal ideation", "GAD-7 score 12, PHQ-9 score 6"],
              ["start sertraline 50 mg daily", "referral to cognitive behavioural therapy", "sleep hygiene counselling"]),
    "J02.9": (["sore throat for three days", "painful swallowing and low fever", "scratchy throat and hoarse voice"],
              ["pharyngeal erythema without exudate", "temperature 38.1 C, tender anterior nodes", "rapid strep test negative"],
              ["salt-water gargles and ibuprofen", "supportive care, return if worse", "throat lozenges, fluids"]),
    "M54.50": (["low back pain after lifting boxes", "aching lower back for two weeks", "back stiffness in the morning"],
               ["paraspinal tenderness, straight leg raise negative", "normal strength 5/5 in both legs", "no saddle anaesthesia, reflexes normal"],
               ["naproxen 500 mg twice daily", "physiotherapy referral, stay active", "heat and stretching exercises"]),
}


def date(year_lo=2023, year_hi=2025):
    return f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/{rng.randint(year_lo, year_hi)}"


def phone():
    return f"({rng.randint(201, 989)}) {rng.randint(200, 999)}-{rng.randint(0, 9999):04d}"


def note(name, dob, mrn, addr, tel, code, visit):
    complaints, findings, plans = DIAGNOSES[code]
    clinician = rng.choice(CLINICIANS)
    parts = [
        f"Visit {visit}. Patient: {name}, DOB {dob}, MRN {mrn}.",
        f"Chief complaint: {rng.choice(complaints)}.",
        f"Exam: {rng.choice(findings)}.",
        f"Plan: {rng.choice(plans)}.",
    ]
    if rng.random() < 0.5:
        parts.append(f"Lives at {addr}. Call {tel} with results.")
    if rng.random() < 0.4:
        parts.append(f"Spouse {rng.choice(FIRST)} {name.split()[-1]} present at visit.")
    parts.append(f"Seen by {clinician}.")
    return " ".join(parts)


def main():
    out = Path(__file__).resolve().parent.parent / "samples" / "clinic-notes.csv"
    rows = []
    codes = list(DIAGNOSES)
    for p in range(60):
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        dob = date(1940, 2005)
        mrn = f"{rng.randint(10_000_000, 99_999_999)}"
        city, state, zipc = rng.choice(CITIES)
        addr = f"{rng.randint(12, 9800)} {rng.choice(STREETS)}, {city}, {state} {zipc}"
        tel = phone()
        code = codes[p % len(codes)]
        for k in range(3):
            visit = date()
            rows.append({
                "note_id": f"N{p:03d}-{k}",
                "patient_id": f"P{p:03d}",
                "visit_date": visit,
                "note": note(name, dob, mrn, addr, tel, code, visit),
                "diagnosis": code,
            })
    rng.shuffle(rows)
    with out.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {len(rows)} notes to {out}")


if __name__ == "__main__":
    main()
