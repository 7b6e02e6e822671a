// The toolbar: server-rendered <button data-command="..."> elements wired to editor commands.
// Keyboard use follows the WAI-ARIA toolbar pattern: one tab stop, arrow keys move between
// buttons, Home/End jump to the ends.
import type { Editor } from "@tiptap/core";
import { matchPages, resolveLink, type PageChoice } from "./link_pages";
import { fitCount, type FitItem } from "./toolbar_fit";

interface Command {
  run: (editor: Editor) => void;
  /** Whether the button shows as pressed (aria-pressed) for the current selection. */
  active?: (editor: Editor) => boolean;
  /** Whether the command applies where the selection is. */
  enabled?: (editor: Editor) => boolean;
}

const inTable = (editor: Editor): boolean => editor.isActive("table");

export const COMMANDS: Record<string, Command> = {
  undo: { run: (e) => e.chain().focus().undo().run(), enabled: (e) => e.can().undo() },
  redo: { run: (e) => e.chain().focus().redo().run(), enabled: (e) => e.can().redo() },
  paragraph: {
    run: (e) => e.chain().focus().setParagraph().run(),
    active: (e) => e.isActive("paragraph"),
  },
  heading1: {
    run: (e) => e.chain().focus().toggleHeading({ level: 1 }).run(),
    active: (e) => e.isActive("heading", { level: 1 }),
  },
  heading2: {
    run: (e) => e.chain().focus().toggleHeading({ level: 2 }).run(),
    active: (e) => e.isActive("heading", { level: 2 }),
  },
  heading3: {
    run: (e) => e.chain().focus().toggleHeading({ level: 3 }).run(),
    active: (e) => e.isActive("heading", { level: 3 }),
  },
  bold: { run: (e) => e.chain().focus().toggleBold().run(), active: (e) => e.isActive("bold") },
  italic: {
    run: (e) => e.chain().focus().toggleItalic().run(),
    active: (e) => e.isActive("italic"),
  },
  code: { run: (e) => e.chain().focus().toggleCode().run(), active: (e) => e.isActive("code") },
  bulletList: {
    run: (e) => e.chain().focus().toggleBulletList().run(),
    active: (e) => e.isActive("bulletList"),
  },
  orderedList: {
    run: (e) => e.chain().focus().toggleOrderedList().run(),
    active: (e) => e.isActive("orderedList"),
  },
  taskList: {
    run: (e) => e.chain().focus().toggleTaskList().run(),
    active: (e) => e.isActive("taskList"),
  },
  codeBlock: {
    run: (e) => e.chain().focus().toggleCodeBlock().run(),
    active: (e) => e.isActive("codeBlock"),
  },
  blockquote: {
    run: (e) => e.chain().focus().toggleBlockquote().run(),
    active: (e) => e.isActive("blockquote"),
  },
  table: {
    run: (e) => e.chain().focus().insertTable({ rows: 3, cols: 3, withHeaderRow: true }).run(),
    enabled: (e) => !inTable(e),
  },
  addRow: { run: (e) => e.chain().focus().addRowAfter().run(), enabled: inTable },
  addColumn: { run: (e) => e.chain().focus().addColumnAfter().run(), enabled: inTable },
  deleteRow: { run: (e) => e.chain().focus().deleteRow().run(), enabled: inTable },
  deleteColumn: { run: (e) => e.chain().focus().deleteColumn().run(), enabled: inTable },
  deleteTable: { run: (e) => e.chain().focus().deleteTable().run(), enabled: inTable },
};

/** Buttons handled outside COMMANDS (they open a dialog). */
export type DialogCommand = "link" | "image";

const PHONE = "(max-width: 47.99em)";

/** Buttons one can reach with the arrow keys: enabled, and not in the closed "Plus" panel. */
function navigable(toolbar: HTMLElement): HTMLButtonElement[] {
  return Array.from(toolbar.querySelectorAll<HTMLButtonElement>("button")).filter(
    (button) => !button.disabled && !button.closest("[hidden]"),
  );
}

/** Keep exactly one tab stop in the toolbar, on a button one can reach. */
function keepOneTabStop(toolbar: HTMLElement): void {
  const reachable = navigable(toolbar);
  const current = reachable.find((button) => button.tabIndex === 0) ?? reachable[0];
  for (const button of toolbar.querySelectorAll<HTMLButtonElement>("button")) {
    button.tabIndex = button === current ? 0 : -1;
  }
}

/**
 * One row of buttons: on a laptop, those that do not fit go, in order, into the "Plus" panel
 * (a disclosure: its button says aria-expanded), computed again whenever the toolbar's width
 * changes; on a phone, every button stays on the row, which scrolls sideways.
 */
export function fitToolbar(toolbar: HTMLElement): { close: () => void } {
  const wrap = toolbar.querySelector<HTMLElement>("[data-toolbar-more-wrap]");
  const more = toolbar.querySelector<HTMLButtonElement>("[data-toolbar-more]");
  const panel = toolbar.querySelector<HTMLElement>("[data-toolbar-overflow]");
  if (!wrap || !more || !panel) return { close: () => undefined };
  const groups = Array.from(toolbar.querySelectorAll<HTMLElement>(":scope > .toolbar-group"));
  const items = groups.flatMap((group) =>
    Array.from(group.querySelectorAll<HTMLButtonElement>("button")).map((button) => ({ button, group })),
  );
  const spare = new Map(
    groups.map((group) => {
      const copy = document.createElement("div");
      copy.className = "toolbar-group";
      copy.setAttribute("role", "group");
      copy.setAttribute("aria-label", group.getAttribute("aria-label") ?? "");
      panel.append(copy);
      return [group, copy] as const;
    }),
  );
  let widths: FitItem[] | null = null;
  let moreWidth = 0;
  let between = 0;
  let lastWidth = -1;

  const setOpen = (open: boolean): void => {
    panel.hidden = !open;
    more.setAttribute("aria-expanded", String(open));
    keepOneTabStop(toolbar);
  };
  const restore = (): void => {
    for (const { button, group } of items) group.append(button);
  };
  const measure = (): FitItem[] => {
    restore();
    wrap.hidden = false;
    const within = parseFloat(getComputedStyle(groups[0]).columnGap) || 0;
    between = parseFloat(getComputedStyle(toolbar).columnGap) || 0;
    moreWidth = more.getBoundingClientRect().width;
    return items.map(({ button, group }, index) => ({
      width: button.getBoundingClientRect().width,
      gapBefore: index && items[index - 1].group !== group ? between : within,
    }));
  };
  const layout = (): void => {
    const style = getComputedStyle(toolbar);
    const available =
      toolbar.clientWidth - (parseFloat(style.paddingLeft) || 0) - (parseFloat(style.paddingRight) || 0);
    if (available <= 0 || available === lastWidth) return;
    lastWidth = available;
    widths ??= measure();
    restore();
    const count = window.matchMedia(PHONE).matches
      ? items.length
      : fitCount(widths, available, moreWidth, between);
    for (const { button, group } of items.slice(count)) spare.get(group)?.append(button);
    for (const group of groups) group.hidden = !group.querySelector("button");
    for (const copy of spare.values()) copy.hidden = !copy.querySelector("button");
    wrap.hidden = count === items.length;
    toolbar.dataset.fitted = String(count);
    setOpen(false);
  };

  more.addEventListener("mousedown", (event) => event.preventDefault()); // keep the selection
  more.addEventListener("click", (event) => {
    const open = panel.hidden;
    setOpen(open);
    // Opened from the keyboard: into the panel, on its first button.
    if (open && event.detail === 0) navigable(panel)[0]?.focus();
  });
  panel.addEventListener("click", (event) => {
    if ((event.target as Element).closest("button[data-command]")) setOpen(false);
  });
  toolbar.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !panel.hidden) {
      event.preventDefault();
      event.stopPropagation();
      setOpen(false);
      more.focus();
    }
  });
  document.addEventListener("pointerdown", (event) => {
    if (!panel.hidden && !wrap.contains(event.target as Node)) setOpen(false);
  });
  new ResizeObserver(() => layout()).observe(toolbar);
  window.matchMedia(PHONE).addEventListener("change", () => {
    lastWidth = -1;
    layout();
  });
  return { close: () => setOpen(false) };
}

export function bindToolbar(
  toolbar: HTMLElement,
  editor: Editor,
  openDialog: (command: DialogCommand) => void,
): void {
  const buttons = Array.from(toolbar.querySelectorAll<HTMLButtonElement>("button[data-command]"));
  for (const button of buttons) {
    button.addEventListener("mousedown", (event) => event.preventDefault()); // keep the selection
    button.addEventListener("click", () => {
      const name = button.dataset.command ?? "";
      if (name === "link" || name === "image") openDialog(name);
      else COMMANDS[name]?.run(editor);
    });
  }
  fitToolbar(toolbar);
  toolbar.addEventListener("keydown", (event) => {
    const enabled = navigable(toolbar);
    const at = enabled.indexOf(document.activeElement as HTMLButtonElement);
    if (at < 0) return;
    let next = -1;
    if (event.key === "ArrowRight" || event.key === "ArrowDown") next = (at + 1) % enabled.length;
    else if (event.key === "ArrowLeft" || event.key === "ArrowUp")
      next = (at - 1 + enabled.length) % enabled.length;
    else if (event.key === "Home") next = 0;
    else if (event.key === "End") next = enabled.length - 1;
    else if (event.key === "Escape" && !event.defaultPrevented) editor.commands.focus();
    if (next < 0) return;
    event.preventDefault();
    for (const b of toolbar.querySelectorAll("button")) b.tabIndex = -1;
    enabled[next].tabIndex = 0;
    enabled[next].focus();
  });
  const refresh = (): void => {
    for (const button of buttons) {
      const command = COMMANDS[button.dataset.command ?? ""];
      if (command?.active) button.setAttribute("aria-pressed", String(command.active(editor)));
      if (command?.enabled) button.disabled = !command.enabled(editor);
      if (button.dataset.command === "link") {
        button.setAttribute("aria-pressed", String(editor.isActive("link")));
      }
    }
    // Keep exactly one tab stop even when the current one became disabled.
    keepOneTabStop(toolbar);
  };
  editor.on("selectionUpdate", refresh);
  editor.on("transaction", refresh);
  refresh();
}

export interface LinkDialogOptions {
  dialog: HTMLDialogElement;
  editor: Editor;
}

/** The pages of the list box found by the words in the field (a combobox, WAI-ARIA list
 * autocomplete): arrow keys walk them, Enter or a click picks one. */
function bindPageSearch(input: HTMLInputElement, list: HTMLElement | null): {
  pages: PageChoice[];
  reset: () => void;
} {
  const options = Array.from(list?.querySelectorAll<HTMLElement>("[role=option]") ?? []);
  const pages = options.map((option) => ({ title: option.textContent ?? "", url: option.dataset.url ?? "" }));
  let shown: HTMLElement[] = [];
  let active = -1;
  const show = (index: number): void => {
    active = index;
    shown.forEach((option, at) => option.setAttribute("aria-selected", String(at === index)));
    if (index >= 0) {
      input.setAttribute("aria-activedescendant", shown[index].id);
      shown[index].scrollIntoView({ block: "nearest" });
    } else input.removeAttribute("aria-activedescendant");
  };
  const close = (): void => {
    if (list) list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    shown = [];
    show(-1);
  };
  const filter = (): void => {
    if (!list) return;
    const found = new Set(matchPages(pages, input.value).map((page) => page.url));
    shown = [];
    for (const option of options) {
      option.hidden = !found.has(option.dataset.url ?? "");
      if (!option.hidden) shown.push(option);
    }
    list.hidden = !shown.length;
    input.setAttribute("aria-expanded", String(shown.length > 0));
    show(-1);
  };
  const pick = (option: HTMLElement): void => {
    input.value = option.dataset.url ?? "";
    input.dataset.title = option.textContent ?? "";
    close();
    input.focus();
  };
  if (list) {
    input.addEventListener("input", () => {
      delete input.dataset.title;
      filter();
    });
    input.addEventListener("keydown", (event) => {
      if (list.hidden || !shown.length) return;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        const step = event.key === "ArrowDown" ? 1 : -1;
        show((active + step + shown.length) % shown.length);
      } else if (event.key === "Enter" && active >= 0) {
        event.preventDefault();
        pick(shown[active]);
      } else if (event.key === "Escape") {
        event.preventDefault();
        close();
      }
    });
    list.addEventListener("mousedown", (event) => event.preventDefault()); // keep the focus
    list.addEventListener("click", (event) => {
      const option = (event.target as Element).closest<HTMLElement>("[role=option]");
      if (option) pick(option);
    });
  }
  return {
    pages,
    reset: () => {
      delete input.dataset.title;
      close();
    },
  };
}

/** The link dialog: an address, or one of the space's pages found by its title. */
export function bindLinkDialog({ dialog, editor }: LinkDialogOptions): () => void {
  const form = dialog.querySelector("form");
  const input = dialog.querySelector<HTMLInputElement>("input[name=href]");
  const error = dialog.querySelector<HTMLElement>("[data-part=error]");
  const remove = dialog.querySelector<HTMLButtonElement>("button[value=remove]");
  if (!form || !input) throw new Error("link dialog markup is incomplete");
  const search = bindPageSearch(input, dialog.querySelector<HTMLElement>("[role=listbox]"));
  form.addEventListener("submit", (event) => {
    const action = (event.submitter as HTMLButtonElement | null)?.value ?? "apply";
    if (action === "cancel") return;
    if (action === "remove") {
      editor.chain().focus().extendMarkRange("link").unsetLink().run();
      return;
    }
    const target = resolveLink(search.pages, input.value);
    if (!target) {
      event.preventDefault();
      if (error) error.hidden = false;
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    const href = target.url;
    const chain = editor.chain().focus().extendMarkRange("link");
    if (editor.state.selection.empty && !editor.isActive("link")) {
      // No text selected: insert the page's title (or the address) as the link text.
      const text = input.dataset.title || target.title || href;
      chain.insertContent({ type: "text", text, marks: [{ type: "link", attrs: { href } }] }).run();
    } else {
      chain.setLink({ href }).run();
    }
  });
  dialog.addEventListener("close", () => editor.commands.focus());
  return () => {
    const current = editor.getAttributes("link").href;
    const onLink = editor.isActive("link") && typeof current === "string";
    input.value = onLink ? current : "";
    input.removeAttribute("aria-invalid");
    search.reset();
    if (error) error.hidden = true;
    // "Retirer le lien" only where there is a link to take off.
    if (remove) remove.hidden = !onLink;
    dialog.showModal();
    input.focus();
  };
}

export interface ImageDialogOptions {
  dialog: HTMLDialogElement;
  editor: Editor;
  uploadUrl: string;
  /** Extra headers for the upload (e.g. the CSRF token). */
  headers?: Record<string, string>;
}

/**
 * The image dialog: pick a file and give its text alternative; the server stores it.
 * Returns the function that opens it, with a pasted or dropped file already chosen.
 */
export function bindImageDialog(options: ImageDialogOptions): (chosen?: File) => void {
  const { dialog, editor } = options;
  const form = dialog.querySelector("form");
  const file = dialog.querySelector<HTMLInputElement>("input[name=file]");
  const alt = dialog.querySelector<HTMLInputElement>("input[name=alt]");
  const error = dialog.querySelector<HTMLElement>("[data-part=error]");
  if (!form || !file || !alt) throw new Error("image dialog markup is incomplete");
  const showError = (message: string): void => {
    if (error) {
      error.textContent = message;
      error.hidden = false;
    }
  };
  form.addEventListener("submit", (event) => {
    const action = (event.submitter as HTMLButtonElement | null)?.value ?? "apply";
    if (action === "cancel") return;
    event.preventDefault();
    const picked = file.files?.[0];
    if (!picked) {
      file.focus();
      return;
    }
    const body = new FormData();
    body.append("file", picked);
    void fetch(options.uploadUrl, {
      method: "POST",
      body,
      headers: options.headers,
      credentials: "same-origin",
    })
      .then(async (response) => {
        const reply = (await response.json().catch(() => ({}))) as { url?: string; error?: string };
        if (!response.ok || !reply.url) {
          showError(reply.error ?? `${response.status} ${response.statusText}`);
          return;
        }
        dialog.close();
        editor.chain().focus().setImage({ src: reply.url, alt: alt.value.trim() }).run();
      })
      .catch((reason: unknown) => showError(String(reason)));
  });
  dialog.addEventListener("close", () => editor.commands.focus());
  return (chosen?: File) => {
    form.reset();
    if (error) error.hidden = true;
    if (chosen) {
      const transfer = new DataTransfer();
      transfer.items.add(chosen);
      file.files = transfer.files;
    }
    dialog.showModal();
    (chosen ? alt : file).focus();
  };
}
