"""The ``users`` query: the caller's colleagues, for user pickers (owner fields...).

Any signed-in user may call it: in a CRM the names of one's colleagues are
not secret. The tenant comes from the caller, as everywhere; only active
users are listed.
"""

from __future__ import annotations

import strawberry

from core.errors import Problem, ValidationFailed
from core.graphql.context import GraphQLContext
from core.graphql.static import User

__all__ = ["MAX_USERS", "users_field"]

#: The most users one ``users`` call returns.
MAX_USERS = 100


@strawberry.field(
    description="Active users of your tenant whose name or email contains 'search' "
    "(letters A-Z in any case), by name; at most 'first' (up to 100)."
)
async def users_field(
    info: strawberry.Info, search: str | None = None, first: int | None = 20
) -> list[User]:
    if first is None:  # an explicit null means the default
        first = 20
    if first < 0:
        raise ValidationFailed("first must not be negative", [Problem("MIN", ">= 0", "first")])
    if first > MAX_USERS:
        raise ValidationFailed(
            f"first is {first}; at most {MAX_USERS} users",
            [Problem("LIMIT_EXCEEDED", f"at most {MAX_USERS}", "first")],
        )
    ctx: GraphQLContext = info.context
    text = (search or "").strip()
    found = await ctx.service.search_users(ctx.call, text or None, first) if first else []
    return [User(id=strawberry.ID(u["id"]), email=u["email"], name=u["name"]) for u in found]
