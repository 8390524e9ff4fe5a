"""The edges of execution: server-rendered pages, forms, the DRF API and the live websocket. Each
parses, checks permission and calls one service."""
