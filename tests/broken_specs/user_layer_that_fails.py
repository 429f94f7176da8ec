"""A user-layer file whose import raises (the catalogue checks the message)."""

BROKEN = 1 / 0
