"""The wallet service (`mm server`): keys held only here, requests as async jobs.

Modules: ``store`` (database, migrations), ``keys`` (master key, wallet key encryption),
``auth`` (tokens and scopes), ``signin`` (device, magic-link and authenticator sign-in),
``mailer`` (SMTP / dev outbox), ``jobs`` (the worker that runs the engine pipeline),
``app`` (the FastAPI application), ``pages`` (server-rendered HTML).
"""
