"""Console pages, one module per package, each with ``router`` and ``NAV`` (see finbridge.web)."""
