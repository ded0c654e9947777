"""The wallet service: its HTTP refusals (409, 429, 404, 405), the port it binds, bearer
authentication (401/403), the sign-in flow (428/410/409/404) and shutdown (503)."""

from __future__ import annotations

from mm_agent.errors.base import MMError, ServiceError

__all__ = [
    "AuthError",
    "AuthorizationPending",
    "Forbidden",
    "IdempotencyConflict",
    "InvalidOtp",
    "LinkUsed",
    "LoginExpired",
    "LoginNotFound",
    "MethodNotAllowed",
    "NotAuthenticated",
    "PortInUse",
    "RateLimited",
    "RouteNotFound",
    "ServiceStopping",
    "SignInError",
]


# --- what the wallet service refuses, and the port it binds -----------------------------------
class IdempotencyConflict(MMError):
    code = "IDEMPOTENCY_CONFLICT"
    http_status = 409


class RateLimited(MMError):
    code = "RATE_LIMITED"
    http_status = 429
    default_hint = "Too many requests; wait `retryAfterSeconds` and try again."


class RouteNotFound(MMError):
    code = "NOT_FOUND"
    http_status = 404


class MethodNotAllowed(MMError):
    code = "METHOD_NOT_ALLOWED"
    http_status = 405


class PortInUse(MMError):
    code = "PORT_IN_USE"
    http_status = 422
    exit_code = 2


# --- authentication and sign-in ---------------------------------------------------------------
class AuthError(MMError):
    code = "AUTH_ERROR"
    http_status = 401


class NotAuthenticated(AuthError):
    code = "NOT_AUTHENTICATED"
    default_hint = "Run `mm login`."


class Forbidden(AuthError):
    code = "FORBIDDEN"
    http_status = 403


class InvalidOtp(AuthError):
    code = "INVALID_OTP"
    default_hint = (
        "Enter the current 6-digit code from your authenticator app (each code works once).")


# Not AuthErrors: the service answers them with 428/410/409/404, not 401.
class SignInError(MMError):
    code = "SIGNIN_ERROR"
    http_status = 422


class AuthorizationPending(SignInError):
    code = "AUTHORIZATION_PENDING"
    http_status = 428
    default_hint = "Finish signing in on the page the CLI showed; the CLI keeps polling."


class LoginExpired(SignInError):
    code = "EXPIRED"
    http_status = 410
    default_hint = "Start again with `mm login`."


class LinkUsed(SignInError):
    code = "ALREADY_USED"
    http_status = 409
    default_hint = "Each link works once; start again with `mm login` if you need to."


class LoginNotFound(SignInError):
    code = "LOGIN_NOT_FOUND"
    http_status = 404
    default_hint = "Start again with `mm login`."


# --- shutdown ---------------------------------------------------------------------------------
class ServiceStopping(ServiceError):
    """The service is shutting down; an open long poll ends with this instead of holding
    the shutdown up."""

    code = "SERVICE_STOPPING"
    http_status = 503
    default_hint = ("The wallet service is stopping or restarting; the request goes on. Retry "
                    "in a few seconds (`mm wallet requests watch <pollingId>`).")
