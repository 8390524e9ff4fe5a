"""Position protection: breakeven at a take-profit, take-profits per position, trailing stops.

``rules`` holds its decisions as pure functions; what watches the market and sends the moves
builds on them.
"""
