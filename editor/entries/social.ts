// Entry for every page of a signed-in person: the header's notification bell, kept live by the
// tab's one stream (editor/src/livetab.ts), and the notifications page's "mark read" buttons.

import { showCount, unreadOf } from "../src/bell";
import { askJson, onLiveReload, tabLive } from "../src/livetab";
import { startRecommend } from "../src/recommend";

async function refreshCount(): Promise<void> {
  try {
    const found = await askJson<{ unread: number }>("GET", "/api/notifications?seulement=nombre");
    showCount(found.unread);
  } catch {
    // Signed out since, or offline: the bell keeps what it showed.
  }
}

function startBell(): void {
  if (!document.querySelector("[data-bell]")) return;
  const live = tabLive();
  const fromEvent = (event: { data: Record<string, unknown> }): void => {
    const count = unreadOf(event.data);
    if (count !== null) showCount(count);
  };
  live.on("notification.created", fromEvent);
  live.on("notification.read", fromEvent);
  onLiveReload(() => void refreshCount());
  void refreshCount();
}

function markRead(item: HTMLElement): void {
  item.classList.remove("atelier-notification--unread");
  item.querySelector("[data-action=read-one]")?.remove();
  item.querySelector(".atelier-notification__link .fr-sr-only")?.remove();
}

function startNotificationsPage(): void {
  const root = document.querySelector<HTMLElement>("[data-notifications]");
  if (!root) return;
  const status = root.querySelector<HTMLElement>("[data-notifications-status]");
  const readAll = root.querySelector<HTMLButtonElement>("[data-action=read-all]");
  const settle = (unread: number, said: string): void => {
    showCount(unread);
    if (readAll) readAll.hidden = unread === 0;
    if (status) status.textContent = said;
  };
  root.addEventListener("click", (event) => {
    const button = (event.target as Element | null)?.closest<HTMLButtonElement>("button[data-action]");
    const link = (event.target as Element | null)?.closest<HTMLAnchorElement>("[data-notification-link]");
    if (button?.dataset.action === "read-one") {
      const item = button.closest<HTMLElement>("[data-notification]");
      if (!item) return;
      void askJson<{ unread: number }>("POST", `/api/notifications/${button.dataset.id}/lue`).then(
        (found) => {
          const next = item.nextElementSibling ?? item.parentElement?.closest("section")?.nextElementSibling;
          markRead(item);
          settle(found.unread, root.dataset.saidOne ?? "");
          (next?.querySelector<HTMLElement>("a, button") ?? readAll ?? root).focus();
        },
      );
    } else if (button?.dataset.action === "read-all") {
      void askJson<{ unread: number }>("POST", "/api/notifications/lues").then((found) => {
        root.querySelectorAll<HTMLElement>("[data-notification]").forEach(markRead);
        settle(found.unread, root.dataset.saidAll ?? "");
        root.querySelector<HTMLElement>("h1")?.setAttribute("tabindex", "-1");
        root.querySelector<HTMLElement>("h1")?.focus();
      });
    } else if (link) {
      // Following a notification reads it (without holding the link up).
      const item = link.closest<HTMLElement>("[data-notification]");
      if (item?.classList.contains("atelier-notification--unread")) {
        void fetch(`/api/notifications/${item.dataset.notification}/lue`, {
          method: "POST",
          credentials: "same-origin",
          keepalive: true,
          headers: { "X-CSRF-Token": document.querySelector<HTMLMetaElement>('meta[name="csrf-token"]')?.content ?? "" },
        });
      }
    }
  });
}

startBell();
startNotificationsPage();
for (const block of document.querySelectorAll<HTMLElement>("[data-recommend]")) {
  const me = Number(block.dataset.me);
  startRecommend(block, Number.isInteger(me) && me > 0 ? me : null);
}
