// What the status line says about a shared document, from the facts the provider gives: a pure
// function, so that every state and its order of precedence can be tested without a browser.

/** What the status line tells the user. */
export type ConnectionState = "syncing" | "saved" | "offline" | "refused" | "readonly";

/** How long local edits may wait for the server's receipt before the status says "syncing". */
export const RECEIPT_GRACE_MS = 2000;

export interface ConnectionFacts {
  /** The server closed the socket for good (44xx: signed out, link revoked). */
  refused: boolean;
  /** The server refused a write or lowered this person's access while the page was open. */
  readOnly: boolean;
  /** `navigator.onLine`. */
  online: boolean;
  /** The provider means to be connected (false once disconnected on purpose). */
  shouldConnect: boolean;
  connected: boolean;
  synced: boolean;
  /** How long the oldest local edit has waited for the server's receipt; null: none waits. */
  unconfirmedForMs: number | null;
  /** The connection dropped and has not come back yet. */
  lostConnection: boolean;
}

export function connectionState(facts: ConnectionFacts): ConnectionState {
  if (facts.refused) return "refused";
  if (facts.readOnly) return "readonly";
  if (!facts.online || !facts.shouldConnect) return "offline";
  if (facts.connected && facts.synced) {
    const waiting = facts.unconfirmedForMs ?? 0;
    return waiting >= RECEIPT_GRACE_MS ? "syncing" : "saved";
  }
  // Retrying after a lost connection: the edits are still only on this device.
  if (facts.lostConnection && !facts.connected) return "offline";
  return "syncing";
}
