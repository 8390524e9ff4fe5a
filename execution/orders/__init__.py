"""Broker operations: accepted as durable rows, enqueued after commit, run by the pipeline through
the safety gates, recovered by the sweeper; never doubled."""
