"""Rasa's training cache keys a component's output by its config and inputs, not its code: a
changed component would be skipped and its stale output reused. Our components add the hash of
their source to the key (GraphComponent.fingerprint_addon)."""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Text


def source_fingerprint(*modules: Text) -> Text:
    """A hash of the named modules' source files."""
    digest = hashlib.sha256()
    for name in modules:
        digest.update(Path(sys.modules[name].__file__).read_bytes())
    return digest.hexdigest()[:16]
