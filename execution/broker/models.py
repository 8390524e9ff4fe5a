"""The simulated broker's state, shared by every process through the database."""

from django.db import models


class SimulatorDocument(models.Model):
    """The simulated broker's state (accounts, fault settings) as JSON documents, shared by every
    process through the database and locked per key with SELECT ... FOR UPDATE."""

    key = models.CharField(max_length=200, primary_key=True)
    document = models.TextField()
    # random on every write: a process keeps the account state it last read or wrote while the row
    # still has its stamp (execution.broker.simulator_store)
    stamp = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.key
