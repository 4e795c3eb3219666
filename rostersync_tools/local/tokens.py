"""Bearer tokens for the local stack: what Cognito issues and the JWT authorizer checks, deployed.

One RS256 key pair lives in the state directory (private key mode 600), created by whichever
of `local up` or `local token` runs first and reused afterwards, so tokens survive restarts.
People's tokens look like Cognito ID tokens (the custom attributes and an `aud`); an API
client's look like the access tokens Cognito's client-credentials flow issues (`token_use`
access, `client_id`, `scope`, no `aud`). Like the HTTP API's JWT authorizer, the local stack
takes a token whose `aud` is one of its audiences or, without `aud`, whose `client_id` is.
"""

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

# The local stack's issuer and audience; deployed they are the user pool and its app client.
LOCAL_ISSUER = "http://127.0.0.1/rostersync-local-user-pool"
LOCAL_AUDIENCE = "rostersync-local-client"
# The local stand-ins of the template's machine app clients (UserPoolClient for people,
# RosterReaderClient for the app's backend): `local token --client app`.
LOCAL_MACHINE_CLIENTS = {"app": "rostersync-local-app"}
LOCAL_AUDIENCES = (LOCAL_AUDIENCE, *LOCAL_MACHINE_CLIENTS.values())
READ_SCOPE = "roster/read"  # as the template's resource server names it (api/access.py reads it)
WRITE_SCOPE = "roster/write"  # registers app records (api/app_records.py)
ROLES = ("platform_admin", "district_admin", "teacher")
PRIVATE_KEY_FILE = "local-jwt-key.pem"
DEFAULT_EXPIRES_IN_S = 3600  # as a Cognito ID token


class InvalidToken(Exception):
    """Why a bearer token was refused (for the log; the caller only ever sees 401)."""


@dataclass(frozen=True)
class KeyPair:
    private_key: rsa.RSAPrivateKey
    kid: str

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()


def _kid(private_key: rsa.RSAPrivateKey) -> str:
    """Key id: a digest of the public key, so a token from another key pair is told apart at once."""
    der = private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()[:16]


def load_or_create_key_pair(state_dir: Path) -> KeyPair:
    """The state directory's key pair; created with mode 600 when missing.

    `up` and `token` may race on a fresh directory: the key is written to a private temporary
    file and linked into place, which fails if another process won; then theirs is read.
    """
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / PRIVATE_KEY_FILE
    if not path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        tmp = state_dir / f".{PRIVATE_KEY_FILE}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, pem)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    stored = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(stored, rsa.RSAPrivateKey):
        raise ValueError(f"{path} holds a {type(stored).__name__}, not the RSA key tokens are signed with")
    return KeyPair(private_key=stored, kid=_kid(stored))


def issue_token(
    keys: KeyPair,
    role: str,
    district_id: str | None = None,
    sub: str | None = None,
    expires_in_s: int = DEFAULT_EXPIRES_IN_S,
    now: float | None = None,
    **extra_claims,
) -> str:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    issued_at = int(now if now is not None else time.time())
    claims = {
        "sub": sub or f"local-{role.replace('_', '-')}",
        "custom:role": role,
        "iss": LOCAL_ISSUER,
        "aud": LOCAL_AUDIENCE,
        "iat": issued_at,
        "exp": issued_at + int(expires_in_s),
        "token_use": "id",
    }
    if district_id:
        claims["custom:district_id"] = district_id
    claims.update(extra_claims)
    return jwt.encode(claims, keys.private_key, algorithm="RS256", headers={"kid": keys.kid})


def issue_client_token(
    keys: KeyPair,
    client: str = "app",
    district_id: str | None = None,
    expires_in_s: int = DEFAULT_EXPIRES_IN_S,
    now: float | None = None,
    write: bool = False,
    **extra_claims,
) -> str:
    """An API client's access token: scope roster/read (every district) or, with a district,
    roster/read:<districtId> only; with `write`, roster/write (or roster/write:<districtId>) too."""
    if client not in LOCAL_MACHINE_CLIENTS:
        raise ValueError(f"client must be one of {', '.join(LOCAL_MACHINE_CLIENTS)}")
    client_id = LOCAL_MACHINE_CLIENTS[client]
    issued_at = int(now if now is not None else time.time())
    claims = {
        "sub": client_id,
        "client_id": client_id,
        "token_use": "access",
        "scope": " ".join(
            f"{scope}:{district_id}" if district_id else scope
            for scope in ((READ_SCOPE, WRITE_SCOPE) if write else (READ_SCOPE,))
        ),
        "iss": LOCAL_ISSUER,
        "iat": issued_at,
        "exp": issued_at + int(expires_in_s),
        "jti": hashlib.sha256(os.urandom(16)).hexdigest()[:32],
    }
    claims.update(extra_claims)
    return jwt.encode(claims, keys.private_key, algorithm="RS256", headers={"kid": keys.kid})


def bearer_from_header(authorization: str | None) -> str:
    """The token from an Authorization header; API Gateway takes it with or without `Bearer `."""
    value = (authorization or "").strip()
    if not value:
        raise InvalidToken("no Authorization header")
    if value[:7].lower() == "bearer ":
        value = value[7:].strip()
    if not value:
        raise InvalidToken("empty bearer token")
    return value


def verify_token(keys: KeyPair, token: str) -> dict:
    """The claims, checked as the HTTP API JWT authorizer does: key id, RS256 signature,
    issuer, audience (`aud`, or `client_id` when there is no `aud`), expiry and not-before.
    Anything else raises InvalidToken."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise InvalidToken(f"malformed token: {type(error).__name__}") from None
    if header.get("kid") != keys.kid:
        raise InvalidToken("unknown key id")
    try:
        claims = jwt.decode(
            token,
            keys.public_key,
            algorithms=["RS256"],
            issuer=LOCAL_ISSUER,
            options={"require": ["exp", "iat", "iss", "sub"], "verify_aud": False},
        )
    except jwt.PyJWTError as error:
        # The exception's name says why (ExpiredSignatureError, InvalidAudienceError, ...);
        # its text never contains the token.
        raise InvalidToken(type(error).__name__) from None
    audience = claims["aud"] if "aud" in claims else claims.get("client_id")
    audiences = audience if isinstance(audience, list) else [audience]
    if not any(isinstance(a, str) and a in LOCAL_AUDIENCES for a in audiences):
        raise InvalidToken("InvalidAudienceError")
    return claims


def authorizer_claims(claims: dict) -> dict[str, str]:
    """Claims as API Gateway puts them in requestContext.authorizer.jwt.claims: every value a string."""
    out = {}
    for name, value in claims.items():
        if isinstance(value, bool):
            out[name] = "true" if value else "false"
        elif isinstance(value, list):
            # API Gateway renders arrays as "[a b]".
            out[name] = "[" + " ".join(str(v) for v in value) + "]"
        else:
            out[name] = str(value)
    return out


def authorizer_scopes(claims: dict) -> list[str] | None:
    """requestContext.authorizer.jwt.scopes: the `scope` claim split, null without one (ID tokens)."""
    scope = claims.get("scope")
    return scope.split() if isinstance(scope, str) and scope.strip() else None
