"""Position protection: breakeven at a take-profit, take-profits per position, trailing stops.

``rules`` holds its decisions as pure functions; ``watcher`` follows each account's broker stream
and asks ``services`` for the moves (manage_trade operations, one of each kind in flight per
trade); ``models`` keeps the settings, each trade's progress and its steps; ``selectors`` reads them
(the watched trades, a trade's plan); ``web`` is its API.
"""
