"""Engine workers (one row per live worker process, kept alive by its heartbeat) and account homes
(which worker runs an account's operations)."""

from django.db import models
from django.utils import timezone

from execution.accounts.models import TradingAccount


class EngineWorker(models.Model):
    """A worker process running the engine; dead once ``alive_until`` has passed."""

    id = models.CharField(primary_key=True, max_length=40)
    hostname = models.CharField(max_length=255, blank=True)
    pid = models.PositiveIntegerField(null=True)
    started_at = models.DateTimeField(default=timezone.now)
    alive_until = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.hostname}:{self.pid} ({self.id})"


class AccountHome(models.Model):
    """The worker that runs the account's operations and holds its broker session. Another worker
    takes the account over once that worker is dead (see ``execution.engine.homes``)."""

    account = models.OneToOneField(
        TradingAccount, on_delete=models.CASCADE, primary_key=True, related_name="home"
    )
    worker_id = models.CharField(max_length=40, db_index=True)
    since = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"account {self.account_id} at {self.worker_id}"
