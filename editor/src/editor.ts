// The page editor: TipTap 3 bound to a shared Y.Doc, with live carets and a toolbar of buttons
// the server renders (labels come from its translations; each button names a command).
import { Editor, Extension } from "@tiptap/core";
import { Plugin } from "@tiptap/pm/state";
import StarterKit from "@tiptap/starter-kit";
import Collaboration from "@tiptap/extension-collaboration";
import CollaborationCaret from "@tiptap/extension-collaboration-caret";
import { TableKit } from "@tiptap/extension-table";
import { TaskItem, TaskList } from "@tiptap/extension-list";
import type { SharedDocument } from "./collab";
import { pageImage, type ImagePlace } from "./images";

/** Roles that may change a page; readers and commenters see it live but cannot type. */
export const WRITING_ROLES: ReadonlySet<string> = new Set(["owner", "admin", "editor"]);

export interface CaretUser {
  name: string;
  color: string;
}

export interface EditorOptions {
  element: HTMLElement;
  shared: SharedDocument;
  user: CaretUser;
  editable: boolean;
  /** Accessible name of the editing area. */
  label: string;
  /** Accessible name of a checklist box; "{text}" stands for the item's text. */
  taskLabel?: string;
  /** Image files pasted or dropped in (at `pos` for a drop); they go through the image dialog. */
  onImageFiles?: (files: File[], pos: number | null) => void;
  /** Where this page's images are served and brought over (see ./images). */
  images?: ImagePlace;
}

function imageFiles(data: DataTransfer | null): File[] {
  return Array.from(data?.files ?? []).filter((file) => file.type.startsWith("image/"));
}

/** Links the editor accepts: web, mail and paths on this site (links to other pages). */
export function isAllowedHref(href: string): boolean {
  const value = href.trim();
  if (value.startsWith("/") && !value.startsWith("//")) return true;
  return /^(https?:\/\/|mailto:)/i.test(value);
}

export function renderCaret(user: Record<string, unknown>): HTMLElement {
  const name = typeof user.name === "string" ? user.name : "";
  const color = typeof user.color === "string" ? user.color : "#444";
  const caret = document.createElement("span");
  caret.classList.add("collaboration-carets__caret");
  caret.style.borderColor = color;
  const label = document.createElement("span");
  label.classList.add("collaboration-carets__label");
  label.style.backgroundColor = color;
  label.textContent = name;
  caret.append(label);
  return caret;
}

export function createEditor(options: EditorOptions): Editor {
  const { shared } = options;
  return new Editor({
    element: options.element,
    editable: options.editable,
    extensions: [
      StarterKit.configure({
        // Yjs keeps its own undo history (per user), provided by Collaboration.
        undoRedo: false,
        heading: { levels: [1, 2, 3] },
        link: {
          openOnClick: false,
          autolink: true,
          defaultProtocol: "https",
          isAllowedUri: (url) => isAllowedHref(url),
          HTMLAttributes: { rel: "noopener noreferrer nofollow", target: null },
        },
      }),
      TaskList,
      TaskItem.configure({
        nested: true,
        a11y: {
          checkboxLabel: (node) =>
            (options.taskLabel ?? "Tâche : {text}").replace("{text}", node.textContent),
        },
      }),
      TableKit.configure({ table: { resizable: false } }),
      pageImage(options.images),
      Collaboration.configure({ document: shared.ydoc, field: "default" }),
      ReadOnlyState,
      CollaborationCaret.configure({
        provider: shared.provider,
        user: { name: options.user.name, color: options.user.color },
        render: renderCaret,
      }),
    ],
    injectCSS: false,
    editorProps: {
      attributes: {
        role: "textbox",
        "aria-multiline": "true",
        "aria-label": options.label,
        class: "page-content",
      },
      handlePaste: (_view, event) => {
        const files = imageFiles(event.clipboardData);
        if (!files.length || !options.onImageFiles) return false;
        options.onImageFiles(files, null);
        return true;
      },
      handleDrop: (view, event, _slice, moved) => {
        const files = imageFiles(event.dataTransfer);
        if (moved || !files.length || !options.onImageFiles) return false;
        event.preventDefault();
        const at = view.posAtCoords({ left: event.clientX, top: event.clientY });
        options.onImageFiles(files, at ? at.pos : null);
        return true;
      },
    },
  });
}

/** Keeps aria-readonly in step with setEditable (e.g. when a revoked guest is cut off). */
const ReadOnlyState = Extension.create({
  name: "readOnlyState",
  addProseMirrorPlugins() {
    const editor = this.editor;
    // ProseMirror asks plugins for attributes again on every update.
    return [
      new Plugin({
        props: { attributes: () => ({ "aria-readonly": String(!editor.isEditable) }) },
      }),
    ];
  },
});
