"""One listener per concern that reacts to domain events (see handoff/events.py)."""
