// The tab's one live stream (docs/live.md): every part of a page that wants live events (the
// header's bell, the comments panel...) shares it. Entries are bundled with code splitting, so
// this module, and so the stream, exists once per tab whichever entries import it.

import { LiveStream } from "./live";

let stream: LiveStream | null = null;
const reloaders = new Set<() => void>();

/** The tab's stream, opened on first use. */
export function tabLive(): LiveStream {
  if (stream === null) {
    stream = new LiveStream({ onReload: () => reloaders.forEach((reload) => reload()) });
    stream.start();
  }
  return stream;
}

/** `reload` runs when what was missed is too old to replay: fetch the state again. */
export function onLiveReload(reload: () => void): void {
  reloaders.add(reload);
}

/** The page's CSRF token (the layout's <meta name="csrf-token">), for the JSON routes. */
export function csrfToken(): string {
  return document.querySelector<HTMLMetaElement>('meta[name="csrf-token"]')?.content ?? "";
}

/** A JSON request to the app's own routes, with the CSRF token; the answer's JSON, or an error
 * carrying the server's message. */
export async function askJson<T>(method: string, url: string, body?: unknown): Promise<T> {
  const response = await fetch(url, {
    method,
    credentials: "same-origin",
    headers: {
      Accept: "application/json",
      "X-CSRF-Token": csrfToken(),
      ...(body === undefined ? {} : { "Content-Type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (!response.ok) throw new Error(typeof data.error === "string" ? data.error : String(response.status));
  return data as T;
}
