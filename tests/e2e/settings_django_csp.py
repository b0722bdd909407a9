"""The demo under django-csp 4 with a nonce-only policy (its nonce is lazy)."""

from csp.constants import NONCE, NONE, SELF

from config.settings import *  # noqa: F403
from config.settings import MIDDLEWARE

MIDDLEWARE = [*MIDDLEWARE, "csp.middleware.CSPMiddleware"]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [NONE],
        "script-src": [NONCE],
        "style-src": [NONCE],
        "connect-src": [SELF],
        "img-src": [SELF],
        "base-uri": [NONE],
    }
}
