"""Rule family in progress; registers no rule until its issue lands."""

RULES: list = []
