"""Settings of the action server, from environment variables (all listed in docs/configuration.md)."""
import os
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent

# The project whose content the actions read: the topics' button titles (data/topics/*.yml) and
# the answers (next to their examples in data/nlu/*.yml, or in domain.yml). The same variable
# points `make validate` and the editor API at a project.
CONTENT_DIR = Path(os.environ.get("TSUNAGI_PROJECT_DIR") or PROJECT_DIR)

# How many suggested topics a "did not help" or a first fallback offers.
MAX_SUGGESTIONS = 3
# How many recent customer turns the handoff payload carries.
HANDOFF_TURNS = 5
# Fallbacks in a row that hand the conversation over.
FALLBACKS_BEFORE_HANDOFF = 2
