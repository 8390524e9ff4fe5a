"""The broker seam: gateways (one async interface, venue adapters) and one connector per platform
``api`` owning setup, streaming and faults. Nothing outside this package asks which venue an
account is on."""
