"""The database on the app: one engine and session factory, one session per request."""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.orm import Session, sessionmaker

from grader.config import Settings
from grader.db import make_engine, make_sessions


def init_app(app: Flask, settings: Settings) -> None:
    """Build the engine and sessions and close each request's session at teardown."""
    if settings.database_url.startswith("sqlite:///"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database_url)
    app.extensions["grader.engine"] = engine
    app.extensions["grader.sessions"] = make_sessions(engine)
    app.teardown_appcontext(close_session)


def sessions() -> sessionmaker[Session]:
    """Return the app's session factory."""
    return current_app.extensions["grader.sessions"]


def get_session() -> Session:
    """Return this request's session, opening it on first use."""
    if "db_session" not in g:
        g.db_session = sessions()()
    return g.db_session


def close_session(_exc: BaseException | None = None) -> None:
    """Close this request's session, rolling back anything uncommitted."""
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
