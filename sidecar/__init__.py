"""Secure Privacy sidecar: verifies signed consent events from the WordPress plugin, stores
them as proof in the site's database, and serves them to admins."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from . import config as config_mod

if TYPE_CHECKING:
    from flask import Flask


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app from the SP_* environment; `test_config` overrides single settings.
    A bad setting or an unreachable database raises `config.StartupError`, one line that
    gunicorn prints without a traceback before its master exits."""
    try:
        return _build(test_config)
    except config_mod.StartupError:
        raise
    except config_mod.ConfigError as e:
        raise config_mod.StartupError(f"sidecar: configuration error: {e}") from None


def _build(test_config: dict | None) -> Flask:
    # Imported here, not with the package: gunicorn's master reads sidecar.gunicorn_conf and
    # the settings without loading the app, which its gevent workers load once patched.
    from flask import Flask

    from . import commit, db, errors, geo, ingest, logs
    app = Flask(__name__)
    app.config.from_mapping(config_mod.load(overrides=test_config))
    app.config["MAX_CONTENT_LENGTH"] = app.config["SP_MAX_BODY_BYTES"]
    app.json.sort_keys = False
    try:
        geo.reader(app.config["SP_GEOIP_DB"] or None)
    except (OSError, ValueError) as e:
        raise config_mod.ConfigError(f"SP_GEOIP_DB: cannot open the database: {e}") from None
    db.init_app(app)
    if str(app.config.get("SP_AUTO_MIGRATE", "1")) != "0":
        # docs/api.md §5: migrations also run at start (idempotent, serialised by a DB lock).
        db.migrate(app.config["SP_DATABASE_URL"], app.config["SP_TABLE_PREFIX"])
    if _group_commit(app.config["SP_GROUP_COMMIT"]):
        app.extensions["sp_committer"] = commit.GroupCommitter(
            app.config["SP_DATABASE_URL"], app.config["SP_TABLE_PREFIX"])
    errors.init_app(app)
    logs.init_app(app)

    from . import admin, api, metrics, openapi
    app.register_blueprint(api.bp)
    app.register_blueprint(metrics.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(admin.bp)
    app.wsgi_app = ingest.FastPath(app)
    return app


def _group_commit(mode: str) -> bool:
    """Group commit pays where one process serves many requests at once, as gunicorn's gevent
    worker does (gunicorn.conf.py); a sync worker serves one at a time. `auto` = on exactly
    when gevent has patched this process's threads."""
    if mode != "auto":
        return mode == "on"
    gevent_monkey = sys.modules.get("gevent.monkey")
    return bool(gevent_monkey and gevent_monkey.is_module_patched("threading"))
