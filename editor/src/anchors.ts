// Comment anchors on a page's text (docs/social.md): a range kept as two Yjs relative
// positions, so it stays on its words while others type around it, shown as a highlight (a
// ProseMirror decoration) in every viewer's editor. Stored as JSON of base64 (the server keeps
// it as given).

import type { Editor } from "@tiptap/core";
import { Plugin, PluginKey, type EditorState } from "@tiptap/pm/state";
import { Decoration, DecorationSet } from "@tiptap/pm/view";
import {
  absolutePositionToRelativePosition,
  relativePositionToAbsolutePosition,
  ySyncPluginKey,
} from "@tiptap/y-tiptap";
import { fromBase64, toBase64 } from "lib0/buffer";
import * as Y from "yjs";

export interface Highlight {
  id: number;
  anchor: string;
}

/** An anchor's two ends, encoded. */
export function encodeAnchor(from: Y.RelativePosition, to: Y.RelativePosition): string {
  return JSON.stringify({
    from: toBase64(Y.encodeRelativePosition(from)),
    to: toBase64(Y.encodeRelativePosition(to)),
  });
}

/** An anchor's two ends, or null when it is not one of ours. */
export function decodeAnchor(anchor: string): { from: Y.RelativePosition; to: Y.RelativePosition } | null {
  try {
    const parsed = JSON.parse(anchor) as { from?: unknown; to?: unknown };
    if (typeof parsed.from !== "string" || typeof parsed.to !== "string") return null;
    return {
      from: Y.decodeRelativePosition(fromBase64(parsed.from)),
      to: Y.decodeRelativePosition(fromBase64(parsed.to)),
    };
  } catch {
    return null;
  }
}

interface Binding {
  type: Y.XmlFragment;
  doc: Y.Doc;
  mapping: Map<unknown, unknown>;
}

function bindingOf(state: EditorState): Binding | null {
  const sync = ySyncPluginKey.getState(state) as { binding?: Binding } | undefined;
  return sync?.binding ?? null;
}

/** The editor's selection as an anchor and its words, or null when nothing is selected. */
export function anchorOfSelection(editor: Editor): { anchor: string; quote: string } | null {
  const { state } = editor;
  const { from, to } = state.selection;
  const binding = bindingOf(state);
  if (from === to || binding === null) return null;
  const start = absolutePositionToRelativePosition(from, binding.type, binding.mapping as never);
  const end = absolutePositionToRelativePosition(to, binding.type, binding.mapping as never);
  const quote = state.doc.textBetween(from, to, " ").slice(0, 500);
  return { anchor: encodeAnchor(start as Y.RelativePosition, end as Y.RelativePosition), quote };
}

/** Where an anchor lies now: a range, "gone" when its text was deleted, or null when the
 * document does not hold its ends (yet). */
export function resolveAnchor(state: EditorState, anchor: string): { from: number; to: number } | "gone" | null {
  const ends = decodeAnchor(anchor);
  const binding = bindingOf(state);
  if (ends === null || binding === null) return null;
  const map = binding.mapping as never;
  const from = relativePositionToAbsolutePosition(binding.doc, binding.type, ends.from, map);
  const to = relativePositionToAbsolutePosition(binding.doc, binding.type, ends.to, map);
  if (from === null || to === null) return null;
  if (to <= from) return "gone";
  return { from, to };
}

const key = new PluginKey<DecorationSet>("atelier-comment-anchors");

/** Shows `highlights()` on the text; call the returned function when they change. */
export function showHighlights(editor: Editor, highlights: () => Highlight[]): () => void {
  const build = (state: EditorState): DecorationSet => {
    const decorations: Decoration[] = [];
    for (const highlight of highlights()) {
      const range = resolveAnchor(state, highlight.anchor);
      if (range === null || range === "gone") continue;
      decorations.push(
        Decoration.inline(range.from, range.to, {
          class: "comment-anchor",
          "data-comment": String(highlight.id),
        }),
      );
    }
    return DecorationSet.create(state.doc, decorations);
  };
  editor.registerPlugin(
    new Plugin<DecorationSet>({
      key,
      state: {
        init: (_config, state) => build(state),
        apply: (tr, old, _before, state) => {
          if (tr.getMeta(key)) return build(state);
          if (!tr.docChanged) return old;
          // A change that came from Yjs (another person, undo): the positions are read again
          // from the anchors. One typed here is not in Yjs yet: the highlights follow it.
          const fromYjs = (tr.getMeta(ySyncPluginKey) as { isChangeOrigin?: boolean } | undefined)?.isChangeOrigin;
          return fromYjs ? build(state) : old.map(tr.mapping, tr.doc);
        },
      },
      props: { decorations: (state) => key.getState(state) },
    }),
  );
  return () => {
    if (!editor.isDestroyed) editor.view.dispatch(editor.state.tr.setMeta(key, true));
  };
}
