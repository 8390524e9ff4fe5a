"""The organization's audit log: who changed members, permissions, credentials, API clients, risk
settings, and who used the kill switch. Append-only: an event is written once, never changed."""
