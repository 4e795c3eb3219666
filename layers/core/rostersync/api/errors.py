"""The API's one error shape: {"error": {"code": "snake_case", "message": "what to do"}}."""

from http import HTTPStatus


class ApiError(Exception):
    """Raise anywhere below a route; the resolver turns it into the contract's error body."""

    def __init__(self, status: int, code: str, message: str, **extra):
        super().__init__(message)
        self.status = int(status)
        self.code = code
        self.message = message
        self.extra = extra  # e.g. runId on a 409 for a sync already running

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, **self.extra}}


def unauthorized(message: str = "Sign in again: the request carries no valid bearer token.") -> ApiError:
    return ApiError(HTTPStatus.UNAUTHORIZED, "unauthorized", message)


def forbidden(message: str = "Your account may not do this.") -> ApiError:
    return ApiError(HTTPStatus.FORBIDDEN, "forbidden", message)


def not_found(what: str) -> ApiError:
    return ApiError(HTTPStatus.NOT_FOUND, "not_found", f"No such {what}.")


def conflict(code: str, message: str, **extra) -> ApiError:
    return ApiError(HTTPStatus.CONFLICT, code, message, **extra)


def unprocessable(code: str, message: str, **extra) -> ApiError:
    return ApiError(HTTPStatus.UNPROCESSABLE_ENTITY, code, message, **extra)


def bad_request(code: str, message: str) -> ApiError:
    return ApiError(HTTPStatus.BAD_REQUEST, code, message)


def internal_error() -> ApiError:
    """What a caller sees of an unexpected failure: no detail (it is in the logs)."""
    return ApiError(
        HTTPStatus.INTERNAL_SERVER_ERROR,
        "internal_error",
        "Something went wrong on our side. Try again; if it keeps happening, contact support.",
    )
