"""MongoDB credentials apart from the URI.

A URI is an address: it is printed in error messages, table options and logs. So the job and the
dashboard get ``MONGODB_URI`` without a user or password, and the credentials in
``MONGODB_USERNAME`` and ``MONGODB_PASSWORD`` (a name Flink masks wherever it logs variables).
A ``MONGODB_URI`` that a user gives with ``user:password@`` in it is split here, before anything
reaches Flink; only a URI whose credentials cannot be moved out is refused.
"""

import re
from dataclasses import dataclass, field
from urllib.parse import unquote

from stack.errors import ConfigError

_SCHEME = re.compile(r"^(mongodb(?:\+srv)?://)(.*)$", re.DOTALL)
# Options that hold a secret of their own (tlsCertificateKeyFilePassword, an AWS session token in
# authMechanismProperties): they cannot travel apart from the URI, so such a URI is refused.
_SECRET_OPTION = re.compile(r"password|secret", re.IGNORECASE)


@dataclass(frozen=True)
class MongoConnection:
    """Where MongoDB is and who logs in: ``uri`` never holds the credentials."""

    uri: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def env(self) -> dict[str, str]:
        """``MONGODB_URI`` and, when set, ``MONGODB_USERNAME`` and ``MONGODB_PASSWORD``."""
        env = {"MONGODB_URI": self.uri}
        if self.username is not None:
            env["MONGODB_USERNAME"] = self.username
        if self.password is not None:
            env["MONGODB_PASSWORD"] = self.password
        return env


def split_credentials(uri: str) -> MongoConnection:
    """``uri`` without its ``user:password@`` part, and the two (percent-decoded) apart.

    Raises ConfigError for a URI that is not ``mongodb://`` or ``mongodb+srv://``, or that has
    an option holding a secret. The message never contains the URI: it may be the secret.
    """
    match = _SCHEME.match(uri)
    if match is None:
        raise ConfigError("MONGODB_URI must start with mongodb:// or mongodb+srv://")
    scheme, rest = match.groups()
    # As pymongo reads it: the hosts end at the first "/" (or at "?" when no "/" follows them),
    # and the credentials end at the last "@" among the hosts.
    hosts, slash, tail = rest.partition("/")
    if not slash:
        hosts, question, query = rest.partition("?")
        tail = question + query
    query = tail.partition("?")[2]
    for option in filter(None, re.split(r"[&;]", query)):
        name, _, value = unquote(option).partition("=")
        aws_token = name.lower() == "authmechanismproperties" and "TOKEN" in value.upper()
        if _SECRET_OPTION.search(name) or aws_token:
            raise ConfigError(
                f"MONGODB_URI has the option {name}, which holds a secret that cannot be kept out "
                "of the URI: configure that secret outside the URI (a client certificate without "
                "a password, an instance role), or give the job a URI without it"
            )
    userinfo, at, address = hosts.rpartition("@")
    if not at:
        return MongoConnection(uri)
    user, colon, password = userinfo.partition(":")
    return MongoConnection(
        uri=scheme + address + slash + tail,
        username=unquote(user) if user else None,
        password=unquote(password) if colon else None,
    )


def connection(
    uri: str, username: str | None = None, password: str | None = None
) -> MongoConnection:
    """The connection that ``MONGODB_URI``, ``MONGODB_USERNAME`` and ``MONGODB_PASSWORD`` name
    together: credentials in the URI are moved out; the same credential given both ways must
    agree (ConfigError otherwise, naming the variables and never a value)."""
    split = split_credentials(uri)
    for what, in_uri, apart in (
        ("user name", split.username, username),
        ("password", split.password, password),
    ):
        if in_uri is not None and apart is not None and in_uri != apart:
            variable = "MONGODB_USERNAME" if what == "user name" else "MONGODB_PASSWORD"
            raise ConfigError(
                f"MONGODB_URI carries a {what} and {variable} gives another one: give the "
                f"credentials once, preferably in MONGODB_USERNAME and MONGODB_PASSWORD"
            )
    return MongoConnection(
        uri=split.uri,
        username=split.username if split.username is not None else username,
        password=split.password if split.password is not None else password,
    )
