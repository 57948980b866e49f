"""Votive's API: polls and votes, kept in SQLite, served with the standard library."""

import os

VERSION = os.environ.get("VOTIVE_VERSION", "dev")
