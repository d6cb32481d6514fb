"""What-if scenarios and the rebalancer (SPEC section 8): score a changed plan on a baseline plan's reps and
their actual books, and search the levers that reach a target Same-Day Index at equal cost."""
