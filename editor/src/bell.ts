// The header's notification bell: its unread count, kept live by the person's own topic
// (`user:<id>`: `notification.created`, `notification.read`, both carrying the count).

export interface BellLabels {
  none: string;
  one: string;
  /** With `{n}` where the count goes. */
  many: string;
}

/** The bell's accessible name: "Notifications (3 non lues)". */
export function bellLabel(count: number, labels: BellLabels): string {
  if (count <= 0) return labels.none;
  if (count === 1) return labels.one;
  return labels.many.replace("{n}", String(count));
}

/** The badge's text: nothing at zero, "99+" past 99. */
export function badgeText(count: number): string {
  if (count <= 0) return "";
  return count > 99 ? "99+" : String(count);
}

/** The unread count an event carries, or null when it carries none. */
export function unreadOf(data: Record<string, unknown>): number | null {
  const unread = data.unread;
  return typeof unread === "number" && Number.isFinite(unread) && unread >= 0 ? unread : null;
}

/** Show `count` on every bell of the page (the header's, and its copy in the phone menu). */
export function showCount(count: number): void {
  for (const bell of document.querySelectorAll<HTMLElement>("[data-bell]")) {
    const labels = {
      none: bell.dataset.labelNone ?? "Notifications",
      one: bell.dataset.labelOne ?? "Notifications (1)",
      many: bell.dataset.labelMany ?? "Notifications ({n})",
    };
    bell.setAttribute("aria-label", bellLabel(count, labels));
    bell.dataset.unread = String(count);
    const badge = bell.querySelector<HTMLElement>("[data-bell-count]");
    if (badge) {
      badge.textContent = badgeText(count);
      badge.hidden = count <= 0;
    }
  }
}
