// A driver for real Yjs clients (yjs + the stock y-websocket WebsocketProvider) under node.
// Python tests send one JSON command per line on stdin and read one JSON reply per line.
// Every client edits the Y.Text "content" of its Y.Doc. A client opened with `cookie` sends it
// on the upgrade request, as a signed-in browser does; one opened with `params` passes them in
// the query string (`?token=`).
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import WebSocket from 'ws'
import * as authProtocol from 'y-protocols/auth'
import * as awarenessProtocol from 'y-protocols/awareness'
import * as encoding from 'lib0/encoding'
import readline from 'node:readline'

const clients = new Map()
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

async function until (predicate, timeout, what) {
  const deadline = Date.now() + timeout * 1000
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout}s waiting for ${what}`)
    await sleep(10)
  }
}

// The session cookie rides on the upgrade request, as the browser sends it.
function socketWithHeaders (headers) {
  return class extends WebSocket {
    constructor (url, protocols) { super(url, protocols, { headers }) }
  }
}

function open ({ client, url, doc, params = {}, cookie = '', wait = 'synced', timeout = 10 }) {
  const ydoc = new Y.Doc()
  const events = { closes: [], denied: [], statuses: [], presenceRemoved: [] }
  const provider = new WebsocketProvider(url, doc, ydoc, {
    WebSocketPolyfill: cookie ? socketWithHeaders({ Cookie: cookie }) : WebSocket,
    params,
    maxBackoffTime: 500,
    disableBc: true
  })
  provider.on('connection-close', (event) => {
    if (event) events.closes.push({ code: event.code, reason: event.reason })
  })
  provider.on('status', ({ status }) => events.statuses.push(status))
  // Every presence this client saw disappear (a peer left, timed out, or was removed).
  provider.awareness.on('change', ({ removed }) => events.presenceRemoved.push(...removed))
  // y-websocket reports permission-denied auth messages through this handler only.
  provider.messageHandlers[2] = (_encoder, decoder) => {
    authProtocol.readAuthMessage(decoder, ydoc, (_ydoc, reason) => events.denied.push(reason))
  }
  const entry = { ydoc, provider, events, text: ydoc.getText('content') }
  clients.set(client, entry)
  if (wait === 'synced') return until(() => provider.synced, timeout, `${client} to sync`).then(() => ({ closes: events.closes }))
  if (wait === 'closed') return until(() => events.closes.length > 0, timeout, `${client} to be closed`).then(() => ({ closes: events.closes }))
  return { closes: events.closes }
}

function get (client) {
  const entry = clients.get(client)
  if (!entry) throw new Error(`no client ${client}`)
  return entry
}

function peers (entry) {
  const out = []
  for (const [id, state] of entry.provider.awareness.getStates()) {
    if (id !== entry.ydoc.clientID) out.push({ id, state })
  }
  return out
}

// An awareness message built by y-protocols itself for the given (client id, clock, state)
// entries, as a hostile page script holding a real provider could send it.
function awarenessMessage (entries) {
  const scratch = new awarenessProtocol.Awareness(new Y.Doc())
  scratch.destroy() // no renewal timer: only its encoder is used
  const states = new Map()
  for (const { id, clock, state } of entries) {
    scratch.meta.set(id, { clock, lastUpdated: Date.now() })
    if (state !== null) states.set(id, state)
  }
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, 1) // messageAwareness
  encoding.writeVarUint8Array(encoder, awarenessProtocol.encodeAwarenessUpdate(scratch, entries.map((e) => e.id), states))
  return encoding.toUint8Array(encoder)
}

function sendRaw (entry, message) {
  const ws = entry.provider.ws
  if (!ws || ws.readyState !== WebSocket.OPEN) throw new Error('not connected')
  ws.send(message)
}

const commands = {
  open,
  async insert ({ client, index = null, text }) {
    const entry = get(client)
    entry.text.insert(index === null ? entry.text.length : index, text)
    return { length: entry.text.length }
  },
  async text ({ client }) { return { text: get(client).text.toString() } },
  async wait_text ({ client, text, timeout = 10 }) {
    const entry = get(client)
    await until(() => entry.text.toString() === text, timeout, `${client} text == ${JSON.stringify(text).slice(0, 80)}`)
    return { text: entry.text.toString() }
  },
  async wait_contains ({ client, text, timeout = 10 }) {
    const entry = get(client)
    await until(() => entry.text.toString().includes(text), timeout, `${client} text to contain ${text}`)
    return { text: entry.text.toString() }
  },
  async disconnect ({ client }) { get(client).provider.disconnect(); return {} },
  async connect ({ client, timeout = 10 }) {
    const entry = get(client)
    entry.provider.connect()
    await until(() => entry.provider.synced, timeout, `${client} to resync`)
    return {}
  },
  async wait_synced ({ client, timeout = 10 }) {
    const entry = get(client)
    await until(() => entry.provider.wsconnected && entry.provider.synced, timeout, `${client} to sync`)
    return {}
  },
  async awareness ({ client, state }) { get(client).provider.awareness.setLocalState(state); return {} },
  async peers ({ client }) { return { peers: peers(get(client)) } },
  async wait_peer_name ({ client, peer, name, timeout = 10 }) {
    const entry = get(client)
    const nameOf = () => entry.provider.awareness.getStates().get(peer)?.user?.name
    await until(() => nameOf() === name, timeout, `${client} to see ${peer} named ${name}`)
    return { peers: peers(entry) }
  },
  async client_id ({ client }) { return { client_id: get(client).ydoc.clientID } },
  async local_state ({ client }) { return { state: get(client).provider.awareness.getLocalState() } },
  // Send, over this client's socket, the presence of client `peer`: `state` (null: a removal)
  // under its id, with the next clock (or the same clock, for a removal), as this client knows it.
  async forge_awareness ({ client, peer, state }) {
    const entry = get(client)
    const meta = entry.provider.awareness.meta.get(peer)
    if (!meta) throw new Error(`${client} does not know client ${peer}`)
    const clock = state === null ? meta.clock : meta.clock + 1
    sendRaw(entry, awarenessMessage([{ id: peer, clock, state }]))
    return { clock }
  },
  // Send `messages` awareness messages of `ids` entries each, every entry a state of about
  // `bytes` bytes; `fresh` gives every entry a new client id, otherwise the client's own id
  // is renewed (clock + 1) again and again.
  async flood_awareness ({ client, messages, ids, bytes, fresh = true }) {
    const entry = get(client)
    const own = entry.ydoc.clientID
    let clock = entry.provider.awareness.meta.get(own)?.clock ?? 0
    let next = 1_000_000_000
    let sent = 0
    for (let m = 0; m < messages; m++) {
      const entries = []
      for (let i = 0; i < ids; i++) {
        const state = { user: { name: `flood ${m}/${i}`, color: '#f00' }, pad: 'x'.repeat(bytes) }
        entries.push(fresh ? { id: next++, clock: 1, state } : { id: own, clock: ++clock, state })
      }
      const message = awarenessMessage(entries)
      sent += message.length
      try { sendRaw(entry, message) } catch { break } // closed by the server meanwhile
      await new Promise((resolve) => setImmediate(resolve)) // let a close from the server in
    }
    return { sent }
  },
  async wait_peers ({ client, count, timeout = 10 }) {
    const entry = get(client)
    await until(() => peers(entry).length === count, timeout, `${client} to see ${count} peers`)
    return { peers: peers(entry) }
  },
  async events ({ client }) {
    const entry = get(client)
    const { wsconnected: connected, synced, shouldConnect } = entry.provider
    // shouldConnect false: the client has given up the connection (after a 44xx close, no
    // reconnection is ever scheduled).
    return { ...entry.events, connected, synced, shouldConnect }
  },
  async wait_denied ({ client, timeout = 10 }) {
    const entry = get(client)
    await until(() => entry.events.denied.length > 0, timeout, `${client} to be denied`)
    return { denied: entry.events.denied }
  },
  async wait_closed ({ client, timeout = 10 }) {
    const entry = get(client)
    await until(() => entry.events.closes.length > 0, timeout, `${client} to be closed`)
    return { closes: entry.events.closes }
  },
  async state ({ client }) {
    return { state: Buffer.from(Y.encodeStateAsUpdate(get(client).ydoc)).toString('base64') }
  },
  async close ({ client }) {
    const entry = get(client)
    entry.provider.destroy()
    clients.delete(client)
    return {}
  }
}

const rl = readline.createInterface({ input: process.stdin })
rl.on('line', async (line) => {
  let request
  try {
    request = JSON.parse(line)
    const result = await commands[request.op](request)
    process.stdout.write(JSON.stringify({ id: request.id, ok: true, ...result }) + '\n')
  } catch (error) {
    process.stdout.write(JSON.stringify({ id: request?.id, ok: false, error: String(error?.message || error) }) + '\n')
  }
})
rl.on('close', () => {
  for (const entry of clients.values()) entry.provider.destroy()
  setTimeout(() => process.exit(0), 50)
})
