"""What protection keeps: each account's settings, each trade's progress, and every step it took.

* :class:`ProtectionSettings`: per account (defaults when it has none): auto-breakeven at TP1 with
  a 2-pip buffer, trailing stop off.
* :class:`TradeProtection`: per trade, the highest TP level reached (only ever raised) and the
  protective operations in flight (one breakeven and one trailing move at a time per trade).
* :class:`ProtectionStep`: insert-only, what protection saw and did (shown in the trade's trace and
  pushed to the live feed).
"""

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from execution.accounts.models import TradingAccount
from execution.orders.models import Operation
from execution.signals.models import Trade

MAX_BUFFER_PIPS = 50
MAX_TRIGGER = 6  # TP6


def plain(number: Decimal) -> Decimal:
    """Without trailing zeros, never in exponent form (2.00 -> 2, 0.00020 -> 0.0002)."""
    return number.normalize().quantize(Decimal(1)) if number == number.to_integral() else number.normalize()


class ProtectionSettings(models.Model):
    account = models.OneToOneField(TradingAccount, on_delete=models.CASCADE, related_name="protection")
    breakeven_at = models.PositiveSmallIntegerField(
        default=1,
        validators=[MaxValueValidator(MAX_TRIGGER)],
        help_text="Move the SL of the remaining positions to breakeven once this TP is reached (0: never).",
    )
    breakeven_buffer_pips = models.DecimalField(
        max_digits=5,
        decimal_places=1,
        default=Decimal(2),
        validators=[MinValueValidator(0), MaxValueValidator(MAX_BUFFER_PIPS)],
        help_text="The new SL is the entry plus this many pips on the profit side.",
    )
    trailing = models.BooleanField(default=False)
    trailing_activation_pips = models.DecimalField(
        max_digits=7, decimal_places=1, default=Decimal(20), validators=[MinValueValidator(0)]
    )
    trailing_distance_pips = models.DecimalField(
        max_digits=7, decimal_places=1, default=Decimal(15), validators=[MinValueValidator(Decimal("0.1"))]
    )
    trailing_step_pips = models.DecimalField(
        max_digits=7, decimal_places=1, default=Decimal(5), validators=[MinValueValidator(Decimal("0.1"))]
    )

    class Meta:
        verbose_name_plural = "protection settings"

    def __str__(self) -> str:
        return f"protection of account {self.account_id}"

    def buffer_price(self, pip: Decimal) -> Decimal:
        """The breakeven buffer as a price distance on a symbol whose pip is ``pip``."""
        return plain(self.breakeven_buffer_pips * pip)

    @classmethod
    def of(cls, account_id: int) -> "ProtectionSettings":
        """The account's settings, or the defaults (unsaved) when it has none."""
        return cls.objects.filter(account_id=account_id).first() or cls(account_id=account_id)


class TradeProtection(models.Model):
    trade = models.OneToOneField(Trade, on_delete=models.CASCADE, primary_key=True, related_name="protection")
    reached = models.PositiveSmallIntegerField(default=0, help_text="The highest TP level reached")
    breakeven_operation = models.ForeignKey(
        Operation, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    trailing_operation = models.ForeignKey(
        Operation, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    over = models.BooleanField(default=False, help_text="Nothing of the trade is left at the broker")
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"protection of trade {self.trade_id}"


class ProtectionStep(models.Model):
    TP_REACHED, BREAKEVEN, TRAILING = "tp_reached", "breakeven", "trailing"
    KIND_CHOICES = [
        (TP_REACHED, "TP reached"),
        (BREAKEVEN, "Breakeven requested"),
        (TRAILING, "Trailing move"),
    ]

    trade = models.ForeignKey(Trade, on_delete=models.CASCADE, related_name="protection_steps")
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=12, choices=KIND_CHOICES)
    message = models.TextField()
    operation = models.ForeignKey(
        Operation, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} on trade {self.trade_id}"
