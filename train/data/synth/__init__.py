"""The embedded default data set: spoken digits synthesized offline with espeak-ng (see :mod:`.corpus`)."""
