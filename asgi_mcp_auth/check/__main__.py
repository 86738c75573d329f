"""`python -m asgi_mcp_auth.check URL --token-for ROLE=TOKEN ...`"""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
