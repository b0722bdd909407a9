"""The demo under Django 6's own CSP with a nonce-only policy and the csp context processor."""

from django.utils.csp import CSP

from config.settings import *  # noqa: F403
from config.settings import MIDDLEWARE, TEMPLATES

MIDDLEWARE = [*MIDDLEWARE, "django.middleware.csp.ContentSecurityPolicyMiddleware"]
SECURE_CSP = {
    "default-src": [CSP.NONE],
    "script-src": [CSP.NONCE],
    "style-src": [CSP.NONCE],
    "connect-src": [CSP.SELF],
    "img-src": [CSP.SELF],
    "base-uri": [CSP.NONE],
}
TEMPLATES[0]["OPTIONS"]["context_processors"] = [
    *TEMPLATES[0]["OPTIONS"]["context_processors"],
    "django.template.context_processors.csp",
]
