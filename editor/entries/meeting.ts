// Entry for the meeting page (web/templates/visio/meeting.html). The server renders the
// configuration as JSON in <script type="application/json" id="meeting-config"> (the CSP
// forbids inline scripts):
//   room        the meeting's name (`space-<id>` or `meet-<name>`)
//   strings     the page's texts in the visitor's language (see src/meeting/strings.ts)
//   time_zone   the person's time zone (IANA name) for the chat's times; Europe/Paris if absent
// The meeting-notes panel is the page editor itself: the page loads build/page.js, which
// mounts on #editor exactly as on a page view (same modules, same socket, same roles). When the
// day's notes page does not exist yet, #editor carries data-notes-create instead of data-doc:
// joining posts there (the server creates the page), then hands the document to the editor.
// Steps: pre-join (devices and preview) → lobby, for guests → the meeting → ended.
import { MeetingClient, type LocalMedia } from "../src/meeting/client";
import { visioUrl } from "../src/meeting/protocol";
import { knownTimeZone } from "../src/meeting/stage";
import { format, readStrings, type Strings } from "../src/meeting/strings";

const NONE = "";

async function listDevices(
  select: HTMLSelectElement,
  kind: MediaDeviceKind,
  label: (n: number) => string,
  none: string,
  chosen: string | undefined,
): Promise<void> {
  const devices = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === kind);
  const options = devices.map((device, index) => {
    const option = document.createElement("option");
    option.value = device.deviceId;
    option.textContent = device.label || label(index + 1);
    return option;
  });
  const off = document.createElement("option");
  off.value = NONE;
  off.textContent = none;
  select.replaceChildren(...options, off);
  const keep = devices.find((d) => d.deviceId === chosen);
  select.value = keep ? keep.deviceId : (devices[0]?.deviceId ?? NONE);
}

async function openMedia(camera: string, microphone: string): Promise<MediaStream> {
  if (camera === NONE && microphone === NONE) return new MediaStream();
  return navigator.mediaDevices.getUserMedia({
    audio: microphone === NONE ? false : { deviceId: { exact: microphone } },
    video: camera === NONE ? false : { deviceId: { exact: camera }, width: 640, height: 480 },
  });
}

interface NotesPage {
  doc: string;
  url: string;
  title: string;
  role: string;
}

/** Create (or find) the day's notes page, then open it in the editor beside the video. */
async function openNotes(): Promise<void> {
  const editor = document.getElementById("editor");
  const url = editor?.dataset.notesCreate;
  if (!editor || !url || editor.dataset.doc) return;
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "X-CSRF-Token": editor.dataset.csrfToken ?? "", Accept: "application/json" },
  });
  if (!response.ok) throw new Error(`notes: ${response.status}`);
  const notes = (await response.json()) as NotesPage;
  const link = document.querySelector<HTMLAnchorElement>("[data-notes-link]");
  if (link) {
    link.href = notes.url;
    link.textContent = notes.title;
    link.hidden = false;
  }
  document.querySelector<HTMLElement>("[data-notes-pending]")?.remove();
  const status = document.querySelector<HTMLElement>("[data-notes-status]");
  if (status) status.hidden = false;
  editor.dataset.doc = notes.doc;
  editor.dataset.role = notes.role;
  editor.dispatchEvent(new Event("atelier:doc"));
}

function preJoin(root: HTMLElement, room: string, strings: Strings, timeZone: string): void {
  const prejoin = root.querySelector<HTMLElement>('[data-part="prejoin"]');
  const preview = root.querySelector<HTMLVideoElement>('[data-part="preview"]');
  const cameraSelect = root.querySelector<HTMLSelectElement>('[data-part="camera-choice"]');
  const micSelect = root.querySelector<HTMLSelectElement>('[data-part="microphone-choice"]');
  const joinButton = root.querySelector<HTMLButtonElement>('button[data-action="join"]');
  const error = root.querySelector<HTMLElement>('[data-part="prejoin-error"]');
  if (!prejoin || !preview || !cameraSelect || !micSelect || !joinButton || !error) return;
  let stream = new MediaStream();

  const refresh = async (first: boolean): Promise<void> => {
    for (const track of stream.getTracks()) track.stop();
    error.hidden = true;
    try {
      // Device labels (and ids that last) are only given once a permission was granted.
      if (first) {
        stream = await navigator.mediaDevices
          .getUserMedia({ audio: true, video: { width: 640, height: 480 } })
          .catch(() => navigator.mediaDevices.getUserMedia({ audio: true }))
          .catch(() => new MediaStream());
      } else {
        stream = await openMedia(cameraSelect.value, micSelect.value);
      }
    } catch (problem) {
      console.warn("meeting: devices", problem);
      stream = new MediaStream();
      error.textContent = strings.mediaError;
      error.hidden = false;
    }
    if (first) {
      const chosenCamera = stream.getVideoTracks()[0]?.getSettings().deviceId;
      const chosenMic = stream.getAudioTracks()[0]?.getSettings().deviceId;
      await listDevices(cameraSelect, "videoinput", (n) => format(strings.cameraN, { n }), strings.noCamera, chosenCamera);
      await listDevices(micSelect, "audioinput", (n) => format(strings.microphoneN, { n }), strings.noMicrophone, chosenMic);
      if (!stream.getTracks().length) {
        error.textContent = strings.mediaError;
        error.hidden = false;
      }
    }
    preview.srcObject = stream.getVideoTracks().length ? stream : null;
    root.dataset.preview = String(stream.getVideoTracks().length > 0);
  };
  cameraSelect.addEventListener("change", () => void refresh(false));
  micSelect.addEventListener("change", () => void refresh(false));
  joinButton.addEventListener("click", () => {
    preview.srcObject = null;
    prejoin.hidden = true;
    const local: LocalMedia = {
      stream,
      audio: stream.getAudioTracks()[0] ?? null,
      video: stream.getVideoTracks()[0] ?? null,
    };
    const client = new MeetingClient(root, room, visioUrl(window.location, room), local, strings, {
      timeZone,
    });
    // Tests and the browser console reach the meeting (its peer connections) here.
    (window as unknown as { atelierMeeting?: MeetingClient }).atelierMeeting = client;
    client.start();
    openNotes().catch((problem: unknown) => console.warn("meeting: notes", problem));
  });
  void refresh(true).then(() => {
    joinButton.disabled = false;
    root.dataset.ready = "true";
  });
}

function main(): void {
  const root = document.querySelector<HTMLElement>("[data-meeting]");
  const data = document.getElementById("meeting-config");
  if (!root || !data) return;
  const config = JSON.parse(data.textContent || "{}") as Record<string, unknown>;
  const room = typeof config.room === "string" ? config.room : "";
  const strings = readStrings(config.strings);
  preJoin(root, room, strings, knownTimeZone(config.time_zone));
}

main();
