"""HS256 bearer JWTs (PyJWT): who (``sub``) and what it may do (``scope`` and/or ``scopes``).

``exp`` and ``sub`` are required; the reasons a token is refused are named (expired, bad
signature, a missing claim) but the token itself is never quoted back.
"""

from __future__ import annotations

from dataclasses import dataclass

import jwt

__all__ = ["InvalidToken", "TokenClaims", "verify_jwt"]


class InvalidToken(Exception):
    """Why a JWT is refused, in words that do not quote it."""


@dataclass(frozen=True, slots=True)
class TokenClaims:
    subject: str
    scopes: frozenset[str]


def verify_jwt(token: str, secret: str, *, audience: str | None = None, leeway: float = 0.0) -> TokenClaims:
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], audience=audience, leeway=leeway,
                            options={"require": ["exp", "sub"], "verify_aud": audience is not None})
    except jwt.ExpiredSignatureError:
        raise InvalidToken("the token has expired (exp)") from None
    except jwt.InvalidSignatureError:
        raise InvalidToken("the token's signature does not match (HS256 with the configured secret)") from None
    except jwt.MissingRequiredClaimError as exc:
        raise InvalidToken(f"the token lacks the {exc.claim!r} claim") from None
    except jwt.InvalidAlgorithmError:
        raise InvalidToken("the token is not signed with HS256") from None
    except jwt.InvalidAudienceError:
        raise InvalidToken("the token's audience (aud) is not this service") from None
    except jwt.ImmatureSignatureError:
        raise InvalidToken("the token is not valid yet (nbf/iat)") from None
    except jwt.InvalidTokenError as exc:
        raise InvalidToken(f"the token is malformed ({type(exc).__name__})") from None
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject.strip() or len(subject) > 200:
        raise InvalidToken("the token's sub must be a non-empty string of at most 200 characters")
    scopes: set[str] = set()
    if isinstance(claims.get("scope"), str):
        scopes.update(claims["scope"].split())
    if isinstance(claims.get("scopes"), list):
        scopes.update(s for s in claims["scopes"] if isinstance(s, str))
    return TokenClaims(subject, frozenset(scopes))
