"""The HTTP side of ``alsel annotate``: a Starlette app over a :class:`~alsel.annotate.core.Round`.

Security (docs/annotate.md):

- every request needs the access token: ``?token=`` in the URL printed at start (the page then
  sets it as an HttpOnly, SameSite=Strict cookie and redirects to a URL without it), the cookie,
  or an ``Authorization: token <token>`` header (scripts);
- a state-changing request (POST) also needs the session's CSRF token in the ``X-CSRF-Token``
  header (the page reads it from ``/api/state``, which another site cannot read), a JSON body,
  and, when the browser sends an ``Origin``, the server's own origin;
- images are addressed by id, only images of pending queries are served, and only files inside
  the image folder (:mod:`alsel.annotate.images`); the page's own files come from a fixed list.
"""

from __future__ import annotations

import json
import re
import secrets
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from .core import Round, RoundError, Session

STATIC = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8",
          "index.html": "text/html; charset=utf-8"}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self'; object-src 'none'; base-uri 'none'; "
                               "frame-ancestors 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
_DIGITS = re.compile(r"[0-9]{1,9}")


def _static(name: str) -> bytes:
    return resources.files("alsel.annotate").joinpath("static", name).read_bytes()


def create_app(round_: Round, *, token: str | None = None) -> Starlette:
    """The ASGI app serving ``round_``; ``app.state.token`` is its access token.

    Parameters
    ----------
    round_ : Round
        The queries, the store and the images (see :func:`alsel.annotate.make_round`).
    token : str, optional
        The access token; a random one (``secrets.token_urlsafe(32)``) by default.
    """
    token = token or secrets.token_urlsafe(32)
    if len(token) < 16:
        raise ValueError("token must have at least 16 characters (or leave it out for a random one).")
    pages = {name: _static(name) for name in STATIC}

    def cookie(request: Request, kind: str) -> str:
        # Cookies are not scoped by port: two servers on one host must not overwrite each other's.
        return f"alsel-{kind}-{request.url.port or 0}"

    def authorized(request: Request) -> bool:
        offered = [request.cookies.get(cookie(request, "token"), ""), request.query_params.get("token", "")]
        header = request.headers.get("authorization", "")
        if header.lower().startswith("token "):
            offered.append(header[6:].strip())
        return any(secrets.compare_digest(o.encode(), token.encode()) for o in offered if o)

    def session_of(request: Request) -> Session | None:
        return round_.session(request.cookies.get(cookie(request, "session")))

    def respond(response: Response) -> Response:
        response.headers.update(SECURITY_HEADERS)
        return response

    def error(message: str, status: int) -> Response:
        return respond(JSONResponse({"error": message}, status_code=status))

    def forbidden() -> Response:
        return respond(PlainTextResponse(
            "403: this alsel annotate server needs its access token; open the URL printed when it "
            "started (http://HOST:PORT/?token=...).", status_code=403))

    async def index(request: Request) -> Response:
        if not authorized(request):
            return forbidden()
        session = session_of(request)
        if "token" in request.query_params or session is None:
            # Set the cookies, then drop the token from the address bar (and from the history).
            response = RedirectResponse("/", status_code=303)
            secure = request.url.scheme == "https"
            response.set_cookie(cookie(request, "token"), token, httponly=True, samesite="strict", secure=secure)
            if session is None:
                session = round_.new_session()
                response.set_cookie(cookie(request, "session"), session.id, httponly=True, samesite="strict",
                                    secure=secure)
            return respond(response)
        return respond(Response(pages["index.html"], media_type=STATIC["index.html"]))

    async def static(request: Request) -> Response:
        if not authorized(request):
            return forbidden()
        name = request.path_params["name"]
        if name not in STATIC or name == "index.html":
            return error("no such file", 404)
        return respond(Response(pages[name], media_type=STATIC[name]))

    async def image(request: Request) -> Response:
        if not authorized(request) or session_of(request) is None:
            return forbidden()
        text = request.path_params["image"]
        if not _DIGITS.fullmatch(text):
            return error("no such image", 404)
        path = round_.image_path(int(text))
        if path is None:
            return error("no such image", 404)
        response = FileResponse(path, media_type=round_.images.media_type(int(text)))
        response.headers.update(SECURITY_HEADERS)
        response.headers["Cache-Control"] = "private, max-age=3600"
        return response

    def state(session: Session, **extra: Any) -> dict:
        return {"progress": round_.progress(session), "name": session.name,
                "lease_seconds": round_.lease_seconds, **extra}

    def caller(request: Request) -> Session | Response:
        """The request's session, or the response that refuses it (no token, no session)."""
        if not authorized(request):
            return forbidden()
        session = session_of(request)
        if session is None:
            return error("no session: open the page (/) first to get one.", 403)
        return session

    async def api_state(request: Request) -> Response:
        session = caller(request)
        if isinstance(session, Response):
            return session
        return respond(JSONResponse(state(session, csrf=session.csrf)))

    def post(handler):
        async def endpoint(request: Request) -> Response:
            session = caller(request)
            if isinstance(session, Response):
                return session
            origin = request.headers.get("origin")
            own = f"{request.url.scheme}://{request.headers.get('host', '')}"
            if origin is not None and origin != own:
                return error(f"cross-origin request from {origin!r} refused.", 403)
            if not secrets.compare_digest(request.headers.get("x-csrf-token", "").encode(), session.csrf.encode()):
                return error("missing or wrong X-CSRF-Token header (reload the page).", 403)
            if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
                return error("the body must be JSON (Content-Type: application/json).", 415)
            try:
                body = json.loads(await request.body() or b"{}")
            except (json.JSONDecodeError, UnicodeDecodeError):
                return error("the body is not valid JSON.", 400)
            if not isinstance(body, dict):
                return error("the body must be a JSON object.", 400)
            try:
                result = await run_in_threadpool(handler, session, body)
            except RoundError as exc:
                return error(str(exc), exc.status)
            return respond(JSONResponse(result))
        return endpoint

    def do_next(session: Session, body: dict) -> dict:
        pair = round_.next(session)
        return state(session, query=round_.describe(pair), done=round_.done)

    def do_answer(session: Session, body: dict) -> dict:
        answer = body.get("answer")
        if answer not in ("yes", "no"):
            raise RoundError(f"answer must be 'yes' or 'no'; got {answer!r}.", 400)
        stored = round_.answer(session, body.get("image"), body.get("cls"), answer == "yes", body.get("seconds"))
        return state(session, saved=True, repeated=not stored)

    def do_skip(session: Session, body: dict) -> dict:
        round_.skip(session, body.get("image"), body.get("cls"))
        return do_next(session, body)

    def do_undo(session: Session, body: dict) -> dict:
        pair = round_.undo(session)
        return state(session, query=round_.describe(pair), done=False, undone=list(pair))

    def do_name(session: Session, body: dict) -> dict:
        round_.rename(session, body.get("name"))
        return state(session)

    routes = [
        Route("/", index, methods=["GET"]),
        Route("/static/{name}", static, methods=["GET"]),
        Route("/image/{image}", image, methods=["GET"]),
        Route("/api/state", api_state, methods=["GET"]),
        Route("/api/next", post(do_next), methods=["POST"]),
        Route("/api/answer", post(do_answer), methods=["POST"]),
        Route("/api/skip", post(do_skip), methods=["POST"]),
        Route("/api/undo", post(do_undo), methods=["POST"]),
        Route("/api/name", post(do_name), methods=["POST"]),
    ]
    app = Starlette(routes=routes)
    app.state.token = token
    app.state.round = round_
    return app
