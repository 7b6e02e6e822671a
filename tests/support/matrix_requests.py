"""How the matrix's cases make each actor's request, and what they prepare for it first:
other people, pages, images, a page's text and versions, guest links, tokens.

Paths and form values may name the world's fields (`{slug}`, `{page}`, `{actor}`, `{me}`...,
see `MatrixWorld.fields`); what a preparation makes goes into the request's own fields
(`{person}`, `{target}`, `{link}`, `{image}`...) for the answers and effects to name.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import update
from starlette.applications import Starlette

from realtime.extract import document_blocks
from tests.support.access_matrix import Prepare, Req, Seen
from tests.support.images import png
from tests.support.matrix_world import COLUMNS, MatrixWorld
from tests.support.people import PASSWORD, Who
from tests.support.tiptap_documents import document_state, paragraph
from tests.support.web_app import document_token
from web.accounts import tokens as account_tokens
from web.accounts import users as accounts
from web.pages.image_access import record_images
from web.pages.images import ImageStore
from web.pages.versions import current_state, save_version
from web.search.text import plain_text
from web.spaces import guest_links, services, tree
from web.spaces.access import utcnow
from web.spaces.tables import guest_links as guest_links_table
from web.visio.notes import find_notes_page

SPACE = "/espaces/{slug}"
PAGE = SPACE + "/pages/{page}"
NEW_PASSWORD = "un autre mot de passe solide"
PAGE_TEXT = "Texte de la page partagée"
VERSION_TEXT = "Texte d'une version"


@dataclass(frozen=True)
class Someone:
    """A bystander of a case: an account of the instance, in no space unless made a member."""

    id: int
    email: str
    who: Who


async def someone(
    world: MatrixWorld,
    name: str = "passant",
    *,
    status: str = "active",
    role: str = "agent",
    password: str | None = None,
) -> Someone:
    email = f"{name}.{uuid.uuid4().hex[:8]}@example.gouv.fr"
    user_id = await accounts.create_user(
        world.app.state.engine,
        email=email,
        display_name=name.replace("_", " ").title(),
        password=password,
        role=role,
        status=status,
    )
    return Someone(user_id, email, Who(user_id, role, None, name))


async def member(world: MatrixWorld, role: str, name: str = "membre") -> Someone:
    """A new member of the space in `role`, added by the owner."""
    person = await someone(world, name)
    engine = world.app.state.engine
    await services.add_member(engine, world.owner, world.space_id, person.id, role)
    return person


async def new_page(world: MatrixWorld, title: str = "") -> tree.PageRef:
    return await tree.create_page(
        world.app.state.engine,
        world.owner,
        world.space_id,
        title or f"Page {uuid.uuid4().hex[:6]}",
    )


def actor_number(actor: str) -> int:
    return list(COLUMNS.values()).index(actor)


def image_bytes(seed: int) -> bytes:
    """A PNG of its own for each seed (its size differs), so each is stored apart."""
    return png(1 + seed % 50, 1 + seed // 50)


async def stored_image(app: Starlette, doc_name: str, seed: int) -> tuple[str, bytes]:
    """An image stored and held by document `doc_name` (as an upload through it leaves it):
    its name and bytes."""
    data = image_bytes(seed)
    folder = app.state.settings.data_path / "files" / "images"
    stored = ImageStore(folder, 2**20).save(data)
    await record_images(app.state.engine, doc_name, [stored.name])
    return stored.name, data


async def document_text(app: Starlette, doc_name: str) -> str:
    """The text of a document as it is now (the open room's, else the store's)."""
    state = await current_state(app.state.rooms, app.state.store, doc_name)
    return plain_text(document_blocks(state))


async def give_text(app: Starlette, doc_name: str) -> None:
    """Document `doc_name` holds `PAGE_TEXT` (a paragraph, as the editor's client writes it)."""
    if PAGE_TEXT in await document_text(app, doc_name):
        return
    typed = document_state(paragraph(PAGE_TEXT))
    await app.state.rooms.apply_server_change(doc_name, lambda current: typed)


async def a_version(world: MatrixWorld, text: str) -> int:
    """A named version of the shared page holding `text`; its id."""
    state = document_state(paragraph(text))
    engine = world.app.state.engine
    return await save_version(engine, world.world.page.id, state, name="Version du matrix")


async def made_by(world: MatrixWorld, link_id: int, user_id: int) -> None:
    """Record `user_id` as the maker of guest link `link_id` (as if they had made it)."""
    async with world.app.state.engine.begin() as conn:
        await conn.execute(
            update(guest_links_table)
            .where(guest_links_table.c.id == link_id)
            .values(created_by=user_id)
        )


# --- requests ---------------------------------------------------------------------------------


def get(path: str) -> Prepare:
    async def prepare(world: MatrixWorld, actor: str) -> Req:
        return Req("GET", path.format(**world.fields(actor)), prepared=False)

    return prepare


def post(path: str, **form: str) -> Prepare:
    async def prepare(world: MatrixWorld, actor: str) -> Req:
        values = world.fields(actor)
        data = {k: v.format(**values) for k, v in form.items()}
        return Req("POST", path.format(**values), form=data, prepared=False)

    return prepare


async def sign_in_someone(world: MatrixWorld, actor: str) -> Req:
    person = await someone(world, password=PASSWORD)
    form = {"email": person.email, "password": PASSWORD}
    return Req("POST", "/connexion", form=form, fields={"person": person.id})


async def ask_reset(world: MatrixWorld, actor: str) -> Req:
    person = await someone(world)
    form = {"email": person.email}
    return Req("POST", "/mot-de-passe-oublie", form=form, fields=vars(person))


def with_token(
    method: str, path: str, purpose: str, status: str = "active", **form: str
) -> Prepare:
    """A request through a mailed token (reset, confirm) of a bystander's account."""

    async def prepare(world: MatrixWorld, actor: str) -> Req:
        person = await someone(world, status=status)
        token = await account_tokens.issue(world.app.state.engine, person.id, purpose)
        fields = {"person": person.id, "token": token}
        return Req(method, path.format(token=token), form=form or None, fields=fields)

    return prepare


async def register(world: MatrixWorld, actor: str) -> Req:
    email = f"inscrit.{uuid.uuid4().hex[:8]}@exemple.org"  # not a domain of the instance
    form = {"email": email, "display_name": "Inscrit", "organisation": ""}
    form |= {"password": PASSWORD, "password2": PASSWORD}
    return Req("POST", "/inscription", form=form, fields={"email": email})


def on_someone(path: str, status: str = "active", **form: str) -> Prepare:
    """A POST about a bystander's account (`{person}` in the path)."""

    async def prepare(world: MatrixWorld, actor: str) -> Req:
        person = await someone(world, status=status)
        return Req("POST", path.format(person=person.id), form=form, fields={"person": person.id})

    return prepare


async def name_admin(world: MatrixWorld, actor: str) -> Req:
    """Name a bystander administrator by their address."""
    person = await someone(world)
    return Req(
        "POST", "/admin/administrateurs", form={"email": person.email}, fields={"person": person.id}
    )


def on_an_admin(path: str) -> Prepare:
    """A POST about a bystander who is an administrator (`{person}` in the path)."""

    async def prepare(world: MatrixWorld, actor: str) -> Req:
        person = await someone(world, role="admin")
        return Req("POST", path.format(person=person.id), fields={"person": person.id})

    return prepare


async def create_account(world: MatrixWorld, actor: str) -> Req:
    email = f"nouveau.{uuid.uuid4().hex[:8]}@example.gouv.fr"
    form = {"email": email, "display_name": "Nouveau", "organisation": "", "role": "agent"}
    return Req("POST", "/admin/comptes", form=form, fields={"email": email})


async def search(world: MatrixWorld, actor: str) -> Req:
    await world.app.state.search_indexer.refresh()
    return Req("GET", "/recherche?q=partagée")


async def unarchived(world: MatrixWorld, actor: str) -> Req:
    await services.set_archived(world.app.state.engine, world.owner, world.space_id, False)
    return Req("POST", f"/espaces/{world.slug}/archiver", form={"archive": "1"})


def on_someone_in_space(path: str, member_as: str | None, /, **form: str) -> Prepare:
    """A members form about a bystander (`user_id`), a member in role `member_as` if given."""

    async def prepare(world: MatrixWorld, actor: str) -> Req:
        person = await (member(world, member_as) if member_as else someone(world))
        data = {"user_id": str(person.id), **form}
        return Req("POST", path.format(slug=world.slug), form=data, fields={"person": person.id})

    return prepare


async def invite(world: MatrixWorld, actor: str) -> Req:
    email = f"dehors.{uuid.uuid4().hex[:8]}@exterieur.example"
    form = {"email": email, "role": "reader", "display_name": "Dehors"}
    return Req("POST", f"/espaces/{world.slug}/membres/inviter", form=form, fields={"email": email})


def on_new_page(path: str, trashed: bool = False, **form: str) -> Prepare:
    """A tree form about a new page of the space (`{target}`)."""

    async def prepare(world: MatrixWorld, actor: str) -> Req:
        page = await new_page(world)
        if trashed:
            await tree.trash_page(world.app.state.engine, world.owner, page.id)
        values = {**world.fields(actor), "target": page.id}
        data = {k: v.format(**values) for k, v in form.items()}
        return Req("POST", path.format(**values), form=data, fields={"target": page.id})

    return prepare


async def shift_down(world: MatrixWorld, actor: str) -> Req:
    await new_page(world)  # a page after the shared one, to change places with
    path = f"/espaces/{world.slug}/pages/{world.world.page.id}/ordre"
    return Req("POST", path, form={"direction": "down"})


def revoke(whose: str) -> Prepare:
    """Revoke a link to the shared page made by the actor ("mine"), by another editor
    ("another"), or a link of another space through this space's address ("elsewhere")."""

    async def prepare(world: MatrixWorld, actor: str) -> Req:
        engine = world.app.state.engine
        space_id, maker = world.space_id, world.owner
        if whose == "another":
            maker = (await member(world, "editor", "auteur")).who
        elif whose == "elsewhere":
            space_id = (await services.create_space(engine, maker, name="Ailleurs")).id
        page_id = world.world.page.id if space_id == world.space_id else None
        link = await guest_links.create_guest_link(
            engine, maker, space_id, role="reader", page_id=page_id
        )
        me = world.person(actor)
        if whose == "mine" and me is not None:
            await made_by(world, link.link.id, me.id)
        path = f"/espaces/{world.slug}/liens/{link.link.id}/revoquer"
        return Req("POST", path, fields={"link": link.link.id})

    return prepare


def through_link(method: str, **form: str) -> Prepare:
    """The form of a new reader link to the space, or its submission."""

    async def prepare(world: MatrixWorld, actor: str) -> Req:
        engine = world.app.state.engine
        new = await guest_links.create_guest_link(
            engine, world.owner, world.space_id, role="reader"
        )
        data = {k: v.format(actor=actor) for k, v in form.items()}
        return Req(method, f"/invite/{new.token}", form=data if method == "POST" else None)

    return prepare


def invitation(method: str) -> Prepare:
    """The form of a new invitation by mail to the space, or its acceptance."""

    async def prepare(world: MatrixWorld, actor: str) -> Req:
        email = f"invite.{uuid.uuid4().hex[:8]}@exterieur.example"
        invited = await services.invite_by_email(
            world.app.state.engine, world.owner, world.space_id, email, "reader"
        )
        assert invited.token is not None
        return Req(method, f"/invitation/{invited.token}", fields={"person": invited.user_id})

    return prepare


async def notes(world: MatrixWorld, actor: str) -> Req:
    # Each actor finds no notes page today, so each one tries to create it.
    engine = world.app.state.engine
    found = await find_notes_page(engine, world.space_id, utcnow().date())
    if found is not None:
        await tree.trash_page(engine, world.owner, found)
    return Req("POST", f"/espaces/{world.slug}/reunion/notes")


def upload(path: str) -> Prepare:
    async def prepare(world: MatrixWorld, actor: str) -> Req:
        doc = f"matrix-{uuid.uuid4().hex[:8]}"
        values = {**world.fields(actor), "d": doc, "t": document_token(doc)}
        seed = actor_number(actor)
        return Req("POST", path.format(**values), upload=image_bytes(seed), fields={"d": doc})

    return prepare


def image(path: str, held_by: str = "page") -> Prepare:
    """A GET of an image held by the shared page (`held_by="page"`) or by a token document."""

    async def prepare(world: MatrixWorld, actor: str) -> Req:
        doc = f"matrix-{uuid.uuid4().hex[:8]}" if held_by == "token" else world.world.page.doc_name
        seed = actor_number(actor)
        name, data = await stored_image(world.app, doc, seed)
        values = {**world.fields(actor), "image": name, "d": doc, "t": document_token(doc)}
        return Req("GET", path.format(**values), fields={"image": name, "image_bytes": data})

    return prepare


def bring(path: str, by_token: bool) -> Prepare:
    """Bring into a document an image that another one holds (a copy and paste): into the
    shared page from another page of the space, or between two documents of one token."""

    async def prepare(world: MatrixWorld, actor: str) -> Req:
        prefix = f"matrix-{uuid.uuid4().hex[:8]}-"
        source = prefix + "a" if by_token else (await new_page(world)).doc_name
        target = prefix + "b" if by_token else world.world.page.doc_name
        name, _ = await stored_image(world.app, source, actor_number(actor))
        values = {**world.fields(actor), "d": target, "t": document_token(prefix)}
        fields = {"image": name, "d": target}
        return Req("POST", path.format(**values), json={"images": [name]}, fields=fields)

    return prepare


def with_text(path: str, by_token: bool = False) -> Prepare:
    """A GET of the shared page's document (or a token document) once it holds `PAGE_TEXT`."""

    async def prepare(world: MatrixWorld, actor: str) -> Req:
        doc = f"matrix-{uuid.uuid4().hex[:8]}" if by_token else world.world.page.doc_name
        await give_text(world.app, doc)
        values = {**world.fields(actor), "d": doc, "t": document_token(doc)}
        return Req("GET", path.format(**values))

    return prepare


def version(method: str, path: str) -> Prepare:
    """A request about a new version of the shared page, whose text names the actor
    (`{version_text}`), unlike the page's or any earlier version's."""

    async def prepare(world: MatrixWorld, actor: str) -> Req:
        text = f"{VERSION_TEXT} pour {actor}"
        version_id = await a_version(world, text)
        values = {**world.fields(actor), "version": version_id}
        fields = {"version": version_id, "version_text": text}
        return Req(method, path.format(**values), fields=fields)

    return prepare


async def restored(seen: Seen) -> str | None:
    """The shared page holds the version's text again."""
    text = await document_text(seen.world.app, seen.world.world.page.doc_name)
    wanted = seen.fields["version_text"]
    return None if wanted in text else f"the page holds {text!r}, not {wanted!r}"


def token_doc(path: str) -> Prepare:
    async def prepare(world: MatrixWorld, actor: str) -> Req:
        doc = f"matrix-{uuid.uuid4().hex[:8]}"
        return Req("GET", path.format(d=doc, t=document_token(doc)), fields={"d": doc})

    return prepare
