"""Valid request bodies for tests, changed by keyword."""


def city(id: str = "eindhoven", **overrides) -> dict:
    """A valid city profile body, changed by keyword."""
    body = {
        "id": id,
        "kind": "city",
        "name": id.title(),
        "country": "NL",
        "bloc": "EU",
        "description": "A city of technology and design that wants to learn from partners abroad.",
        "interests": ["intelligent public lighting", "living labs"],
        "offers": ["smart lighting pilots with industry"],
    }
    body.update(overrides)
    return body
