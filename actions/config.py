"""Settings of the action server, from environment variables (all listed in the README)."""
import os
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent

# Where the topics' button titles (data/topics/*.yml) and the answers (domain/*.yml) are.
TOPICS_DIR = Path(os.environ.get("TSUNAGI_TOPICS_DIR", PROJECT_DIR / "data" / "topics"))
DOMAIN_DIR = Path(os.environ.get("TSUNAGI_DOMAIN_DIR", PROJECT_DIR / "domain"))

# How many suggested topics a "did not help" or a first fallback offers.
MAX_SUGGESTIONS = 3
# How many recent customer turns the handoff payload carries.
HANDOFF_TURNS = 5
# Fallbacks in a row that hand the conversation over.
FALLBACKS_BEFORE_HANDOFF = 2
