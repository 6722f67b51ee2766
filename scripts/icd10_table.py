#!/usr/bin/env python3
"""Converts the ICD-10-CM tabular list inside the simple-icd-10-cm wheel into a two-column table.

    icd10_table.py WHEEL OUT.tsv

Reads `simple_icd_10_cm/data/icd10c-tabular-*.xml` from the wheel (public-domain CMS/NCHS data) and
writes one row per <diag> element, `code<TAB>description`, codes as printed (upper case, dotted:
`R50.9`), categories included (`R50`). LocalDx reads this table to give ICD-10 labels their names
(zero-shot label texts, suggestion screens). Standard library only.
"""
import sys
import xml.etree.ElementTree as ET
import zipfile


def rows(root):
    for diag in root.iter("diag"):
        name, desc = diag.findtext("name"), diag.findtext("desc")
        if name and desc:
            yield name.strip(), " ".join(desc.split())


def main(wheel, out):
    with zipfile.ZipFile(wheel) as z:
        member = next(n for n in z.namelist() if n.endswith(".xml") and "tabular" in n)
        root = ET.fromstring(z.read(member))
    count = 0
    with open(out, "w", encoding="utf-8", newline="\n") as f:
        f.write("code\tdescription\n")
        for code, desc in rows(root):
            f.write(f"{code}\t{desc}\n")
            count += 1
    if count < 40000:
        sys.exit(f"{wheel}: only {count} codes in {member}; the tabular list looks truncated")
    print(f"{count} ICD-10-CM codes -> {out}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
