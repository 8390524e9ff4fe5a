"""The simulated broker's state, shared by every process through the database."""

from django.db import models


class SimulatorDocument(models.Model):
    """The simulated broker's state (accounts, fault settings) as JSON documents, shared by every
    process through the database and locked per key with SELECT ... FOR UPDATE."""

    key = models.CharField(max_length=200, primary_key=True)
    document = models.TextField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.key
