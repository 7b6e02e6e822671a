// What the meeting client does when its signaling socket closes: join again after a delay, or
// end with a message saying why. Pure, so that every close code is tested without a browser.
import type { Strings } from "./strings";

// Closes after which the client joins again by itself: server stopping, abnormal closure,
// bad message (an answer the server stopped waiting for), internal error, restart, no media
// server, role changed (join again as what one is now), media failed, media server full.
export const RECONNECT_CODES: ReadonlySet<number> = new Set([
  1001, 1005, 1006, 1008, 1011, 1012, 1013, 4100, 4408, 4503,
]);
export const RECONNECT_ATTEMPTS = 6;

export type StringKey = keyof Strings;

export type CloseOutcome =
  | { retry: true; delayMs: number; status: StringKey }
  | { retry: false; message: StringKey };

/** The outcome of a close with `code`, after `attempts` reconnections already made. */
export function closeOutcome(code: number, attempts: number, inLobby: boolean): CloseOutcome {
  if (RECONNECT_CODES.has(code) && attempts < RECONNECT_ATTEMPTS) {
    const status: StringKey = code === 4503 ? "retryFull" : code === 1013 ? "retryUnavailable" : "retryLost";
    return { retry: true, delayMs: Math.min(1000 * 2 ** attempts, 8000), status };
  }
  const messages: Record<number, StringKey> = {
    1000: "endedLeft",
    1001: "endedStopping",
    4401: "endedForbidden",
    4403: inLobby ? "endedRefused" : "endedForbidden",
    4410: "endedRemoved",
    4411: "endedByHost",
    4429: "endedFull",
    1013: "endedUnavailable",
    4503: "endedServerFull",
  };
  return { retry: false, message: messages[code] ?? "endedLost" };
}
