"""Errors of the local stack.

StackError
 ├── MissingToolError   a program the stack needs (java, mvn, go) is not installed
 ├── FetchError         a jar or a build could not be fetched
 ├── ConfigError        a setting is malformed or contradicts another one
 └── ServiceError       a service did not start or did not become healthy in time
"""


class StackError(Exception):
    """Anything that keeps the local stack from coming up; the message says what to do."""


class MissingToolError(StackError):
    """A required program is not on PATH."""


class FetchError(StackError):
    """Maven or Go could not fetch or build what the stack runs."""


class ConfigError(StackError):
    """A setting from the environment cannot be used as it is; the message names the variable."""


class ServiceError(StackError):
    """A service failed to start or to answer its health check before the deadline."""
