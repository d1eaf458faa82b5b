"""What one window did to one entity's champion: the trainer's answer to the train UDF."""

from __future__ import annotations

from dataclasses import dataclass

DEPLOYED = "deployed"
KEPT = "kept"
BAD = "bad"
SKIPPED = "skipped"


@dataclass
class TrainOutcome:
    """What one window did to one entity.

    ``status`` is ``deployed`` (challenger became champion), ``kept`` (the
    challenger was not deployed: the champion scored better or equal, or the
    challenger failed the accuracy gate, which ``reason`` and ``detail`` then
    say; the champion, if any, stays), ``bad`` (no challenger; see ``reason``)
    or ``skipped`` (the entity's training had taken in every row of the window
    already: nothing was fitted, nothing changed).
    ``challenger`` is the challenger's document: the deployed one (fitted on
    the whole window) when deployed, the judged one (fitted on the training
    part) when kept, None for a bad window. ``champion_score`` is the
    previous champion's score on the hold-out rows it had not seen (None when
    there was no comparable champion).
    """

    key: str
    status: str
    window_rows: int
    reason: str | None = None
    detail: str = ""
    challenger: dict | None = None
    challenger_score: dict | None = None
    champion_score: dict | None = None
    dropped_rows: int = 0

    @property
    def deployed(self) -> bool:
        return self.status == DEPLOYED
