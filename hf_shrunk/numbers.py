"""How numbers are written for people: one owner, so a card, a table and a log line agree."""


def human(n: float | None) -> str:
    """1250722 -> '1.25M' (parameters, tokens, FLOPs); ``None`` -> '–'."""
    if n is None:
        return "–"
    for unit, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.3g}{unit}"
    return f"{n:g}"
