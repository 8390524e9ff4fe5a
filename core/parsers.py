"""The API's JSON parser: DRF's, which also refuses a body nested deeper than ``MAX_DEPTH``.

A body too deep for the decoder (``[`` a hundred thousand times) or merely deeper than any request
of this API needs is a 400 parse error, like malformed JSON, never a RecursionError.
"""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_DEPTH = 64  # arrays and objects inside one another: far more than any request of this API needs


def _deeper_than(data, limit: int) -> bool:
    pending = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        children = value.values() if isinstance(value, dict) else value
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


class DepthLimitedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        too_deep = ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels.")
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise too_deep from None
        if isinstance(data, dict | list) and _deeper_than(data, MAX_DEPTH):
            raise too_deep
        return data
