"""Where operations run: one long-lived event loop per worker process (``loop.py``), a home per
account (``homes.py``: the one live process that runs the account's operations and holds its broker
session), and the engine that serves the accounts homed here (``engine.py``), booted in every worker
that consumes the execution queue (``middleware.py``)."""
