"""``python -m mojang_chat serve | ask | demo | invoke``: the application on this machine."""

from __future__ import annotations

import sys

from mojang_chat.local.cli import main

if __name__ == "__main__":
    sys.exit(main())
