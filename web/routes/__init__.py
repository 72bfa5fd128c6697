"""The JSON API (documented at /docs and /openapi.json), one router per resource.

Each router mirrors what the pages do; app.py includes them in this order.
"""

from __future__ import annotations

from web.routes import chapters, files, lexicon, projects, qa, system

ROUTERS = (
    system.router,
    projects.router,
    chapters.router,
    files.router,
    lexicon.router,
    qa.router,
)
