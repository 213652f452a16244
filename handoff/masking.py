"""Card-number masking: applied to every text before it is stored, forwarded to Rasa or shown.

A card number is 13-19 digits passing the Luhn check, possibly split by single spaces or
hyphens. All but the last four digits become '*', separators are kept, so an agent still sees
which card the customer means.
"""
from __future__ import annotations

import re

# A run of digit groups joined by one space or hyphen; the card may be any stretch of groups in it
# ("4111 1111 1111 1111 2025" holds a card followed by a year).
# \d and the full-width separators: Japanese keyboards often type full-width digits (４１１１).
_RUN = re.compile(r"(?<!\d)\d+(?:[ \-\u3000\uff0d\u2010\u2212]\d+)*(?!\d)")
_GROUP = re.compile(r"\d+")


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _mask_run(run: str) -> str:
    groups = [(m.start(), m.end()) for m in _GROUP.finditer(run)]
    chars = list(run)
    start = 0
    while start < len(groups):
        # The longest stretch of whole groups starting here that is a card number.
        best = None
        digits = ""
        for end in range(start, len(groups)):
            digits += run[groups[end][0]:groups[end][1]]
            if len(digits) > 19:
                break
            if len(digits) >= 13 and luhn_valid(digits):
                best = end
        if best is None:
            start += 1
            continue
        span_start, span_end = groups[start][0], groups[best][1]
        keep = 4
        for position in range(span_end - 1, span_start - 1, -1):
            if chars[position].isdigit():
                if keep:
                    keep -= 1
                else:
                    chars[position] = "*"
        start = best + 1
    return "".join(chars)


def mask_card_numbers(text: str) -> str:
    if not text or sum(c.isdigit() for c in text) < 13:
        return text
    return _RUN.sub(lambda m: _mask_run(m.group(0)), text)
