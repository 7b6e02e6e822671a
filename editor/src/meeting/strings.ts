// The meeting page's texts: French defaults, replaced by the server's (the visitor's language)
// from the page's JSON configuration.
export const FRENCH_STRINGS = {
  you: "{name} (vous)",
  host: "hôte",
  guest: "invité·e",
  handRaised: "main levée",
  micMuted: "micro coupé",
  cameraOff: "caméra coupée",
  speaking: "parle",
  screenOf: "Écran de {name}",
  muteOne: "Couper le micro de {name}",
  remove: "Retirer {name}",
  pin: "Épingler",
  pinOne: "Épingler {name}",
  admit: "Faire entrer {name}",
  refuse: "Refuser {name}",
  lobbyCount: "En salle d’attente : {count}",
  lobbyBadge: "{count} en salle d’attente",
  knockNotice: "{name} demande à entrer",
  admitShort: "Admettre",
  seeLobby: "Voir la salle d’attente",
  dismiss: "Masquer",
  showLarge: "Afficher en grand",
  backToGrid: "Revenir à la mosaïque",
  reactionFrom: "{name} : {emoji}",
  joinedNotice: "{name} a rejoint la réunion",
  leftNotice: "{name} a quitté la réunion",
  handNotice: "{name} lève la main",
  mutedByHost: "Un hôte a coupé votre micro.",
  qualityGood: "Connexion : bonne",
  qualityFair: "Connexion : moyenne",
  qualityPoor: "Connexion : mauvaise",
  qualityUnknown: "Connexion : en cours…",
  qualityDetail: "{rtt} ms, {loss} % de pertes",
  cameraN: "Caméra {n}",
  microphoneN: "Micro {n}",
  noCamera: "Sans caméra",
  noMicrophone: "Sans micro",
  mediaError: "Caméra ou micro inaccessible : vous pouvez rejoindre sans.",
  screenError: "Le partage d’écran n’a pas pu démarrer.",
  endedLeft: "Vous avez quitté la réunion.",
  endedByHost: "La réunion est terminée.",
  endedRemoved: "Un hôte vous a retiré de la réunion.",
  endedRefused: "Un hôte n’a pas accepté votre entrée.",
  endedFull: "La réunion est complète.",
  endedForbidden: "Vous n’avez pas accès à cette réunion.",
  endedLost: "La connexion à la réunion a été perdue.",
  endedStopping: "Le serveur de réunion redémarre : rejoignez à nouveau dans un instant.",
  endedUnavailable: "Aucun serveur de réunion n’est disponible pour le moment : réessayez dans quelques minutes.",
  endedServerFull: "Le serveur de réunion est complet pour le moment : réessayez dans quelques minutes.",
  retryLost: "La connexion à la réunion a été perdue : nouvelle tentative…",
  retryUnavailable: "Aucun serveur de réunion n’est disponible pour le moment : nouvelle tentative…",
  retryFull: "Le serveur de réunion est complet pour le moment : nouvelle tentative…",
};

export type Strings = typeof FRENCH_STRINGS;

/** The server's strings over the French defaults (unknown keys and non-strings ignored). */
export function readStrings(raw: unknown): Strings {
  const strings = { ...FRENCH_STRINGS };
  if (raw && typeof raw === "object") {
    for (const key of Object.keys(strings) as (keyof Strings)[]) {
      const value = (raw as Record<string, unknown>)[key];
      if (typeof value === "string" && value) strings[key] = value;
    }
  }
  return strings;
}

/** "{name} a rejoint" + {name: "Alice"} → "Alice a rejoint". */
export function format(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) =>
    key in values ? String(values[key]) : whole,
  );
}
