"""connector-sdk: service manifests, connector plugins and OAuth2 client-credentials authentications."""

from ._version import __version__

__all__ = ["__version__"]
