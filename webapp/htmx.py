"""Small helpers for htmx requests (htmx 2.0.x request and response headers)."""

from __future__ import annotations

from flask import Flask, Response, g, make_response, request


def is_htmx() -> bool:
    # A response chosen by this header must say so, or a cache could serve a partial as a page.
    g.varies_on_htmx = True
    return request.headers.get("HX-Request") == "true"


def client_redirect(url: str, status: int = 200) -> Response:
    """Make htmx navigate the whole page instead of swapping a response into a panel."""
    response = make_response("", status)
    response.headers["HX-Redirect"] = url
    return response


def init_app(app: Flask) -> None:
    @app.after_request
    def _vary(response: Response) -> Response:
        if g.get("varies_on_htmx"):
            response.vary.add("HX-Request")
        return response
