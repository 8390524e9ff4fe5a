"""The ``Idempotency-Key`` request header, read and checked before anything is stored.

A key is 1 to ``MAX_LENGTH`` printable ASCII characters (a UUID is a good one); its column holds
255, so a longer key is refused here with a 400 instead of failing the write. No header, or an
empty one: the request has no key.
"""

import re

from rest_framework.exceptions import ValidationError

HEADER = "Idempotency-Key"
MAX_LENGTH = 255
PATTERN = "^[ -~]*$"  # printable ASCII
HEADER_SCHEMA = {"type": "string", "maxLength": MAX_LENGTH, "pattern": PATTERN}


def idempotency_key(request) -> str | None:
    key = request.headers.get(HEADER)
    if not key:
        return None
    if len(key) > MAX_LENGTH or not re.fullmatch(PATTERN, key):
        raise ValidationError({HEADER: [f"Give at most {MAX_LENGTH} printable ASCII characters."]})
    return key
