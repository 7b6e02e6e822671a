// "Recommander" on a page or a space's home (docs/social.md): the count, who, one's own toggle
// (aria-pressed), kept live by the item's topic (`recommend.changed`).

import { askJson, onLiveReload, tabLive } from "./livetab";

export interface Person {
  id: number;
  name: string;
}

export interface RecommendWords {
  none: string;
  one: string;
  /** `{n}`: the count. */
  many: string;
  /** `{names}`: the list. */
  who: string;
  /** `{first}`, `{last}`. */
  and: string;
  /** `{n}`: how many more. */
  others: string;
  you: string;
}

/** How many, in words: "Aucune recommandation", "1 recommandation", "3 recommandations". */
export function countWords(count: number, words: RecommendWords): string {
  if (count <= 0) return words.none;
  if (count === 1) return words.one;
  return words.many.replace("{n}", String(count));
}

/** Who recommends, oneself first ("vous"), three names at most then how many more:
 * "Recommandé par vous, Alice, Bob et 2 autres personnes". Empty when nobody does. */
export function whoWords(people: Person[], me: number | null, words: RecommendWords, shown = 3): string {
  if (people.length === 0) return "";
  const mine = people.filter((p) => p.id === me);
  const names = [...mine.map(() => words.you), ...people.filter((p) => p.id !== me).map((p) => p.name)];
  const head = names.slice(0, shown);
  const rest = names.length - head.length;
  let listed: string;
  if (rest > 0) {
    listed = words.and.replace("{first}", head.join(", ")).replace("{last}", words.others.replace("{n}", String(rest)));
  } else if (head.length === 1) {
    listed = head[0];
  } else {
    listed = words.and.replace("{first}", head.slice(0, -1).join(", ")).replace("{last}", head[head.length - 1]);
  }
  return words.who.replace("{names}", listed);
}

interface RecommendState {
  count: number;
  people: Person[];
  mine?: boolean;
}

/** Wire one recommend block (`[data-recommend]`). `me`: the signed-in person's id. */
export function startRecommend(root: HTMLElement, me: number | null): void {
  const url = root.dataset.url ?? "";
  const topic = root.dataset.topic ?? "";
  const data = root.dataset;
  const words: RecommendWords = {
    none: data.labelNone ?? "",
    one: data.labelOne ?? "",
    many: data.labelMany ?? "{n}",
    who: data.who ?? "{names}",
    and: data.and ?? "{first}, {last}",
    others: data.others ?? "+{n}",
    you: data.you ?? "",
  };
  const button = root.querySelector<HTMLButtonElement>("[data-recommend-toggle]");
  const count = root.querySelector<HTMLElement>("[data-recommend-count]");
  const who = root.querySelector<HTMLElement>("[data-recommend-who]");
  let mine = false;
  const show = (state: RecommendState): void => {
    if (state.mine !== undefined) mine = state.mine;
    else if (me !== null) mine = state.people.some((p) => p.id === me);
    root.dataset.count = String(state.count);
    if (count) count.textContent = state.count > 0 ? ` ${state.count}` : "";
    if (who) who.textContent = whoWords(state.people, me, words) || countWords(state.count, words);
    if (button) {
      button.setAttribute("aria-pressed", String(mine));
      button.disabled = false;
    }
  };
  const load = (): void => {
    askJson<RecommendState>("GET", url).then(show, () => {
      root.hidden = true; // an item one may not read (any more): nothing to show
    });
  };
  button?.addEventListener("click", () => {
    button.disabled = true;
    askJson<RecommendState>("POST", url, { on: !mine }).then(show, () => {
      button.disabled = false;
    });
  });
  tabLive().subscribe(topic, (event) => {
    if (event.kind !== "recommend.changed") return;
    const changed = event.data as unknown as RecommendState;
    show({ count: changed.count, people: changed.people });
  });
  onLiveReload(load);
  load();
}
