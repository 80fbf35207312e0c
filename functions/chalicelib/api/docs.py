"""``/v1/docs``: Swagger UI rendering ``openapi.json``, its files served by the API itself from the
``swagger-ui-bundle-v2`` package, so the page works offline and behind strict firewalls (no CDN)."""
from __future__ import annotations

from functools import lru_cache

# The only files the page needs, with their content types; anything else is a 404.
ASSETS = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "application/javascript; charset=utf-8",
}

DOCS_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Airwaves API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="docs/assets/swagger-ui.css"></head>
<body>
<main id="swagger-ui" aria-label="Airwaves API reference"></main>
<noscript>The machine-readable contract is at <a href="openapi.json">openapi.json</a>.</noscript>
<script src="docs/assets/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({url: "openapi.json", dom_id: "#swagger-ui", deepLinking: true});
</script>
</body></html>
"""


@lru_cache(maxsize=len(ASSETS))
def asset(name: str) -> str | None:
    """The bytes of one of Swagger UI's files, or None when ``name`` is not one we serve."""
    if name not in ASSETS:
        return None
    from swagger_ui_bundle import swagger_ui_path

    text: str = (swagger_ui_path / name).read_text(encoding="utf-8")
    return text
