"""A finished run, read back from its directory: its model (`load`), evaluation on any data,
predictions, the decision surface of a 2-D classifier, and its weights exported or imported.
Nothing here prints; warnings travel back as data."""
