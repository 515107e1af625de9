"""aTES application factory."""

import logging

from flask import Flask

from app.config import Config, config_from_env
from app.transaction import App


def create_app(config_class: type[Config] | None = None) -> Flask:
    config_class = config_class or config_from_env()
    app = App(__name__, instance_relative_config=True)
    app.config.from_object(config_class)
    config_class.prepare(app.config)
    # Not through app.logger, which would attach Flask's handler now: the job worker's own
    # logging set-up comes later, and each line would be written twice.
    logging.getLogger(app.import_name).setLevel(app.config["LOG_LEVEL"])
    if app.config["PROXY_FIX_X_FOR"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["PROXY_FIX_X_FOR"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)

    from app import rate_limits  # noqa: F401 - registers the database:// limiter storage
    from app.db import include_in_migrations, render_migration_item  # and the engine events
    from app.errors import register_error_handlers
    from app.extensions import csrf, db, limiter, login_manager, migrate
    from app.i18n import N_, init_i18n
    from app.transaction import init_transactions
    from app.web import init_web

    db.init_app(app)
    migrate.init_app(
        app,
        db,
        render_as_batch=True,
        compare_type=True,
        render_item=render_migration_item,
        include_object=include_in_migrations,
    )
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.sign_in"
    login_manager.login_message = N_("Sign in to continue.")  # translated when flashed
    login_manager.login_message_category = "info"
    init_transactions(app)
    init_web(app)
    init_i18n(app)
    register_error_handlers(app)

    from app import signals
    from app.blueprints import accounting, analytics, api, auth, notifications, tasks
    from app.demo import demo_cli
    from app.worker import jobs_cli

    for blueprint in (auth, tasks, accounting, analytics, notifications):
        app.register_blueprint(blueprint.bp)
        signals.connect(getattr(blueprint, "RECEIVERS", ()))
        for group in getattr(blueprint, "CLI_GROUPS", ()):  # `flask --app wsgi <group> …`
            app.cli.add_command(group)
    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)  # token-authenticated only: the session cookie is never read there
    app.cli.add_command(demo_cli)
    app.cli.add_command(jobs_cli)
    return app
