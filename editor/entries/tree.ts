// Entry for the space's page tree ([data-page-tree], spaces/_page_tree.html) and the page
// title edited in place ([data-page-title], pages/editor.html). Every change goes through the
// server's routes of the tree (…/deplacer, …/renommer, …/pages, …/corbeille) asked for JSON,
// with the CSRF token of the page's <meta>; the tree is changed on screen once the server
// has agreed, and what happened is said in the tree's live region.
//   - drag a page's row onto another: its top quarter puts it before, its bottom quarter after,
//     the middle inside (last of its sub-pages);
//   - on a page's link, Alt + ArrowUp/ArrowDown reorder, Alt + ArrowRight nests it under the
//     page before, Alt + ArrowLeft takes it out of its parent;
//   - the "⋯" button of a page opens its menu: the same moves, a new sub-page, rename, trash.
import {
  dropPlacement,
  dropZone,
  keyboardPlacement,
  type DropZone,
  type KeyboardMove,
  type Placement,
  type TreeNode,
} from "../src/pagetree";

const csrf = document.querySelector<HTMLMetaElement>("meta[name=csrf-token]")?.content ?? "";

async function post(url: string, fields: Record<string, string>): Promise<Record<string, unknown>> {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { Accept: "application/json", "X-CSRF-Token": csrf },
    body: new URLSearchParams(fields),
  });
  const reply = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (!response.ok) throw new Error(String(reply.error ?? `${response.status} ${response.statusText}`));
  return reply;
}

function fill(template: string | undefined, values: Record<string, string>): string {
  return Object.entries(values).reduce((text, [key, value]) => text.replaceAll(`{${key}}`, value), template ?? "");
}

class PageTree {
  private readonly base: string;
  private readonly live: HTMLElement | null;
  private dragged: number | null = null;
  private openMenu: { menu: HTMLElement; button: HTMLButtonElement } | null = null;

  constructor(private readonly root: HTMLElement) {
    this.base = root.dataset.base ?? "";
    this.live = root.querySelector("[data-tree-announce]");
    root.addEventListener("keydown", (event) => this.onKey(event));
    root.addEventListener("click", (event) => this.onClick(event));
    root.addEventListener("dragstart", (event) => this.onDragStart(event));
    root.addEventListener("dragover", (event) => this.onDragOver(event));
    root.addEventListener("dragleave", (event) => this.rowOf(event.target)?.removeAttribute("data-drop"));
    root.addEventListener("drop", (event) => void this.onDrop(event));
    root.addEventListener("dragend", () => this.clearDrop());
    document.addEventListener("click", (event) => {
      if (this.openMenu && !this.openMenu.menu.parentElement?.contains(event.target as Node)) this.closeMenu(false);
    });
  }

  say(text: string): void {
    if (!this.live) return;
    // A new text node each time, so the same words are said again.
    this.live.textContent = "";
    window.setTimeout(() => {
      if (this.live) this.live.textContent = text;
    }, 50);
  }

  // -- the tree as ids, read from the list -------------------------------------------------

  model(list: Element | null = this.root.querySelector("[data-tree-children]")): TreeNode[] {
    if (!list) return [];
    return Array.from(list.children)
      .filter((li): li is HTMLElement => li instanceof HTMLElement && li.dataset.pageId !== undefined)
      .map((li) => ({ id: Number(li.dataset.pageId), children: this.model(li.querySelector(":scope > [data-tree-children]")) }));
  }

  item(id: number | null): HTMLElement | null {
    return id === null ? null : this.root.querySelector<HTMLElement>(`li[data-page-id="${id}"]`);
  }

  titleOf(item: HTMLElement): string {
    return item.querySelector(":scope > .atelier-pagetree__row > a")?.textContent ?? "";
  }

  rowOf(target: EventTarget | null): HTMLElement | null {
    return target instanceof Element ? target.closest<HTMLElement>(".atelier-pagetree__row") : null;
  }

  idOf(element: Element | null): number | null {
    const li = element?.closest<HTMLElement>("li[data-page-id]");
    return li ? Number(li.dataset.pageId) : null;
  }

  childList(parentId: number | null): HTMLElement {
    if (parentId === null) return this.root.querySelector<HTMLElement>("[data-tree-children]")!;
    const parent = this.item(parentId)!;
    let list = parent.querySelector<HTMLElement>(":scope > [data-tree-children]");
    if (!list) {
      list = document.createElement("ul");
      list.className = "atelier-pagetree__list";
      list.dataset.treeChildren = "";
      parent.append(list);
    }
    return list;
  }

  // -- moves -------------------------------------------------------------------------------

  async move(id: number, placement: Placement): Promise<void> {
    const item = this.item(id);
    if (!item) return;
    try {
      await post(`${this.base}/pages/${id}/deplacer`, {
        parent_id: placement.parentId === null ? "" : String(placement.parentId),
        position: String(placement.position),
      });
    } catch (error) {
      this.say(fill(this.root.dataset.saidFailed, { error: (error as Error).message }));
      return;
    }
    const oldList = item.parentElement;
    item.remove();
    const list = this.childList(placement.parentId);
    const others = Array.from(list.children);
    list.insertBefore(item, others[placement.position] ?? null);
    if (oldList && oldList !== this.root.querySelector("[data-tree-children]") && !oldList.children.length) {
      oldList.remove();
    }
    item.querySelector<HTMLElement>(":scope > .atelier-pagetree__row > a")?.focus();
    this.say(fill(this.root.dataset.saidMoved, { title: this.titleOf(item) }));
  }

  async keyboardMove(id: number, move: KeyboardMove): Promise<void> {
    const placement = keyboardPlacement(this.model(), id, move);
    if (!placement) this.say(this.root.dataset.saidCannot ?? "");
    else await this.move(id, placement);
  }

  onKey(event: KeyboardEvent): void {
    if (event.key === "Escape" && this.openMenu) {
      event.preventDefault();
      this.closeMenu(true);
      return;
    }
    const link = (event.target as Element).closest?.(".atelier-pagetree__link");
    if (!link || !event.altKey || !("editable" in this.root.dataset)) return;
    const moves: Record<string, KeyboardMove> = {
      ArrowUp: "up",
      ArrowDown: "down",
      ArrowRight: "indent",
      ArrowLeft: "outdent",
    };
    const move = moves[event.key];
    const id = this.idOf(link);
    if (!move || id === null) return;
    event.preventDefault();
    void this.keyboardMove(id, move);
  }

  onDragStart(event: DragEvent): void {
    const row = this.rowOf(event.target);
    const id = this.idOf(row);
    if (!row || id === null || !event.dataTransfer) return;
    this.dragged = id;
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", this.titleOf(row.parentElement as HTMLElement));
  }

  zoneAt(event: DragEvent, row: HTMLElement): DropZone {
    const box = row.getBoundingClientRect();
    return dropZone(event.clientY - box.top, box.height);
  }

  onDragOver(event: DragEvent): void {
    const row = this.rowOf(event.target);
    const target = this.idOf(row);
    if (!row || target === null || this.dragged === null) return;
    const zone = this.zoneAt(event, row);
    if (!dropPlacement(this.model(), this.dragged, target, zone)) return;
    event.preventDefault();
    if (event.dataTransfer) event.dataTransfer.dropEffect = "move";
    this.clearDrop();
    row.dataset.drop = zone;
  }

  async onDrop(event: DragEvent): Promise<void> {
    const row = this.rowOf(event.target);
    const target = this.idOf(row);
    const dragged = this.dragged;
    this.clearDrop();
    this.dragged = null;
    if (!row || target === null || dragged === null) return;
    event.preventDefault();
    const placement = dropPlacement(this.model(), dragged, target, this.zoneAt(event, row));
    if (placement) await this.move(dragged, placement);
  }

  clearDrop(): void {
    this.root.querySelectorAll("[data-drop]").forEach((row) => row.removeAttribute("data-drop"));
  }

  // -- the menu of a page ------------------------------------------------------------------

  onClick(event: MouseEvent): void {
    const target = event.target as Element;
    const more = target.closest<HTMLButtonElement>("[data-tree-more]");
    if (more) {
      const wasOpen = this.openMenu?.button === more;
      this.closeMenu(false);
      if (!wasOpen) this.showMenu(more);
      return;
    }
    const choice = target.closest<HTMLButtonElement>(".atelier-pagetree__menu button");
    if (!choice) return;
    const id = this.idOf(choice);
    if (id === null) return;
    const move = choice.dataset.move as KeyboardMove | undefined;
    const action = choice.dataset.action;
    this.closeMenu(false);
    if (move) void this.keyboardMove(id, move);
    else if (action === "rename") this.ask(id, "rename");
    else if (action === "child") this.ask(id, "child");
    else if (action === "trash") this.trash(id);
  }

  showMenu(button: HTMLButtonElement): void {
    const template = this.root.querySelector<HTMLTemplateElement>("template[data-tree-menu]");
    const row = button.parentElement;
    if (!template || !row) return;
    const menu = template.content.firstElementChild!.cloneNode(true) as HTMLElement;
    row.after(menu);
    button.setAttribute("aria-expanded", "true");
    this.openMenu = { menu, button };
    menu.querySelector<HTMLButtonElement>("button")?.focus();
  }

  closeMenu(refocus: boolean): void {
    if (!this.openMenu) return;
    const { menu, button } = this.openMenu;
    menu.remove();
    button.setAttribute("aria-expanded", "false");
    this.openMenu = null;
    if (refocus) button.focus();
  }

  /** A field in place of the page's row: its new title, or a new sub-page's. */
  ask(id: number, what: "rename" | "child"): void {
    const item = this.item(id);
    const row = item?.querySelector<HTMLElement>(":scope > .atelier-pagetree__row");
    if (!item || !row) return;
    const title = this.titleOf(item);
    const input = document.createElement("input");
    input.className = "fr-input atelier-pagetree__field";
    input.maxLength = 200;
    input.value = what === "rename" ? title : "";
    const label = what === "rename" ? this.root.dataset.labelRename : this.root.dataset.labelChild;
    input.setAttribute("aria-label", fill(label, { title }));
    if (what === "rename") row.hidden = true;
    row.after(input);
    input.focus();
    input.select();
    let done = false;
    const finish = async (save: boolean): Promise<void> => {
      if (done) return;
      done = true;
      const value = input.value.trim();
      input.remove();
      row.hidden = false;
      if (!save || !value || (what === "rename" && value === title)) {
        row.querySelector<HTMLElement>("a")?.focus();
        return;
      }
      try {
        if (what === "rename") await this.rename(id, value);
        else await this.createChild(id, value);
      } catch (error) {
        this.say(fill(this.root.dataset.saidFailed, { error: (error as Error).message }));
        row.querySelector<HTMLElement>("a")?.focus();
      }
    };
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        void finish(true);
      } else if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        void finish(false);
      }
    });
    input.addEventListener("blur", () => void finish(true));
  }

  async rename(id: number, value: string): Promise<void> {
    const reply = await post(`${this.base}/pages/${id}/renommer`, { title: value });
    const title = String(reply.title ?? value);
    retitle(id, title);
    this.item(id)?.querySelector<HTMLElement>(":scope > .atelier-pagetree__row > a")?.focus();
    this.say(fill(this.root.dataset.saidRenamed, { title }));
  }

  async createChild(parentId: number, value: string): Promise<void> {
    const reply = await post(`${this.base}/pages`, { title: value, parent_id: String(parentId) });
    const id = Number(reply.id);
    const title = String(reply.title ?? value);
    const model = this.item(this.firstId());
    if (!model) return;
    const item = model.cloneNode(true) as HTMLElement;
    item.querySelector(":scope > [data-tree-children]")?.remove();
    item.dataset.pageId = String(id);
    const link = item.querySelector<HTMLAnchorElement>(":scope > .atelier-pagetree__row > a")!;
    link.href = String(reply.url);
    link.removeAttribute("aria-current");
    this.childList(parentId).append(item);
    retitle(id, title);
    link.focus();
    this.say(fill(this.root.dataset.saidCreated, { title }));
  }

  firstId(): number | null {
    return this.idOf(this.root.querySelector("li[data-page-id]"));
  }

  /** Trash by the ordinary form: the page it lands on says so and offers to undo it. */
  trash(id: number): void {
    const form = document.createElement("form");
    form.method = "post";
    form.action = `${this.base}/pages/${id}/corbeille`;
    const token = document.createElement("input");
    token.type = "hidden";
    token.name = "csrf_token";
    token.value = csrf;
    form.append(token);
    document.body.append(form);
    form.submit();
  }
}

/** A page's new title wherever it shows: the tree, the "⋯" button's name, the page's heading. */
function retitle(id: number, title: string): void {
  for (const item of document.querySelectorAll<HTMLElement>(`[data-page-tree] li[data-page-id="${id}"]`)) {
    const link = item.querySelector(":scope > .atelier-pagetree__row > a");
    const more = item.querySelector<HTMLElement>(":scope > .atelier-pagetree__row > [data-tree-more]");
    const old = link?.textContent ?? "";
    if (link) link.textContent = title;
    const name = more?.getAttribute("aria-label");
    if (more && name) more.setAttribute("aria-label", name.replace(`« ${old} »`, `« ${title} »`));
  }
}

/** The page's heading, edited in place: Enter or leaving it saves, Escape puts it back. */
function editableTitle(heading: HTMLElement): void {
  const url = heading.dataset.renameUrl;
  if (!url) return;
  const title = heading.textContent?.trim() ?? "";
  const field = document.createElement("span");
  field.className = "page-title-field";
  field.textContent = title;
  field.contentEditable = "plaintext-only";
  if (field.contentEditable !== "plaintext-only") field.contentEditable = "true";
  field.setAttribute("role", "textbox");
  field.setAttribute("aria-label", heading.dataset.label ?? "Titre de la page");
  field.spellcheck = true;
  heading.replaceChildren(field);
  let saved = title;
  // Said politely, beside the heading (the page's role="status" is its connection's).
  const status = document.createElement("span");
  status.className = "fr-sr-only";
  status.setAttribute("aria-live", "polite");
  status.dataset.titleStatus = "";
  heading.after(status);
  const save = async (): Promise<void> => {
    const value = (field.textContent ?? "").replace(/\s+/g, " ").trim();
    if (!value) {
      field.textContent = saved;
      return;
    }
    if (value === saved) return;
    try {
      const reply = await post(url, { title: value });
      saved = String(reply.title ?? value);
      field.textContent = saved;
      document.title = document.title.replace(title, saved);
      const id = Number(url.match(/pages\/(\d+)\/renommer$/)?.[1]);
      if (id) retitle(id, saved);
      heading.dataset.saved = saved;
      status.textContent = heading.dataset.saidSaved ?? "";
    } catch (error) {
      status.textContent = (error as Error).message;
      field.textContent = saved;
    }
  };
  field.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      field.blur();
    } else if (event.key === "Escape") {
      field.textContent = saved;
      field.blur();
    }
  });
  field.addEventListener("blur", () => void save());
}

for (const root of document.querySelectorAll<HTMLElement>("[data-page-tree]")) {
  if ("editable" in root.dataset) new PageTree(root);
}
const heading = document.querySelector<HTMLElement>("[data-page-title]");
if (heading) editableTitle(heading);
