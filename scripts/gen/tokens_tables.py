"""Regenerate the data tables in src/models.rs and src/tokens/pyrepr.rs.

    python scripts/gen/tokens_tables.py            # rewrite the generated blocks
    python scripts/gen/tokens_tables.py --check    # exit 1 if they are out of date

Two tables, each between `// @generated begin NAME` and `// @generated end NAME`:

* `models` (src/models.rs): every value of CAMEL's `ModelType` enum with its
  `token_limit` and whether CAMEL counts it as an OpenAI model (`is_openai`).
  CAMEL resolves a model *string* to the enum member with that value
  (`UnifiedModelType`'s cache), so these are exactly the names for which
  `OpenAICompatibleModel(...).token_limit` is not the 999_999_999 default.
  Members whose own `token_limit` is that default (CAMEL logs a warning for
  them) are left out. `ModelType.DEFAULT` follows `$DEFAULT_MODEL_TYPE`; it is
  read with that variable unset.
* `not_printable` (src/tokens/pyrepr.rs): the code points >= U+0080 for which Python's
  `str.isprintable()` is false; `repr()` escapes exactly those. Taken from the
  running interpreter's Unicode database: run this with the Python whose
  `repr` you want to match (the checked-in table says which version).

Needs what tokens_camel.py needs (the CAMEL wheel; no tiktoken for this script).
"""

from __future__ import annotations

import os
import re
import sys
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))  # scripts/gen/ -> the repository root
sys.path.insert(0, HERE)


def models_block() -> str:
    os.environ.pop("DEFAULT_MODEL_TYPE", None)
    import tokens_camel

    _, enums = tokens_camel.load()
    rows = {}
    for member in enums.ModelType:  # canonical members: aliases share a value
        limit = member.token_limit
        if limit == 999_999_999:
            continue
        rows[member.value] = (limit, bool(member.is_openai))
    lines = [
        f"// CAMEL-AI camel-ai=={tokens_camel.CAMEL_VERSION}: ModelType values,"
        " token_limit, is_openai.",
        "// Sorted by name (byte order) for binary search.",
        "#[rustfmt::skip]",
        "const MODELS: &[(&str, u64, bool)] = &[",
    ]
    for name in sorted(rows, key=lambda s: s.encode()):
        limit, openai = rows[name]
        lines.append(f'    ("{name}", {limit:_}, {str(openai).lower()}),')
    lines.append("];")
    return "\n".join(lines)


def not_printable_block() -> str:
    ranges = []
    start = None
    for cp in range(0x80, 0x110000):
        bad = not chr(cp).isprintable()
        if bad and start is None:
            start = cp
        elif not bad and start is not None:
            ranges.append((start, cp - 1))
            start = None
    if start is not None:
        ranges.append((start, 0x10FFFF))
    version = ".".join(map(str, sys.version_info[:3]))
    lines = [
        f"// Python {version}, Unicode {unicodedata.unidata_version}: inclusive ranges of"
        " code points >= U+0080",
        "// for which str.isprintable() is false. Sorted, disjoint.",
        "#[rustfmt::skip]",
        "const NOT_PRINTABLE: &[(u32, u32)] = &[",
    ]
    row = []
    for lo, hi in ranges:
        row.append(f"(0x{lo:X}, 0x{hi:X})")
        if len(row) == 6:
            lines.append("    " + ", ".join(row) + ",")
            row = []
    if row:
        lines.append("    " + ", ".join(row) + ",")
    lines.append("];")
    return "\n".join(lines)


def replace_block(path: str, name: str, body: str, check: bool) -> bool:
    with open(path) as f:
        text = f.read()
    pattern = re.compile(
        rf"(// @generated begin {name}\n).*?(// @generated end {name}\n)", re.S
    )
    if not pattern.search(text):
        raise SystemExit(f"{path}: no generated block named {name}")
    new = pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text)
    if new == text:
        return False
    if not check:
        with open(path, "w") as f:
            f.write(new)
    return True


def main() -> int:
    check = "--check" in sys.argv
    changed = [
        replace_block(os.path.join(ROOT, "src/models.rs"), "models", models_block(), check),
        replace_block(os.path.join(ROOT, "src/tokens/pyrepr.rs"), "not_printable", not_printable_block(), check),
    ]
    if check and any(changed):
        print("generated tables are out of date", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
