"""The live suggestion engine held by the app: an in-memory index kept in step with profile writes."""

from service.settings import Settings


class LiveEngine:
    def __init__(self, *, settings: Settings, sessions) -> None:
        self.settings = settings
        self.sessions = sessions

    def start(self) -> None:
        pass

    def profiles_changed(self, ids: list[str]) -> None:
        pass

    def profiles_removed(self, ids: list[str]) -> None:
        pass

    def status(self) -> dict:
        return {"profiles": 0}
