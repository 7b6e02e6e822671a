// The service worker (served as /sw.js): lets a page that was open once load again with no
// network, so edits kept in IndexedDB can be seen and continued offline after a reload or
// after closing the browser. Network first, always: online, the server answers (and checks
// access) as usual; the cached copy is used only when the network fails.
// Kept free of imports so that it bundles into one classic script.

interface ExtendableEventLike extends Event {
  waitUntil(promise: Promise<unknown>): void;
}

interface FetchEventLike extends ExtendableEventLike {
  readonly request: Request;
  respondWith(response: Promise<Response>): void;
}

interface WorkerScope {
  readonly location: Location;
  readonly clients: { claim(): Promise<void> };
  skipWaiting(): Promise<void>;
  addEventListener(type: "install" | "activate", listener: (event: ExtendableEventLike) => void): void;
  addEventListener(type: "fetch", listener: (event: FetchEventLike) => void): void;
}

const worker = self as unknown as WorkerScope;

/** Also named in editor/src/offline.ts, which fills the cache from the open page. */
const CACHE = "atelier-offline-v1";

/** Page views that may be opened offline: documents by token and pages of spaces. */
const PAGE_PATHS = [/^\/d\/./, /^\/espaces\/[^/]+\/pages\/[^/]+\/?$/];
/** Uploaded images, so that pages opened offline show them. */
const IMAGE_PATHS = [
  /^\/fichiers\/images\/[0-9a-f]{64}\.\w+$/,
  /\/pages\/\d+\/images\/[0-9a-f]{64}\.\w+$/,
  /^\/d\/.+\/images\/[0-9a-f]{64}\.\w+$/,
];

worker.addEventListener("install", (event) => {
  event.waitUntil(worker.skipWaiting());
});

worker.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((n) => n !== CACHE).map((n) => caches.delete(n))))
      .then(() => worker.clients.claim()),
  );
});

worker.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== worker.location.origin) return;
  const page = request.mode === "navigate" && PAGE_PATHS.some((p) => p.test(url.pathname));
  const asset =
    url.pathname.startsWith("/static/") || IMAGE_PATHS.some((p) => p.test(url.pathname));
  if (page || asset) event.respondWith(networkFirst(request));
});

async function networkFirst(request: Request): Promise<Response> {
  try {
    const response = await fetch(request);
    if (response.ok && response.type === "basic") {
      const copy = response.clone();
      void caches.open(CACHE).then((cache) => cache.put(request, copy));
    }
    return response;
  } catch (error) {
    const cached = await caches.match(request);
    if (cached) return cached;
    throw error;
  }
}

export {};
