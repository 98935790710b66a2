"""What the stage functions share: the fingerprints a resumed checkpoint must match."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path


def fingerprint(*parts) -> str:
    """Stable hash of JSON-able parts: a checkpoint resumes only under the same fingerprint."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def code_fingerprint() -> str:
    """Hash of the genbench sources: a checkpoint written by other code is never resumed."""
    h = hashlib.sha256()
    for f in sorted(Path(__file__).parents[1].rglob("*.py")):
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def split_fingerprint(processed_dir: Path) -> str:
    return hashlib.sha256((Path(processed_dir) / "train.pt").read_bytes()).hexdigest()[:16]
