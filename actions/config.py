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

# The shop's order API (docs/order-api.md): a verified customer's "where is my order?" with an
# order number is answered with that order's status. Empty URL: the feature is off and every such
# question gets the FAQ answer.
ORDER_API_URL = (os.environ.get("ORDER_API_URL") or "").strip().rstrip("/")
# Sent as `Authorization: Bearer ...`; never logged.
ORDER_API_TOKEN = (os.environ.get("ORDER_API_TOKEN") or "").strip()
# Seconds to connect, and again to get the answer, before the customer is told the order cannot be
# looked up now (and offered a person). The bot's whole turn must stay within the gateway's
# RASA_TIMEOUT (8 s by default).
ORDER_API_TIMEOUT_SECONDS = float(os.environ.get("ORDER_API_TIMEOUT_SECONDS") or 3)
# How the shop's order numbers look, found in the customer's message (after NFKC normalisation, so
# full-width digits count): the first group is the number. The demo shop's: six to twelve digits,
# optionally after '#', not part of a longer word, phone number or code.
ORDER_NUMBER_PATTERN = (os.environ.get("ORDER_NUMBER_PATTERN")
                        or r"(?<![0-9A-Za-z-])#?([0-9]{6,12})(?![0-9A-Za-z-])")
# The topics whose question an order number makes a question about that order.
ORDER_TOPICS = ("order_status", "shipping_tracking")
