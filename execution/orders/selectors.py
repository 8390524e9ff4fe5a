"""Reads of broker operations."""

from django.db.models import QuerySet

from execution.accounts.models import TradingAccount
from execution.orders.models import Operation


def operations_of(account: TradingAccount) -> QuerySet[Operation]:
    return Operation.objects.filter(account=account).prefetch_related("attempts")
