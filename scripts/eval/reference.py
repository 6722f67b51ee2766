#!/usr/bin/env python3
"""Reference values for the LocalDx metrics engine (crates/eval), computed with scikit-learn.

Writes crates/eval/tests/eval/fixtures/reference.json: hand-made tiny cases and random cases drawn
with a fixed seed, each with the metrics scikit-learn (and NumPy/SciPy where scikit-learn has no
such metric) computes for them. The Rust tests read that file and compare.

Setup (offline afterwards):
    python3 -m venv /tmp/skvenv && /tmp/skvenv/bin/pip install scikit-learn numpy
    /tmp/skvenv/bin/python scripts/eval/reference.py

Conventions that the Rust side follows:
- zero_division=0 everywhere, labels=range(L) so macro averages include every label;
- multi-class decisions are the arg-max, multi-label decisions are score >= threshold;
- top-k ranking: scores have no ties inside a case (checked here), so tie-breaking never matters;
- thresholds: the score with the highest F1 on the PR curve of the validation cases, the highest
  such score on ties; per label when the label has a validation positive, else the global one
  (chosen on all (case, label) pairs flattened);
- ECE: sum over calibration_curve's uniform bins of (bin count / N) * |prob_true - prob_pred|;
- McNemar: statistic (|b-c|-1)^2/(b+c), p = chi2.sf(stat, 1), exact p = min(1, 2*binom.cdf(min(b,c), b+c, 0.5)).
"""
import json
import os
import sys

import numpy as np
import scipy.stats
import sklearn
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    precision_recall_curve,
    precision_recall_fscore_support,
    top_k_accuracy_score,
)

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "crates", "eval", "tests", "eval", "fixtures", "reference.json")
KS = [1, 3, 5]


def indicator(gold, n_labels):
    y = np.zeros((len(gold), n_labels), dtype=int)
    for i, g in enumerate(gold):
        for l in g:
            y[i, l] = 1
    return y


def best_f1_threshold(scores, positive):
    if positive.sum() == 0:
        return None
    p, r, t = precision_recall_curve(positive, scores)
    p, r = p[:-1], r[:-1]  # drop the appended (1, 0) point; t is increasing
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(p + r > 0, 2 * p * r / (p + r), 0.0)
    best = f1.max()
    idx = max(i for i in range(len(t)) if f1[i] == best)  # highest threshold on ties
    return [float(t[idx]), float(f1[idx])]


def choose_thresholds(gold, scores):
    n, n_labels = scores.shape
    y = indicator(gold, n_labels)
    g = best_f1_threshold(scores.ravel(), y.ravel())
    glob = g[0] if g else 0.5
    per = []
    for l in range(n_labels):
        b = best_f1_threshold(scores[:, l], y[:, l]) if y[:, l].sum() >= 1 else None
        per.append(b[0] if b else glob)
    return glob, per


def calibration(probs, outcomes, n_bins=10):
    probs, outcomes = np.asarray(probs), np.asarray(outcomes, dtype=int)
    prob_true, prob_pred = calibration_curve(outcomes, probs, n_bins=n_bins, strategy="uniform")
    bins = np.linspace(0.0, 1.0, n_bins + 1)
    ids = np.searchsorted(bins[1:-1], probs)
    counts = np.bincount(ids, minlength=n_bins)
    counts = counts[counts > 0]
    ece = float(np.sum(counts / len(probs) * np.abs(prob_true - prob_pred)))
    return {"prob_true": prob_true.tolist(), "prob_pred": prob_pred.tolist(), "counts": counts.tolist(), "ece": ece}


def mcnemar(a_right, b_right):
    b = int(np.sum(a_right & ~b_right))
    c = int(np.sum(~a_right & b_right))
    if b + c == 0:
        return {"only_a": b, "only_b": c, "statistic": 0.0, "p_value": 1.0, "exact_p_value": 1.0}
    stat = (abs(b - c) - 1) ** 2 / (b + c)
    return {
        "only_a": b,
        "only_b": c,
        "statistic": float(stat),
        "p_value": float(scipy.stats.chi2.sf(stat, 1)),
        "exact_p_value": float(min(1.0, 2 * scipy.stats.binom.cdf(min(b, c), b + c, 0.5))),
    }


def expected(kind, gold, scores, thresholds):
    scores = np.asarray(scores, dtype=float)
    n, n_labels = scores.shape
    labels = list(range(n_labels))
    y = indicator(gold, n_labels)
    out = {}
    if kind == "multi_class":
        y_true = np.array([g[0] for g in gold])
        y_pred = scores.argmax(axis=1)
        prf = lambda avg: precision_recall_fscore_support(y_true, y_pred, labels=labels, average=avg, zero_division=0)
        out["accuracy"] = float(accuracy_score(y_true, y_pred))
        out["confusion"] = confusion_matrix(y_true, y_pred, labels=labels).tolist()
        # top_k_accuracy_score needs k < n_labels for a meaningful call; k >= n_labels is 1.
        out["top_k_accuracy"] = [
            float(top_k_accuracy_score(y_true, scores, k=k, labels=labels)) if k < n_labels else 1.0 for k in KS
        ]
        out["recall_at_k"] = out["top_k_accuracy"]
        conf_p = scores.max(axis=1)
        conf_y = (y_pred == y_true)
        out["calibration"] = calibration(conf_p, conf_y)
    else:
        t = np.asarray(thresholds, dtype=float)
        y_pred = (scores >= t[None, :]).astype(int)
        prf = lambda avg: precision_recall_fscore_support(y, y_pred, average=avg, zero_division=0)
        out["accuracy"] = float(accuracy_score(y, y_pred))
        order = np.argsort(-scores, axis=1, kind="stable")
        hit, rec = [], []
        has = y.sum(axis=1) > 0
        for k in KS:
            top = np.zeros_like(y)
            np.put_along_axis(top, order[:, :k], 1, axis=1)
            inter = (top & y).sum(axis=1)
            hit.append(float(np.mean(inter[has] > 0)))
            rec.append(float(np.mean(inter[has] / y.sum(axis=1)[has])))
        out["top_k_accuracy"] = hit
        out["recall_at_k"] = rec
        out["calibration"] = calibration(scores.ravel(), y.ravel())
    p, r, f, s = prf(None)
    out["precision"], out["recall"], out["f1"], out["support"] = p.tolist(), r.tolist(), f.tolist(), s.tolist()
    for avg in ["micro", "macro", "weighted"]:
        out[avg] = [float(x) for x in prf(avg)[:3]]
    aps = []
    for l in labels:
        aps.append(float(average_precision_score(y[:, l], scores[:, l])) if y[:, l].sum() > 0 else 0.0)
    out["average_precision"] = aps
    pc, rc, tc = precision_recall_curve(y[:, 0], scores[:, 0])
    out["pr_curve_label0"] = {"precision": pc.tolist(), "recall": rc.tolist(), "thresholds": tc.tolist()}
    out["best_threshold"] = [best_f1_threshold(scores[:, l], y[:, l]) for l in labels]
    return out


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def no_ties(scores):
    return all(len(set(row)) == len(row) for row in scores.tolist())


def random_multi_class(rng, n, n_labels, signal):
    gold = rng.integers(0, n_labels, size=n)
    logits = rng.normal(size=(n, n_labels))
    logits[np.arange(n), gold] += signal
    return [[int(g)] for g in gold], softmax(logits)


def random_multi_label(rng, n, n_labels, signal):
    prevalence = rng.uniform(0.05, 0.5, size=n_labels)
    y = (rng.uniform(size=(n, n_labels)) < prevalence).astype(int)
    logits = rng.normal(size=(n, n_labels)) + signal * (2 * y - 1) - 0.5
    scores = 1.0 / (1.0 + np.exp(-logits))
    return [[int(l) for l in np.flatnonzero(row)] for row in y], scores


def case(name, kind, gold, scores, validation=None, other=None, thresholds=None):
    scores = np.asarray(scores, dtype=float)
    assert no_ties(scores), name
    row = {"name": name, "kind": kind, "labels": scores.shape[1], "gold": gold, "scores": scores.tolist()}
    if kind == "multi_label":
        if validation is not None:
            vg, vs = validation
            glob, per = choose_thresholds(vg, np.asarray(vs))
            row["validation"] = {"gold": vg, "scores": np.asarray(vs).tolist(), "global_threshold": glob, "per_label_thresholds": per}
            thresholds = per
        row["thresholds"] = thresholds
    row["expected"] = expected(kind, gold, scores, thresholds)
    if other is not None:
        y_true = np.array([g[0] for g in gold])
        row["other_scores"] = np.asarray(other).tolist()
        row["expected"]["mcnemar"] = mcnemar(scores.argmax(1) == y_true, np.asarray(other).argmax(1) == y_true)
    return row


def main():
    rng = np.random.default_rng(20241122)
    rows = []
    # Tiny hand-made multi-class: label 2 is never predicted (precision 0 by zero_division=0),
    # label 3 never occurs and is never predicted (all zeros, still in the macro average).
    rows.append(case("tiny multi-class, label never predicted", "multi_class",
                     [[0], [0], [1], [2], [1]],
                     [[0.70, 0.20, 0.06, 0.04], [0.30, 0.60, 0.07, 0.03], [0.10, 0.80, 0.05, 0.05 - 1e-3],
                      [0.35, 0.40, 0.24, 0.01], [0.50, 0.45, 0.03, 0.02]]))
    # Tiny hand-made multi-label with a global threshold of 0.5: label 2 never in gold.
    rows.append(case("tiny multi-label, label never in gold", "multi_label",
                     [[0, 1], [1], [], [0]],
                     [[0.9, 0.6, 0.1], [0.2, 0.7, 0.55], [0.4, 0.3, 0.2], [0.45, 0.05, 0.65]],
                     thresholds=[0.5, 0.5, 0.5]))
    # Random cases (a few hundred each), fixed seed.
    g, s = random_multi_class(rng, 300, 6, 1.5)
    # a second, stronger model scoring the same cases (for McNemar)
    logits = rng.normal(size=(300, 6))
    logits[np.arange(300), [x[0] for x in g]] += 2.0
    rows.append(case("random multi-class 300x6", "multi_class", g, s, other=softmax(logits)))
    g, s = random_multi_class(rng, 400, 12, 1.0)
    rows.append(case("random multi-class 400x12 weak signal", "multi_class", g, s))
    vg, vs = random_multi_label(rng, 250, 5, 1.2)
    g, s = random_multi_label(rng, 300, 5, 1.2)
    rows.append(case("random multi-label 300x5, thresholds from validation", "multi_label", g, s, validation=(vg, vs)))
    vg, vs = random_multi_label(rng, 200, 8, 0.8)
    g, s = random_multi_label(rng, 350, 8, 0.8)
    rows.append(case("random multi-label 350x8 weak signal, thresholds from validation", "multi_label", g, s, validation=(vg, vs)))
    meta = {"sklearn": sklearn.__version__, "numpy": np.__version__, "python": sys.version.split()[0], "ks": KS}
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump({"generated_by": "scripts/eval/reference.py", "versions": meta, "cases": rows}, f)
    print(f"wrote {len(rows)} cases to {os.path.normpath(OUT)} with scikit-learn {sklearn.__version__}")


if __name__ == "__main__":
    main()
