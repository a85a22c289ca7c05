"""One module per engine; each defines ``router`` and is mounted under /v1 automatically."""
