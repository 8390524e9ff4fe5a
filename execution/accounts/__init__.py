"""Trading accounts: connecting and setting them up, their figures, symbols (and how a written
symbol maps to the broker's), and the risk settings that size their orders."""
