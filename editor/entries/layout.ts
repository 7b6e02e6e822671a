// Entry for every page under the neutral theme: the few behaviours of the DSFR's markup that
// Atelier uses, which the DSFR's own script provides under the `etat` theme (docs/design.md).
//   - header panels (.fr-modal: the menu and the search on a phone), opened and closed by the
//     buttons whose aria-controls names them; Escape closes, focus goes in and comes back;
//   - collapses (.fr-collapse: the side menu on a phone), toggled by their aria-controls button;
//   - the header's tool links (account, language, sign-out) copied into the phone menu, as the
//     DSFR does, so one list serves both sizes.

const OPENED = "fr-modal--opened";
const EXPANDED = "fr-collapse--expanded";

function openers(id: string): HTMLElement[] {
  return Array.from(document.querySelectorAll<HTMLElement>(`[aria-controls="${CSS.escape(id)}"]`));
}

let lastOpener: HTMLElement | null = null;

function openModal(modal: HTMLElement, opener: HTMLElement): void {
  lastOpener = opener;
  modal.classList.add(OPENED);
  modal.setAttribute("role", "dialog");
  modal.setAttribute("aria-modal", "true");
  if (opener.id) modal.setAttribute("aria-labelledby", opener.id);
  for (const button of openers(modal.id)) {
    if (!button.classList.contains("fr-btn--close")) {
      button.setAttribute("aria-expanded", "true");
      button.dataset.frOpened = "true";
    }
  }
  document.documentElement.style.overflow = "hidden";
  // The search panel is opened to type: its field takes the focus; the menu, its close button.
  const first =
    modal.querySelector<HTMLElement>("input[type=search]") ??
    modal.querySelector<HTMLElement>(".fr-btn--close, a[href], button");
  first?.focus();
}

function closeModal(modal: HTMLElement): void {
  modal.classList.remove(OPENED);
  modal.removeAttribute("role");
  modal.removeAttribute("aria-modal");
  modal.removeAttribute("aria-labelledby");
  for (const button of openers(modal.id)) {
    if (!button.classList.contains("fr-btn--close")) {
      button.setAttribute("aria-expanded", "false");
      button.dataset.frOpened = "false";
    }
  }
  document.documentElement.style.overflow = "";
  lastOpener?.focus();
  lastOpener = null;
}

function toggleCollapse(collapse: HTMLElement, button: HTMLElement): void {
  const expanded = !collapse.classList.contains(EXPANDED);
  collapse.classList.toggle(EXPANDED, expanded);
  button.setAttribute("aria-expanded", String(expanded));
}

function copyToolLinks(): void {
  const links = document.querySelector(".fr-header__tools-links");
  const target = document.querySelector(".fr-header__menu-links");
  if (!links || !target || target.childElementCount) return;
  const copy = links.cloneNode(true) as HTMLElement;
  copy.querySelectorAll("[id]").forEach((element) => element.removeAttribute("id"));
  target.append(...Array.from(copy.childNodes));
}

document.addEventListener("click", (event) => {
  const button = (event.target as Element | null)?.closest<HTMLElement>("button[aria-controls]");
  if (!button) return;
  const target = document.getElementById(button.getAttribute("aria-controls") ?? "");
  if (!target) return;
  if (target.classList.contains("fr-modal")) {
    event.preventDefault();
    if (target.classList.contains(OPENED)) closeModal(target);
    else openModal(target, button);
  } else if (target.classList.contains("fr-collapse")) {
    event.preventDefault();
    toggleCollapse(target, button);
  }
});

// Escape closes the open panel; Tab stays inside it (the page behind is covered).
document.addEventListener("keydown", (event) => {
  const open = document.querySelector<HTMLElement>(`.fr-modal.${OPENED}`);
  if (!open) return;
  if (event.key === "Escape") {
    closeModal(open);
  } else if (event.key === "Tab") {
    const focusable = Array.from(
      open.querySelectorAll<HTMLElement>("a[href], button:not([disabled]), input:not([type=hidden]), select"),
    ).filter((element) => element.offsetParent !== null);
    if (!focusable.length) return;
    const first = focusable[0];
    const last = focusable[focusable.length - 1];
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  }
});

// The panels are full-screen on a phone only: widening the window closes an open one.
window.matchMedia("(min-width: 62em)").addEventListener("change", (event) => {
  const open = document.querySelector<HTMLElement>(`.fr-modal.${OPENED}`);
  if (event.matches && open) closeModal(open);
});

copyToolLinks();
