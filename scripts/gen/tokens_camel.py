"""Load CAMEL-AI's real token counter (and model enums) without installing CAMEL.

Helper for `scripts/gen/tokens_fixture.py`, `scripts/gen/tokens_tables.py` and
`benches/tokens_baseline.py`. Importing the whole `camel` package pulls in
hundreds of dependencies, so this module extracts only the three files the token
counter needs from the CAMEL wheel and imports them next to tiny stand-ins for
`camel.logger` and `camel.utils.dependencies_required`. The counting code that
runs is CAMEL's own, unmodified.

Where the wheel comes from, first hit wins:
  * `$CAMEL_WHEEL` (a path to `camel_ai-*.whl`);
  * a `camel_ai-<version>-*.whl` already in `$CAMEL_CACHE` (default
    `/tmp/camel-wheel`);
  * `pip download --no-deps camel-ai==<version>` into `$CAMEL_CACHE`.

`<version>` is `$CAMEL_VERSION`, default 0.2.91a7: PyPI has no final 0.2.91,
and `camel/utils/token_counting.py` is byte-identical in 0.2.90 and 0.2.91a7.

Needs `tiktoken` (CAMEL pins `tiktoken<=0.12`) and `pillow` in the running
interpreter, and `TIKTOKEN_CACHE_DIR` filled offline (see `tiktoken_cache()`).
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

CAMEL_VERSION = os.environ.get("CAMEL_VERSION", "0.2.91a7")
NEEDED = [
    "camel/types/enums.py",
    "camel/types/unified_model_type.py",
    "camel/utils/token_counting.py",
]

_STUB_LOGGER = """import logging
def get_logger(name):
    return logging.getLogger(name)
"""

_STUB_UTILS = """from functools import wraps
def dependencies_required(*modules):
    def decorator(func):
        @wraps(func)
        def wrapper(*args, **kwargs):
            return func(*args, **kwargs)
        return wrapper
    return decorator
"""

_STUB_TYPES = """from .unified_model_type import UnifiedModelType
from .enums import ModelType, OpenAIImageType, OpenAIVisionDetailType
"""


def _wheel() -> str:
    if os.environ.get("CAMEL_WHEEL"):
        return os.environ["CAMEL_WHEEL"]
    cache = os.environ.get("CAMEL_CACHE", "/tmp/camel-wheel")
    os.makedirs(cache, exist_ok=True)
    found = glob.glob(os.path.join(cache, f"camel_ai-{CAMEL_VERSION}-*.whl"))
    if not found:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps",
             f"camel-ai=={CAMEL_VERSION}", "-d", cache],
            check=True,
        )
        found = glob.glob(os.path.join(cache, f"camel_ai-{CAMEL_VERSION}-*.whl"))
    if not found:
        raise SystemExit(f"no camel_ai-{CAMEL_VERSION} wheel in {cache}")
    return found[0]


def tiktoken_cache() -> str:
    """Fill TIKTOKEN_CACHE_DIR from the tiktoken-rs crate's embedded BPE files.

    Python tiktoken downloads its BPE files on first use; there is no network
    here, and the files tiktoken-rs ships are byte-identical (same sha256).
    """
    cache = os.environ.get("TIKTOKEN_CACHE_DIR") or "/tmp/tiktoken_cache"
    os.environ["TIKTOKEN_CACHE_DIR"] = cache
    os.makedirs(cache, exist_ok=True)
    cargo_home = os.environ.get("CARGO_HOME", os.path.expanduser("~/.cargo"))
    assets = sorted(glob.glob(os.path.join(
        cargo_home, "registry/src/*/tiktoken-rs-0.12*/assets")))
    for name in ["o200k_base", "cl100k_base", "p50k_base", "r50k_base"]:
        url = f"https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
        dst = os.path.join(cache, hashlib.sha1(url.encode()).hexdigest())
        if os.path.exists(dst):
            continue
        if not assets:
            raise SystemExit("run `cargo fetch` first: tiktoken-rs assets not found")
        shutil.copy(os.path.join(assets[-1], f"{name}.tiktoken"), dst)
    return cache


def load():
    """Import CAMEL's token_counting and enums; returns (token_counting, enums)."""
    root = tempfile.mkdtemp(prefix="camel-tokens-")
    with zipfile.ZipFile(_wheel()) as zf:
        for name in NEEDED:
            dst = os.path.join(root, name)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            with zf.open(name) as src, open(dst, "wb") as out:
                out.write(src.read())
    pkg = os.path.join(root, "camel")
    for rel, text in [
        ("__init__.py", ""),
        ("logger.py", _STUB_LOGGER),
        ("utils/__init__.py", _STUB_UTILS),
        ("types/__init__.py", _STUB_TYPES),
    ]:
        with open(os.path.join(pkg, rel), "w") as f:
            f.write(text)
    tiktoken_cache()
    sys.path.insert(0, root)
    import camel.types.enums as enums  # noqa: E402
    import camel.utils.token_counting as token_counting  # noqa: E402

    return token_counting, enums


class _Model:
    """Stands in for a UnifiedModelType: CAMEL's counter reads only
    `value_for_tiktoken`, so this lets a test pick any model name."""

    def __init__(self, name: str):
        self.value_for_tiktoken = name

    def __str__(self) -> str:
        return self.value_for_tiktoken


def counter(token_counting, model: str = "gpt-4o-mini"):
    """CAMEL's OpenAITokenCounter for `model` (used as its tiktoken name)."""
    return token_counting.OpenAITokenCounter(_Model(model))
