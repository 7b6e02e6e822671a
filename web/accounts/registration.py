"""Self-registration and the administrators' network: allowed domains, pending approvals.

People whose address is in ATELIER_SIGNUP_DOMAINS (subdomains included) register and confirm
their address by mail; anyone else lands in the pending list that every instance admin sees.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, update
from sqlalchemy.ext.asyncio import AsyncEngine

from web.accounts import users as accounts
from web.accounts.users import AccountError, User
from web.auth.passwords import hash_password, password_problem
from web.schema import users


@dataclass(frozen=True)
class Registration:
    user_id: int
    status: str  # 'unconfirmed' (allowed domain: confirm by mail) or 'pending' (approval)
    # The address already had an account (user_id is its): nothing was created. The page
    # answers as for a new address and the owner is told by mail, so that the form does not
    # reveal who has an account.
    address_taken: bool = False


async def register(
    engine: AsyncEngine,
    *,
    email: str,
    display_name: str,
    password: str,
    organisation: str,
    domains: tuple[str, ...],
    locale: str = "fr",
) -> Registration:
    """Create a self-registered account; raise AccountError with the reason when refused.

    An address that has an account already is not refused (see `Registration.address_taken`).
    """
    email = accounts.normalise_email(email)
    accounts.check_profile(email, display_name)
    problem = password_problem(password)
    if problem:
        raise AccountError(problem)
    status = "unconfirmed" if accounts.domain_allowed(email, domains) else "pending"
    owner = await accounts.find_by_email(engine, email)
    if owner is None:
        try:
            user_id = await accounts.create_user(
                engine,
                email=email,
                display_name=display_name,
                password=password,
                organisation=organisation,
                status=status,
                locale=locale,
            )
        except AccountError:
            owner = await accounts.find_by_email(engine, email)  # registered meanwhile
            if owner is None:
                raise
        else:
            return Registration(user_id, status)
    else:
        await hash_password(password)  # takes as long as creating an account would
    return Registration(owner.id, status, address_taken=True)


async def _move(engine: AsyncEngine, user_id: int, before: str, after: str, admin: int) -> bool:
    """Change a status only from `before`, so two admins deciding at once cannot both win."""
    async with engine.begin() as connection:
        result = await connection.execute(
            update(users)
            .where(and_(users.c.id == user_id, users.c.status == before))
            .values(status=after, reviewed_by=admin)
        )
    return result.rowcount == 1


async def approve(engine: AsyncEngine, user_id: int, admin_id: int) -> User | None:
    """Accept a pending registration; the user (to tell by mail), or None if not pending."""
    if not await _move(engine, user_id, "pending", "active", admin_id):
        return None
    return await accounts.get_user(engine, user_id)


async def refuse(engine: AsyncEngine, user_id: int, admin_id: int) -> User | None:
    """Refuse a pending registration; the user (to tell by mail), or None if not pending."""
    if not await _move(engine, user_id, "pending", "refused", admin_id):
        return None
    return await accounts.get_user(engine, user_id)


async def confirm(engine: AsyncEngine, user_id: int) -> bool:
    """An address confirmed by mail activates a self-registered account."""
    async with engine.begin() as connection:
        result = await connection.execute(
            update(users)
            .where(and_(users.c.id == user_id, users.c.status == "unconfirmed"))
            .values(status="active")
        )
    return result.rowcount == 1


@dataclass(frozen=True)
class OIDCOutcome:
    user: User | None
    created: bool


async def oidc_account(
    engine: AsyncEngine,
    *,
    subject: str,
    email: str,
    display_name: str,
    organisation: str,
    domains: tuple[str, ...],
) -> OIDCOutcome:
    """The account an OpenID Connect identity signs in to, linked or created on first use.

    The provider vouches for the address, so an account with that address is linked to the
    identity; a new identity from an allowed domain is active at once, others wait for an admin.
    """
    user = await accounts.find_by_oidc_subject(engine, subject)
    if user is not None:
        return OIDCOutcome(user, False)
    user = await accounts.find_by_email(engine, email)
    if user is not None:
        if user.oidc_subject is None:
            async with engine.begin() as connection:
                await connection.execute(
                    update(users).where(users.c.id == user.id).values(oidc_subject=subject)
                )
            if user.status == "unconfirmed":
                await confirm(engine, user.id)
            return OIDCOutcome(await accounts.get_user(engine, user.id), False)
        return OIDCOutcome(None, False)  # the address belongs to another identity
    status = "active" if accounts.domain_allowed(email, domains) else "pending"
    user_id = await accounts.create_user(
        engine,
        email=email,
        display_name=display_name[: accounts.MAX_NAME] or email,
        organisation=organisation,
        status=status,
        oidc_subject=subject,
    )
    return OIDCOutcome(await accounts.get_user(engine, user_id), True)
