"""newsdesk: questions answered from a news archive, citing the passages they rest on."""

__version__ = "0.1.0"
