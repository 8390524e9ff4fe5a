"""The one error a service raises when a domain rule refuses a request.

Every package's services raise :class:`ServiceError`; the API turns it into the one error shape
(field-level message, the rule's code, its HTTP status) and pages into a form error.
"""


class ServiceError(Exception):
    """A refused change, with the field it concerns (None for the request as a whole)."""

    def __init__(self, message: str, *, field: str | None = None, code: str = "invalid"):
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code
