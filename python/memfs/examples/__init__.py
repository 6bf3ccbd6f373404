"""Examples kept importable for the original memfs's README (``memfs.examples.custom_filesystem``)."""
