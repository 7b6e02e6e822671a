// Entry for a page view: mounts the editor on #editor from the data attributes the server renders.
//   data-doc            document name (/sync/{doc}); absent: the page does not exist yet, and
//                       the editor mounts on the "atelier:doc" event of #editor, once someone
//                       has set data-doc (the meeting client, when it creates the day's notes)
//   data-role           owner | admin | editor | commenter | reader
//   data-user-name      caret label;  data-user-color  caret colour
//   data-locale         fr | en
//   data-label          accessible name of the editing area
//   data-task-label     accessible name of a checklist box ("{text}": the item's text)
//   data-status-*       the status line's texts (syncing, saved, offline, refused, readonly)
//   data-upload-url     where images are posted (absent: no image button)
//   data-image-base     where the page's images are served (…/images, no trailing slash)
//   data-csrf-token     sent as X-CSRF-Token with uploads, when the page has one
//   data-store-key      whose device copy (IndexedDB) this is
import { CommentsPanel } from "../src/comments";
import { FRENCH_LABELS, SharedDocument, type ConnectionState, type StatusLabels } from "../src/collab";
import { WRITING_ROLES, createEditor } from "../src/editor";
import { keepPageForOffline } from "../src/offline";
import { bindImageDialog, bindLinkDialog, bindToolbar } from "../src/toolbar";

declare global {
  interface Window {
    atelier?: { shared: SharedDocument; editor: ReturnType<typeof createEditor> };
  }
}

function statusLabels(root: HTMLElement): StatusLabels {
  const labels = { ...FRENCH_LABELS };
  for (const key of Object.keys(labels) as ConnectionState[]) {
    const text = root.dataset[`status${key[0].toUpperCase()}${key.slice(1)}`];
    if (text) labels[key] = text;
  }
  return labels;
}

function mount(root: HTMLElement): void {
  const doc = root.dataset.doc;
  if (!doc) throw new Error("#editor needs data-doc");
  const role = root.dataset.role ?? "reader";
  const writable = WRITING_ROLES.has(role);
  const token = new URLSearchParams(window.location.search).get("token");
  const shared = new SharedDocument({ doc, token, storeKey: root.dataset.storeKey });
  const surface = root.querySelector<HTMLElement>("[data-part=surface]") ?? root;
  const csrf = root.dataset.csrfToken;
  const csrfHeaders = csrf ? { "X-CSRF-Token": csrf } : undefined;
  const imageBase = root.dataset.imageBase;
  // A page opened by token shows its images with that token; it is never stored in the text.
  const imageQuery = token ? `?token=${encodeURIComponent(token)}` : "";
  let openImage: ((chosen?: File) => void) | null = null;
  const editor = createEditor({
    element: surface,
    shared,
    editable: writable,
    user: {
      name: root.dataset.userName || "Anonyme",
      color: root.dataset.userColor || "#1e6bb8",
    },
    label: root.dataset.label || "Contenu de la page",
    taskLabel: root.dataset.taskLabel,
    images: imageBase
      ? {
          base: imageBase,
          query: imageQuery,
          referencesUrl: writable ? `${imageBase}/references${imageQuery}` : undefined,
          headers: csrfHeaders,
        }
      : undefined,
    onImageFiles: (files, pos) => {
      if (!openImage) return;
      if (pos !== null) editor.commands.setTextSelection(pos);
      openImage(files[0]);
    },
  });

  const toolbar = document.querySelector<HTMLElement>("[data-editor-toolbar]");
  const labels = statusLabels(root);
  const status = document.querySelector<HTMLElement>("[data-connection-status]");
  shared.onState((state) => {
    if (status) {
      status.textContent = labels[state];
      status.dataset.state = state;
    }
    if ((state === "refused" || state === "readonly") && editor.isEditable) {
      editor.setEditable(false);
      if (toolbar) toolbar.hidden = true;
    }
  });

  if (toolbar && writable) {
    const linkDialog = document.querySelector<HTMLDialogElement>("dialog[data-link-dialog]");
    const imageDialog = document.querySelector<HTMLDialogElement>("dialog[data-image-dialog]");
    const openLink = linkDialog ? bindLinkDialog({ dialog: linkDialog, editor }) : null;
    const uploadUrl = root.dataset.uploadUrl;
    openImage =
      imageDialog && uploadUrl
        ? bindImageDialog({ dialog: imageDialog, editor, uploadUrl, headers: csrfHeaders })
        : null;
    bindToolbar(toolbar, editor, (command) => {
      if (command === "link") openLink?.();
      else openImage?.();
    });
    toolbar.hidden = false;
  } else if (toolbar) {
    toolbar.hidden = true;
  }

  void shared.loaded.then(() => {
    // The moment a user can work on the page (measured by bench/editor_bench.py).
    performance.mark("atelier:editor-ready");
    root.dataset.ready = "true";
  });
  void keepPageForOffline(import.meta.url).then((kept) => {
    root.dataset.offlineReady = String(kept);
  });
  window.atelier = { shared, editor };
  const comments = document.querySelector<HTMLElement>("[data-comments]");
  if (comments?.dataset.url) new CommentsPanel(comments, editor, comments.dataset.url, shared.loaded);
}

const root = document.getElementById("editor");
if (root?.dataset.doc) mount(root);
else root?.addEventListener("atelier:doc", () => mount(root), { once: true });
