// Uploaded images in the page editor. An image belongs to the pages it was put into, and the
// server serves it only through such a page, to those who may read it. So:
// - every uploaded image is shown through the page being read (`place.base`), whatever address
//   its node stores (another page's, or the old shared /fichiers/images/ one);
// - an editor who copies images in from another page (or opens a page holding such copies)
//   brings them over: the server checks this editor may see them, notes that this page holds
//   them, and the nodes are pointed at this page, so that its readers see them too.
import Image from "@tiptap/extension-image";
import type { Node as ProseMirrorNode } from "@tiptap/pm/model";
import { Plugin, PluginKey } from "@tiptap/pm/state";
import type { EditorView } from "@tiptap/pm/view";

export interface ImagePlace {
  /** Where this page's images are served, without a trailing slash (…/pages/3/images). */
  base: string;
  /** Added to each shown address (the token of a page opened by token); never stored. */
  query?: string;
  /** Where to bring images copied from elsewhere (absent: this person cannot write). */
  referencesUrl?: string;
  /** Extra headers for that request (the CSRF token). */
  headers?: Record<string, string>;
}

/** Addresses the server gives for uploads: a page's, a token document's, the old shared one. */
const UPLOADED =
  /^\/(?:espaces\/[^/?#]+\/pages\/\d+|d\/[^?#]+|fichiers)\/images\/([0-9a-f]{64}\.(?:png|jpg|gif|webp))$/;

/** The stored name of an uploaded image from its address, or null for any other address. */
export function uploadedImageName(src: unknown): string | null {
  if (typeof src !== "string") return null;
  const match = UPLOADED.exec(src);
  return match ? match[1] : null;
}

/** The address the browser loads for a stored `src`, on this page. */
export function shownSource(src: string, place: ImagePlace | undefined): string {
  const name = uploadedImageName(src);
  if (!name || !place) return src;
  return `${place.base}/${name}${place.query ?? ""}`;
}

const SHOWN_ATTRIBUTES = ["alt", "title", "width", "height"] as const;

/** TipTap's image node, shown through this page and brought over when copied in. */
export function pageImage(place: ImagePlace | undefined) {
  return Image.extend({
    addNodeView() {
      return ({ node }) => {
        const img = document.createElement("img");
        let failed = false;
        img.addEventListener("error", () => {
          failed = true;
        });
        img.addEventListener("load", () => {
          failed = false;
        });
        const show = (current: ProseMirrorNode): void => {
          for (const key of SHOWN_ATTRIBUTES) {
            const value: unknown = current.attrs[key];
            if (value === null || value === undefined || value === "") img.removeAttribute(key);
            else img.setAttribute(key, String(value));
          }
          const src = shownSource(String(current.attrs.src ?? ""), place);
          // Setting the same address again loads it again: an image refused a moment ago (not
          // yet brought over to this page) is asked for anew when its node changes.
          if (failed || img.getAttribute("src") !== src) img.setAttribute("src", src);
        };
        show(node);
        return {
          dom: img,
          update: (updated) => {
            if (updated.type !== node.type) return false;
            show(updated);
            return true;
          },
        };
      };
    },
    addProseMirrorPlugins() {
      const plugins = this.parent?.() ?? [];
      if (!place?.referencesUrl) return plugins;
      return [...plugins, bringImagesOver(place, place.referencesUrl)];
    },
  }).configure({ inline: false, allowBase64: false });
}

/** At most this many images per request (the server's limit). */
const BATCH = 100;

function bringImagesOver(place: ImagePlace, url: string): Plugin {
  const own = (name: string): string => `${place.base}/${name}`;
  // Names asked for in this session: refused ones are not asked again until a reload.
  const asked = new Set<string>();

  const foreignNames = (doc: ProseMirrorNode): string[] => {
    const found = new Set<string>();
    doc.descendants((node) => {
      if (node.type.name !== "image") return;
      const name = uploadedImageName(node.attrs.src);
      if (name && node.attrs.src !== own(name) && !asked.has(name)) found.add(name);
    });
    return [...found].slice(0, BATCH);
  };

  const pointHere = (view: EditorView, brought: Set<string>): void => {
    if (view.isDestroyed || !brought.size) return;
    const tr = view.state.tr;
    view.state.doc.descendants((node, pos) => {
      if (node.type.name !== "image") return;
      const name = uploadedImageName(node.attrs.src);
      if (name && brought.has(name) && node.attrs.src !== own(name)) {
        tr.setNodeMarkup(pos, undefined, { ...node.attrs, src: own(name) });
      }
    });
    if (tr.docChanged) view.dispatch(tr.setMeta("addToHistory", false));
  };

  const bring = async (view: EditorView): Promise<void> => {
    if (view.isDestroyed || !view.editable) return;
    const names = foreignNames(view.state.doc);
    if (!names.length) return;
    for (const name of names) asked.add(name);
    let response: Response;
    try {
      response = await fetch(url, {
        method: "POST",
        body: JSON.stringify({ images: names }),
        headers: { "Content-Type": "application/json", ...place.headers },
        credentials: "same-origin",
      });
    } catch {
      // Offline: ask again at the next change.
      for (const name of names) asked.delete(name);
      return;
    }
    if (!response.ok) return; // refused: not again in this session
    const reply = (await response.json().catch(() => ({}))) as { images?: unknown };
    const brought = Array.isArray(reply.images)
      ? reply.images.filter((name): name is string => typeof name === "string")
      : [];
    pointHere(view, new Set(brought));
  };

  return new Plugin({
    key: new PluginKey("bringImagesOver"),
    view: (view) => {
      let scheduled: ReturnType<typeof setTimeout> | null = null;
      // One look after a burst of changes (a paste, the first sync), not one per keystroke.
      const schedule = (): void => {
        if (scheduled === null) {
          scheduled = setTimeout(() => {
            scheduled = null;
            void bring(view);
          }, 50);
        }
      };
      schedule();
      return {
        update: (current, previous) => {
          if (current.state.doc !== previous.doc) schedule();
        },
        destroy: () => {
          if (scheduled !== null) clearTimeout(scheduled);
        },
      };
    },
  });
}
