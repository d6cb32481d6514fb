"""The payout engine: plan rules applied to CRM books, as vectorised Polars (SPEC section 3)."""
