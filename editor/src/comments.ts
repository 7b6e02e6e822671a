// The comments panel of a page view (docs/social.md): threads (open, resolved, all), replies,
// editing and deleting one's own, resolving and reopening where the server allows, live from
// the item's topic; a comment on selected text keeps its words as an anchor (./anchors.ts).

import type { Editor } from "@tiptap/core";

import { anchorOfSelection, resolveAnchor, showHighlights, type Highlight } from "./anchors";
import { askJson, onLiveReload, tabLive } from "./livetab";

export interface Person {
  id: number;
  name: string;
}

export interface Comment {
  id: number;
  thread_id: number | null;
  author: Person | null;
  body: string;
  anchor: string | null;
  quote: string | null;
  orphaned: boolean;
  resolved: boolean;
  created_at: string;
  edited: boolean;
  deleted: boolean;
  replies?: Comment[];
}

export interface Threads {
  threads: Comment[];
  can_comment: boolean;
  can_resolve_all: boolean;
  me: number;
}

/** A person's plain text as the comment HTML the server accepts: paragraphs, line breaks. */
export function textToHtml(text: string): string {
  const escape = (s: string): string =>
    s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  return text
    .trim()
    .split(/\n\s*\n/)
    .map((para) => `<p>${para.split("\n").map(escape).join("<br>")}</p>`)
    .join("");
}

/** What the person may do on a comment (the server checks again). */
export function allowed(comment: Comment, root: Comment, listing: Pick<Threads, "can_comment" | "can_resolve_all" | "me">) {
  const own = comment.author?.id === listing.me;
  return {
    edit: listing.can_comment && own && !comment.deleted,
    resolve: listing.can_comment && (listing.can_resolve_all || root.author?.id === listing.me),
    reply: listing.can_comment,
  };
}

/** Anchors to highlight: open threads whose text is still there. */
export function highlightsOf(threads: Comment[]): Highlight[] {
  return threads
    .filter((t) => t.anchor && !t.orphaned && !t.resolved && !t.deleted)
    .map((t) => ({ id: t.id, anchor: t.anchor as string }));
}

type Words = Record<string, string>;

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  text = "",
): HTMLElementTagNameMap[K] {
  const made = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) made.setAttribute(name, value);
  if (text) made.textContent = text;
  return made;
}

function button(label: string, action: string, id: number, kind = "tertiary-no-outline"): HTMLButtonElement {
  return element("button", { type: "button", class: `fr-btn fr-btn--sm fr-btn--${kind}`, "data-action": action, "data-id": String(id) }, label);
}

export class CommentsPanel {
  private listing: Threads = { threads: [], can_comment: false, can_resolve_all: false, me: 0 };
  private readonly words: Words;
  private readonly list: HTMLElement;
  private readonly refresh: () => void;
  private pending: { anchor: string; quote: string } | null = null;
  private orphanedSent = new Set<number>();
  private loading: Promise<void> | null = null;
  private synced = false;

  constructor(
    private readonly root: HTMLElement,
    private readonly editor: Editor,
    private readonly url: string,
    loaded: Promise<unknown>,
  ) {
    this.words = JSON.parse(root.dataset.words ?? "{}") as Words;
    this.list = root.querySelector<HTMLElement>("[data-threads]") ?? root;
    this.refresh = showHighlights(editor, () => highlightsOf(this.listing.threads));
    root.addEventListener("click", (event) => this.clicked(event));
    root.addEventListener("submit", (event) => this.submitted(event));
    root.querySelector("[data-comments-filter]")?.addEventListener("change", () => void this.load());
    // After the change has reached Yjs (an edit typed here gets there once the view updated).
    editor.on("update", () => void setTimeout(() => this.checkOrphans(), 0));
    tabLive().subscribe(root.dataset.topic ?? "", (event) => {
      if (event.kind.startsWith("comment.")) void this.load();
    });
    onLiveReload(() => void this.load());
    void loaded.then(() => {
      this.synced = true;
      this.checkOrphans();
    });
    void this.load();
  }

  private word(key: string): string {
    return this.words[key] ?? key;
  }

  private shownHash = false;

  /** The address's #commentaire-<id> (a notification's link), once its thread is listed. */
  private showHash(): void {
    if (this.shownHash || !window.location.hash.startsWith("#commentaire-")) return;
    const target = document.getElementById(window.location.hash.slice(1));
    if (!target) return;
    this.shownHash = true;
    target.setAttribute("tabindex", "-1");
    target.scrollIntoView({ block: "center" });
    target.focus({ preventScroll: true });
  }

  async load(): Promise<void> {
    const filter = this.root.querySelector<HTMLSelectElement>("[data-comments-filter]")?.value ?? "non";
    const loading = askJson<Threads>("GET", `${this.url}?resolus=${filter}`).then((found) => {
      this.listing = found;
      this.render();
      this.refresh();
      this.showHash();
      this.checkOrphans();
    });
    this.loading = loading.catch(() => undefined);
    return this.loading;
  }

  /** A thread whose words were all deleted is orphaned: say so to the server, once. */
  private checkOrphans(): void {
    // Before the document is in, anchors resolve to nothing: never orphan them then.
    if (!this.listing.can_comment || !this.synced) return;
    for (const thread of this.listing.threads) {
      if (!thread.anchor || thread.orphaned || this.orphanedSent.has(thread.id)) continue;
      // Gone: the range collapsed, or its ends went with a deleted paragraph.
      const where = resolveAnchor(this.editor.state, thread.anchor);
      if (where === "gone" || where === null) {
        this.orphanedSent.add(thread.id);
        void askJson("PATCH", `/api/commentaires/${thread.id}`, { orphaned: true }).catch(() => undefined);
      }
    }
  }

  private render(): void {
    const open = this.root.querySelector<HTMLElement>("[data-comment-form]");
    this.list.replaceChildren(...this.listing.threads.map((thread) => this.thread(thread)));
    const empty = this.root.querySelector<HTMLElement>("[data-comments-empty]");
    if (empty) empty.hidden = this.listing.threads.length > 0;
    this.root.dataset.count = String(this.listing.threads.length);
    if (open && !this.listing.can_comment) open.hidden = true;
  }

  private thread(thread: Comment): HTMLElement {
    const item = element("li", { class: "comment-thread", id: `commentaire-${thread.id}`, "data-thread": String(thread.id) });
    if (thread.resolved) item.classList.add("comment-thread--resolved");
    if (thread.quote) {
      const quote = element("blockquote", { class: "comment-quote" }, thread.quote);
      item.append(quote);
      if (thread.orphaned) item.append(element("p", { class: "comment-orphaned" }, this.word("orphaned")));
    }
    item.append(this.comment(thread, thread));
    const replies = thread.replies ?? [];
    if (replies.length) {
      const list = element("ul", { class: "comment-replies" });
      for (const reply of replies) {
        const li = element("li", { id: `commentaire-${reply.id}` });
        li.append(this.comment(reply, thread));
        list.append(li);
      }
      item.append(list);
    }
    const may = allowed(thread, thread, this.listing);
    const actions = element("div", { class: "comment-thread__actions" });
    if (may.resolve) {
      actions.append(
        thread.resolved
          ? button(this.word("reopen"), "reopen", thread.id, "secondary")
          : button(this.word("resolve"), "resolve", thread.id, "secondary"),
      );
    }
    if (thread.resolved) item.append(element("p", { class: "comment-meta" }, this.word("resolved")));
    if (may.reply && !thread.resolved) {
      const form = element("form", { class: "comment-reply", "data-reply": String(thread.id) });
      const id = `reponse-${thread.id}`;
      form.append(
        element("label", { class: "fr-label", for: id }, this.word("replyLabel")),
        element("textarea", { class: "fr-input", id, name: "body", rows: "2", required: "", maxlength: "10000" }),
        element("button", { type: "submit", class: "fr-btn fr-btn--sm" }, this.word("reply")),
      );
      item.append(form);
    }
    if (actions.childElementCount) item.append(actions);
    return item;
  }

  private comment(comment: Comment, root: Comment): HTMLElement {
    const article = element("article", { class: "comment", "data-comment-id": String(comment.id) });
    const head = element("p", { class: "comment-meta" });
    head.append(element("strong", {}, comment.author?.name ?? this.word("someone")));
    const when = element("time", { datetime: comment.created_at }, new Date(comment.created_at).toLocaleString(document.documentElement.lang || "fr"));
    head.append(" ", when);
    if (comment.edited && !comment.deleted) head.append(" ", element("span", { class: "comment-edited" }, this.word("edited")));
    article.append(head);
    const body = element("div", { class: "comment-body" });
    if (comment.deleted) body.textContent = this.word("deleted");
    else body.innerHTML = comment.body; // sanitised by the server (nh3)
    article.append(body);
    const may = allowed(comment, root, this.listing);
    if (may.edit) {
      const actions = element("div", { class: "comment-actions" });
      actions.append(button(this.word("edit"), "edit", comment.id), button(this.word("delete"), "delete", comment.id));
      article.append(actions);
    }
    return article;
  }

  private clicked(event: Event): void {
    const target = (event.target as Element | null)?.closest<HTMLButtonElement>("button[data-action]");
    if (!target) return;
    const id = Number(target.dataset.id);
    const act = target.dataset.action;
    if (act === "new") this.openForm();
    else if (act === "cancel") this.closeForm();
    else if (act === "resolve" || act === "reopen") {
      const path = act === "resolve" ? "resoudre" : "rouvrir";
      void this.send("POST", `/api/commentaires/${id}/${path}`).then(() => this.focusThread(id));
    }
    else if (act === "delete" && window.confirm(this.word("confirmDelete"))) void this.send("DELETE", `/api/commentaires/${id}`);
    else if (act === "edit") this.edit(target, id);
  }

  /** Focus a thread after a change (or the panel's title when it left the list). */
  private focusThread(id: number): void {
    const thread = document.getElementById(`commentaire-${id}`) ?? this.root.querySelector<HTMLElement>("h2");
    thread?.setAttribute("tabindex", "-1");
    thread?.focus();
  }

  private edit(target: HTMLElement, id: number): void {
    const article = target.closest<HTMLElement>("article");
    const body = article?.querySelector<HTMLElement>(".comment-body");
    if (!article || !body) return;
    const form = element("form", { class: "comment-edit", "data-edit": String(id) });
    const field = `modifier-${id}`;
    const area = element("textarea", { class: "fr-input", id: field, name: "body", rows: "3", required: "" });
    area.value = body.innerText;
    form.append(
      element("label", { class: "fr-label", for: field }, this.word("editLabel")),
      area,
      element("button", { type: "submit", class: "fr-btn fr-btn--sm" }, this.word("save")),
    );
    body.replaceWith(form);
    target.parentElement?.remove();
    area.focus();
  }

  private openForm(): void {
    const form = this.root.querySelector<HTMLFormElement>("[data-comment-form]");
    if (!form) return;
    this.pending = anchorOfSelection(this.editor);
    const quote = form.querySelector<HTMLElement>("[data-comment-quote]");
    if (quote) {
      quote.textContent = this.pending?.quote ?? "";
      quote.hidden = !this.pending;
    }
    form.hidden = false;
    form.querySelector<HTMLTextAreaElement>("textarea")?.focus();
  }

  private closeForm(): void {
    const form = this.root.querySelector<HTMLFormElement>("[data-comment-form]");
    if (!form) return;
    form.reset();
    form.hidden = true;
    this.pending = null;
    this.root.querySelector<HTMLElement>("[data-action=new]")?.focus();
  }

  private submitted(event: Event): void {
    const form = event.target as HTMLFormElement;
    event.preventDefault();
    const text = form.querySelector<HTMLTextAreaElement>("textarea")?.value ?? "";
    if (!text.trim()) return;
    const body = textToHtml(text);
    if (form.matches("[data-comment-form]")) {
      const sent = { body, ...(this.pending ?? {}) };
      void this.send("POST", this.url, sent, form).then((ok) => ok && this.closeForm());
    } else if (form.dataset.reply) {
      const thread = form.dataset.reply;
      void this.send("POST", this.url, { body, thread_id: Number(thread) }, form).then((ok) => {
        if (ok) this.root.querySelector<HTMLElement>(`[data-reply="${thread}"] textarea`)?.focus();
      });
    } else if (form.dataset.edit) {
      void this.send("PATCH", `/api/commentaires/${form.dataset.edit}`, { body }, form);
    }
  }

  /** A change, then the list again; a refusal is said next to the form (or the panel). */
  private async send(method: string, url: string, body?: unknown, form?: HTMLElement): Promise<boolean> {
    const error = this.root.querySelector<HTMLElement>("[data-comments-error]");
    try {
      await askJson(method, url, body);
      if (error) error.hidden = true;
      await this.load();
      return true;
    } catch (refused) {
      if (error) {
        error.textContent = (refused as Error).message;
        error.hidden = false;
      }
      form?.querySelector<HTMLElement>("textarea")?.focus();
      return false;
    }
  }
}
