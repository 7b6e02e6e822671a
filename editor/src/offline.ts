// Makes the open page loadable offline: registers the service worker (/sw.js) and puts the
// page and its script and styles in the cache it reads when the network fails.

/** The cache the service worker (editor/entries/sw.ts) falls back to. */
export const OFFLINE_CACHE = "atelier-offline-v1";

/** The URLs this page needs to start: itself, its module scripts and its style sheets. */
export function pageResources(doc: Document, scriptUrl: string): string[] {
  const urls = new Set<string>([doc.location.href, scriptUrl]);
  for (const link of doc.querySelectorAll<HTMLLinkElement>("link[rel=stylesheet]")) {
    urls.add(link.href);
  }
  for (const script of doc.querySelectorAll<HTMLScriptElement>("script[src]")) {
    urls.add(script.src);
  }
  // Chunks the bundle imported (esbuild splitting) and anything else loaded from /static/.
  const origin = doc.location.origin;
  for (const entry of performance.getEntriesByType("resource")) {
    if (entry.name.startsWith(`${origin}/static/`)) urls.add(entry.name);
  }
  return [...urls];
}

/** Resolves true once the page would load offline, false where the browser cannot do it. */
export async function keepPageForOffline(scriptUrl: string): Promise<boolean> {
  if (!("serviceWorker" in navigator) || !("caches" in window) || !window.isSecureContext) {
    return false;
  }
  try {
    await navigator.serviceWorker.register("/sw.js", { scope: "/" });
    await navigator.serviceWorker.ready;
    const cache = await caches.open(OFFLINE_CACHE);
    // The first visit was fetched before the worker ran: store it now, while online.
    if (navigator.onLine) await cache.addAll(pageResources(document, scriptUrl));
    return true;
  } catch {
    return false;
  }
}
