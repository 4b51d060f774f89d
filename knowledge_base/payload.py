"""TEMPORARY re-export while the tree moves to the single owner, ``nlu.payload``."""

from nlu.payload import Payload, parse_payload

__all__ = ["Payload", "parse_payload"]
