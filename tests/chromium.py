"""Debian's Chromium for the browser tests, launched by Playwright with the flags this machine needs.

Without the background-networking flags Chromium tries to reach Google's services, which the closed
network refuses; --no-sandbox because CI runs as root.
"""

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
