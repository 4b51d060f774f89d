"""Goodwill (#16): a verified subscriber who waited too long for a person gets a bonus
(100 MB) through the billing, unless a rule of the policy (handoff/data/goodwill.yml) refuses.
"""

from handoff.goodwill.service import Goodwill

__all__ = ["Goodwill"]
