"""Execution: trading accounts and every broker operation on them, through the safety layer.

One concept per package: ``accounts`` (trading accounts, their setup, symbols, risk settings),
``broker`` (the seam to the venues: gateways and one connector per platform ``api``), ``orders``
(operations: accept, kinds, pipeline, sweeper), ``safety`` (pause, broker health, speed control,
retries, classification, volume), ``live`` (the dashboard's events, snapshot, publishing,
streaming), ``web`` (pages, forms, API, websocket). The next capability drops in as a package of
its own beside them.
"""
