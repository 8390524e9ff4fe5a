"""The live dashboard's data: the event contract, who receives what, the snapshot, publishing after
commit from any process, and the broker streams that feed it."""
