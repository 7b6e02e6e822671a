// The link dialog's pages of the space: found by their title as one types (accents and case
// ignored), and what the dialog links to when it is applied.
import { isAllowedHref } from "./editor";

export interface PageChoice {
  title: string;
  url: string;
}

/** A title or a query as compared: lower case, accents off, spaces collapsed. */
export function folded(text: string): string {
  return text
    .normalize("NFD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/\s+/g, " ")
    .trim();
}

/** Whether the field holds an address rather than words of a title. */
export function looksLikeAddress(value: string): boolean {
  return /^(\/|https?:|mailto:)/i.test(value.trim());
}

/** The pages whose title holds every word typed, those starting with it first. */
export function matchPages(pages: PageChoice[], query: string, limit = 8): PageChoice[] {
  const wanted = folded(query);
  if (!wanted || looksLikeAddress(query)) return [];
  const words = wanted.split(" ");
  const found = pages.filter((page) => {
    const title = folded(page.title);
    return words.every((word) => title.includes(word));
  });
  const starts = (page: PageChoice): number => (folded(page.title).startsWith(wanted) ? 0 : 1);
  return found.sort((a, b) => starts(a) - starts(b)).slice(0, limit);
}

/** What "Appliquer" links to: an accepted address, or the page the words name (its exact
 * title, else the only page they match); null when neither. */
export function resolveLink(pages: PageChoice[], value: string): PageChoice | null {
  const text = value.trim();
  if (!text) return null;
  const byUrl = pages.find((page) => page.url === text);
  if (byUrl) return byUrl;
  if (isAllowedHref(text)) return { title: "", url: text };
  const exact = pages.filter((page) => folded(page.title) === folded(text));
  if (exact.length >= 1) return exact[0];
  const found = matchPages(pages, text, 2);
  return found.length === 1 ? found[0] : null;
}
