"""Scoring: the Same-Day Index, realized shares and outcome indicators (SPEC section 5)."""
