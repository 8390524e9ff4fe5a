"""Where signal messages come from. Every source speaks :mod:`.base`'s events to the intake."""
