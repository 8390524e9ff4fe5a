"""Pure-Python execution safety primitives: error classification, retries, pause, health, speed, volume."""
