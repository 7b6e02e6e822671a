// The toolbar: server-rendered <button data-command="..."> elements wired to editor commands.
// Keyboard use follows the WAI-ARIA toolbar pattern: one tab stop, arrow keys move between
// buttons, Home/End jump to the ends.
import type { Editor } from "@tiptap/core";
import { isAllowedHref } from "./editor";

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

export function bindToolbar(
  toolbar: HTMLElement,
  editor: Editor,
  openDialog: (command: DialogCommand) => void,
): void {
  const buttons = Array.from(toolbar.querySelectorAll<HTMLButtonElement>("button[data-command]"));
  buttons.forEach((button, index) => {
    button.tabIndex = index === 0 ? 0 : -1;
    button.addEventListener("mousedown", (event) => event.preventDefault()); // keep the selection
    button.addEventListener("click", () => {
      const name = button.dataset.command ?? "";
      if (name === "link" || name === "image") openDialog(name);
      else COMMANDS[name]?.run(editor);
    });
  });
  toolbar.addEventListener("keydown", (event) => {
    const enabled = buttons.filter((b) => !b.disabled);
    const at = enabled.indexOf(document.activeElement as HTMLButtonElement);
    if (at < 0) return;
    let next = -1;
    if (event.key === "ArrowRight" || event.key === "ArrowDown") next = (at + 1) % enabled.length;
    else if (event.key === "ArrowLeft" || event.key === "ArrowUp")
      next = (at - 1 + enabled.length) % enabled.length;
    else if (event.key === "Home") next = 0;
    else if (event.key === "End") next = enabled.length - 1;
    else if (event.key === "Escape") editor.commands.focus();
    if (next < 0) return;
    event.preventDefault();
    for (const b of buttons) b.tabIndex = -1;
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
    if (!buttons.some((b) => b.tabIndex === 0 && !b.disabled)) {
      const first = buttons.find((b) => !b.disabled);
      for (const b of buttons) b.tabIndex = b === first ? 0 : -1;
    }
  };
  editor.on("selectionUpdate", refresh);
  editor.on("transaction", refresh);
  refresh();
}

export interface LinkDialogOptions {
  dialog: HTMLDialogElement;
  editor: Editor;
}

/** The link dialog: an address or one of the space's pages (a datalist the server renders). */
export function bindLinkDialog({ dialog, editor }: LinkDialogOptions): () => void {
  const form = dialog.querySelector("form");
  const input = dialog.querySelector<HTMLInputElement>("input[name=href]");
  const error = dialog.querySelector<HTMLElement>("[data-part=error]");
  const remove = dialog.querySelector<HTMLButtonElement>("button[value=remove]");
  if (!form || !input) throw new Error("link dialog markup is incomplete");
  form.addEventListener("submit", (event) => {
    const action = (event.submitter as HTMLButtonElement | null)?.value ?? "apply";
    if (action === "cancel") return;
    if (action === "remove") {
      editor.chain().focus().extendMarkRange("link").unsetLink().run();
      return;
    }
    const href = input.value.trim();
    if (!isAllowedHref(href)) {
      event.preventDefault();
      if (error) error.hidden = false;
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    const chain = editor.chain().focus().extendMarkRange("link");
    if (editor.state.selection.empty && !editor.isActive("link")) {
      // No text selected: insert the address (or the page title) as the link text.
      const option = Array.from(dialog.querySelectorAll("option")).find((o) => o.value === href);
      const text = option?.label || option?.textContent || href;
      chain.insertContent({ type: "text", text, marks: [{ type: "link", attrs: { href } }] }).run();
    } else {
      chain.setLink({ href }).run();
    }
  });
  dialog.addEventListener("close", () => editor.commands.focus());
  return () => {
    const current = editor.getAttributes("link").href;
    input.value = typeof current === "string" ? current : "";
    input.removeAttribute("aria-invalid");
    if (error) error.hidden = true;
    if (remove) remove.hidden = !editor.isActive("link");
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
