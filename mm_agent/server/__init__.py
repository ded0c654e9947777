"""The wallet service (`mm server`): keys held only here, requests as async jobs.

Layers, lowest first (``tests/test_architecture.py`` keeps them acyclic): ``settings``,
``datadir``, ``http`` (the JSON envelope), ``html`` (page templates); ``db/`` (store,
migrations); ``services/`` (auth, signin, keys, mailer, policy, outflows, approvals,
approval_guard, cancel, precheck, ratelimit, webhooks, chains_served, ``jobs/``: queue, steps,
reconcile, runner); ``deps`` (the collaborators and typed FastAPI dependencies); ``routes/``;
``app`` (the factory), ``middleware`` (the front door), ``openapi``, ``admin``.

HTTP API (the client in ``mm_agent/wallets/remote/client.py`` speaks exactly this)
-------------------------------------------------------------------
Every JSON response is the CLI's envelope: ``{"ok": true, "data": {...}}`` or
``{"ok": false, "error": {"code", "message", "hint"?}}`` with a 4xx/5xx status
from the error class's ``http_status`` (400 validation, 401 NOT_AUTHENTICATED / INVALID_OTP,
403 FORBIDDEN, 404 *_NOT_FOUND, 409 IDEMPOTENCY_CONFLICT / ALREADY_* / state, 410 EXPIRED,
422 chain and transaction errors, 428 AUTHORIZATION_PENDING, 429, 503 SERVICE_STOPPING).
Authenticated calls send ``Authorization: Bearer <accessToken>``. Tokens are opaque:
``mma_…`` access (15 min), ``mmr_…`` refresh (30 days, rotated on use). Scope ``agent`` is what
CLI tokens carry: submit, read, tighten. Approving, broadening a policy and key material are
never reachable with them.

- ``GET /healthz`` → ``{status: "ok", schemaVersion}``
- ``POST /v1/auth/refresh`` ``{refreshToken}`` → ``{accessToken, refreshToken, expiresIn,
  email, channel}``
- ``POST /v1/auth/logout`` (auth) → ``{loggedOut: true}`` (revokes the whole token family)
- ``GET /v1/auth/status`` (auth) → ``{email, channel, scope, expiresAt}``
- ``POST /v1/auth/device`` ``{method: "browser"|"qr"}`` → ``{deviceCode, verificationUrl,
  expiresIn, interval}``; ``deviceCode`` is the CLI's polling secret, ``verificationUrl`` the
  page the human opens (``/login/{id}`` or ``/pair/{id}``).
- ``POST /v1/auth/device/token`` ``{deviceCode}`` → tokens as for refresh, or 428
  ``AUTHORIZATION_PENDING``, or 410 ``EXPIRED``.
- Pages: ``GET/POST /login/{id}`` (email form → magic link mailed), ``GET /login/verify?t=``
  (follows the magic link, approves the device login), ``GET/POST /pair/{id}`` (authenticator
  provisioning QR as SVG + email + current code).
- ``GET /v1/wallets`` → ``{wallets: [wallet]}``; ``POST /v1/wallets`` ``{name?, tradingMode?}``
  → wallet; ``GET /v1/wallets/{address}`` → wallet, where wallet =
  ``{address, name, tradingMode, createdAt}``.
- ``GET /v1/wallets/{address}/balance?chainIds=1,8453&token=&tokenContracts=`` → the
  ``mm wallet balance`` object.
- ``POST /v1/wallets/{address}/requests`` (header ``Idempotency-Key`` optional) body
  ``{kind: "transfer"|"transaction"|"message"|"typed-data", chainId, dryRun?, intent?,
  to?, amount?, token? (transfer), payload? (transaction: JSON object; typed-data: object),
  message? (message)}`` → 202 with the request (contract §4), or 200 with the preview when
  ``dryRun``.
- ``GET /v1/requests/{pollingId}/wait?…&until=final`` returns only at a terminal status or
  AWAITING_MFA (what ``--wait`` needs), skipping intermediate steps.
- ``GET /v1/requests?limit=50`` → ``{requests: [request]}`` (newest first);
  ``GET /v1/requests/{pollingId}`` → request;
  ``GET /v1/requests/{pollingId}/wait?version=N&timeout=25`` → the request as soon as its
  ``version`` exceeds N or it is terminal, else the current request after ``timeout`` seconds
  (long poll, event-driven).
- ``GET /v1/wallets/{address}/policy`` → ``{policy: "<yaml>", address}``;
  ``PUT`` ``{policy}`` → ``{status: "confirmed"|"pending_approval", pollingId, changes}``.
- ``GET /v1/wallets/{address}/trading-mode`` → ``{tradingMode, address}``; ``PUT`` ``{mode}``
  → ``{status, pollingId?, tradingMode, requestedMode?}`` (guard → beast waits for approval).
- ``GET/POST /approvals/{id}`` (human approval page, contract §7; form fields ``t``,
  ``decision=approve|reject`` and ``otp`` on the authenticator channel).

Request JSON = contract §4 plus ``version`` (bumps on every change) and ``address``.
"""
