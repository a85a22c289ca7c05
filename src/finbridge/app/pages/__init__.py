"""The app's pages; each module has a ``router`` listed in ``mount.APP_PAGES``."""
