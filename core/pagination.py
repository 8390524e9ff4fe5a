"""The API's pagination: limit and offset, with ``limit`` capped at ``MAX_LIMIT``.

A larger limit gives ``MAX_LIMIT`` rows (DRF's cut-off), so no ``limit`` reaches the database as a
number it cannot hold; an offset past the last row gives an empty page without a query.
"""

from rest_framework.pagination import LimitOffsetPagination

MAX_LIMIT = 500


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    max_limit = MAX_LIMIT
