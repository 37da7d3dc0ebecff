"""CSV cells that a spreadsheet would run as a formula are prefixed with a quote (OWASP CSV injection)."""

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def safe_text(value) -> str:
    """For text cells only: numbers we format ourselves stay numbers (a negative amount keeps its sign)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text
