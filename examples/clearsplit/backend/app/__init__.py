"""ClearSplit's API."""

import os

VERSION = os.environ.get("CLEARSPLIT_VERSION", "dev")
