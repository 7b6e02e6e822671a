// The "Partager" dialog (web/templates/_components.html `share_button`, the share page
// web/templates/spaces/share.html), progressive enhancement of plain pages:
//   - the button is a link to the share page; here it fetches that page and shows its
//     [data-share-panel] in a modal <dialog> instead (no reload). Escape or "Fermer" closes
//     it, Tab stays inside, and the focus goes back to the button;
//   - the panel's forms are sent with fetch and the panel is replaced by the answer's (the
//     server answers them with the share page again: a redirect, or the page with a refusal);
//   - "Copier" copies a new link and says "Lien copié" in a live region (here and on the
//     share page itself).

const FOCUSABLE =
  'a[href], button:not([disabled]):not([hidden]), input:not([disabled]):not([type="hidden"]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

function announce(root: ParentNode, message: string): void {
  const region =
    root.querySelector<HTMLElement>("[data-share-announce]") ??
    document.querySelector<HTMLElement>("[data-share-announce]");
  if (!region) return;
  // Emptied first: the same words said twice are announced twice.
  region.textContent = "";
  window.setTimeout(() => {
    region.textContent = message;
  }, 50);
}

async function copyFrom(button: HTMLButtonElement): Promise<void> {
  const input = document.getElementById(button.dataset.copy ?? "") as HTMLInputElement | null;
  if (!input) return;
  const root: ParentNode = button.closest("dialog") ?? document;
  try {
    await navigator.clipboard.writeText(input.value);
    announce(root, button.dataset.copied ?? "");
  } catch {
    input.select();
    announce(root, button.dataset.copyFailed ?? "");
  }
}

function showCopyButtons(root: ParentNode): void {
  root.querySelectorAll<HTMLButtonElement>("button[data-copy]").forEach((button) => {
    button.hidden = false;
  });
}

document.addEventListener("click", (event) => {
  const button = (event.target as Element | null)?.closest<HTMLButtonElement>("button[data-copy]");
  if (button) {
    event.preventDefault();
    void copyFrom(button);
  }
});
showCopyButtons(document);

/** The share panel of an answer, or null when the answer is something else. */
async function panelOf(response: Response): Promise<Element | null> {
  const type = response.headers.get("content-type") ?? "";
  if (!type.includes("text/html")) return null;
  const html = await response.text();
  const page = new DOMParser().parseFromString(html, "text/html");
  return page.querySelector("[data-share-panel]");
}

function setUp(opener: HTMLAnchorElement, dialog: HTMLDialogElement): void {
  const body = dialog.querySelector<HTMLElement>("[data-share-body]");
  if (!body) return;
  let busy = false;

  function place(panel: Element): void {
    body!.replaceChildren(...Array.from(panel.childNodes, (node) => document.importNode(node, true)));
    const titleId = panel.getAttribute("data-title");
    if (titleId && body!.querySelector(`#${CSS.escape(titleId)}`)) {
      dialog.removeAttribute("aria-label");
      dialog.setAttribute("aria-labelledby", titleId);
    }
    showCopyButtons(body!);
  }

  function focusInside(): void {
    const target =
      body!.querySelector<HTMLElement>("[role=alert]") ??
      body!.querySelector<HTMLElement>("[data-share-focus]") ??
      body!.querySelector<HTMLElement>("h1, h2");
    if (target && !target.matches(FOCUSABLE) && !target.hasAttribute("tabindex")) {
      target.setAttribute("tabindex", "-1");
    }
    target?.focus();
  }

  async function load(url: string, init?: RequestInit): Promise<boolean> {
    busy = true;
    dialog.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(url, { credentials: "same-origin", ...init });
      const panel = await panelOf(response);
      if (!panel) return false;
      place(panel);
      return true;
    } catch {
      return false;
    } finally {
      busy = false;
      dialog.removeAttribute("aria-busy");
    }
  }

  opener.addEventListener("click", async (event) => {
    if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || busy) return;
    event.preventDefault();
    if (await load(opener.href)) {
      dialog.showModal();
      focusInside();
    } else {
      window.location.assign(opener.href); // the share page itself says what went wrong
    }
  });

  dialog.addEventListener("close", () => {
    opener.focus();
  });

  // Tab and Shift+Tab go round the dialog's own controls.
  dialog.addEventListener("keydown", (event) => {
    if (event.key !== "Tab") return;
    const items = Array.from(dialog.querySelectorAll<HTMLElement>(FOCUSABLE)).filter(
      (element) => element.offsetParent !== null || element === document.activeElement,
    );
    if (!items.length) return;
    const first = items[0]!;
    const last = items[items.length - 1]!;
    const active = document.activeElement;
    if (event.shiftKey && (active === first || !dialog.contains(active))) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && (active === last || !dialog.contains(active))) {
      event.preventDefault();
      first.focus();
    }
  });

  body.addEventListener("submit", async (event) => {
    const form = event.target as HTMLFormElement;
    if (form.method === "dialog") return;
    event.preventDefault(); // never a page load under the dialog, even while one is on its way
    if (busy) return;
    const data = new FormData(form);
    const submitter = (event as SubmitEvent).submitter as HTMLButtonElement | null;
    if (submitter?.name) data.append(submitter.name, submitter.value);
    const fields = new URLSearchParams();
    data.forEach((value, key) => {
      if (typeof value === "string") fields.append(key, value);
    });
    const action = form.getAttribute("action") ?? opener.href;
    const done =
      form.method.toLowerCase() === "get"
        ? await load(`${action}?${fields.toString()}`)
        : await load(action, { method: "POST", body: fields });
    if (done) focusInside();
    else announce(dialog, dialog.dataset.failed ?? "");
  });
}

const shareOpener = document.querySelector<HTMLAnchorElement>("a[data-share-open]");
const shareDialog = document.querySelector<HTMLDialogElement>("dialog[data-share-dialog]");
if (shareOpener && shareDialog && typeof shareDialog.showModal === "function") {
  setUp(shareOpener, shareDialog);
}

export {};
