"""Trading signals: messages from signal channels read into trades and changes to trades.

``parsing`` reads one message (deterministic, no outside service); the pipeline that turns a reading
into operations on routed accounts builds on it.
"""
