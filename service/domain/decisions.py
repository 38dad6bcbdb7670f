"""Decisions on several suggestions at once: each is the single decision's use case, under its rules.

Accepting several suggestions is `partnerships.accept_suggestion` on each, rejecting them
`exclusions.exclude` on each, with the same consent and ownership rules: one that is refused (an
exclusion stands in the way, the profile is gone, a concurrent decision came first) changes nothing
and is reported with the problem the single decision answers with, while the others go on.
"""

from typing import Literal

from sqlalchemy.orm import Session

from service.auth import Principal
from service.db import store
from service.domain import exclusions, partnerships
from service.errors import TwinningError
from service.schemas import DecisionOutcome, DecisionReport, ProblemField

__all__ = ["decide_each"]


def decide_each(
    *,
    session: Session,
    principal: Principal,
    profile_id: str,
    action: Literal["accept", "reject"],
    others: list[str],
    reason: str | None = None,
) -> DecisionReport:
    """Accept (propose) or reject every one of `others` for this profile, each on its own; what each did.

    A key that may not decide for the profile at all is `Forbidden` as a whole, a missing profile
    `ProfileNotFound`: neither is a matter of one suggestion.
    """
    principal.require_reader_of(profile_id)
    store.get_profile(session, profile_id)
    items = []
    for other in others:
        try:
            if action == "accept":
                done = partnerships.accept_suggestion(
                    session=session, principal=principal, profile_id=profile_id, other=other
                )
                items.append(DecisionOutcome(other=other, outcome=done.state, status=200))
            else:
                exclusions.exclude(
                    session=session, principal=principal, profile_id=profile_id, other=other, reason=reason
                )
                items.append(DecisionOutcome(other=other, outcome="excluded", status=200))
        except TwinningError as exc:
            session.rollback()  # whatever the refused decision had begun is not kept
            items.append(
                DecisionOutcome(
                    other=other,
                    outcome="refused",
                    status=exc.status,
                    title=exc.title,
                    detail=exc.detail,
                    errors=[ProblemField(**e.as_dict()) for e in exc.errors],
                )
            )
    return DecisionReport(profile=profile_id, action=action, items=items)
