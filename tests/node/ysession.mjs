// Real Yjs clients (yjs + the stock y-websocket WebsocketProvider) that carry a session cookie,
// as a browser does. Same line protocol as yclient.mjs: one JSON command per line on stdin,
// one JSON reply per line on stdout. Every client edits the Y.Text "content" of its Y.Doc.
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import WebSocket from 'ws'
import * as authProtocol from 'y-protocols/auth'
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

function get (client) {
  const entry = clients.get(client)
  if (!entry) throw new Error(`no client ${client}`)
  return entry
}

const commands = {
  async open ({ client, url, doc, cookie = '', wait = 'synced', timeout = 10 }) {
    const ydoc = new Y.Doc()
    const events = { closes: [], denied: [] }
    const provider = new WebsocketProvider(url, doc, ydoc, {
      WebSocketPolyfill: socketWithHeaders(cookie ? { Cookie: cookie } : {}),
      maxBackoffTime: 500,
      disableBc: true
    })
    provider.on('connection-close', (event) => {
      if (event) events.closes.push({ code: event.code, reason: event.reason })
    })
    provider.messageHandlers[2] = (_encoder, decoder) => {
      authProtocol.readAuthMessage(decoder, ydoc, (_ydoc, reason) => events.denied.push(reason))
    }
    const entry = { ydoc, provider, events, text: ydoc.getText('content') }
    clients.set(client, entry)
    if (wait === 'synced') await until(() => provider.synced, timeout, `${client} to sync`)
    if (wait === 'closed') await until(() => events.closes.length > 0, timeout, `${client} to be closed`)
    return { closes: events.closes }
  },
  async insert ({ client, text }) {
    const entry = get(client)
    entry.text.insert(entry.text.length, text)
    return {}
  },
  async text ({ client }) { return { text: get(client).text.toString() } },
  async wait_contains ({ client, text, timeout = 10 }) {
    const entry = get(client)
    await until(() => entry.text.toString().includes(text), timeout, `${client} text to contain ${text}`)
    return { text: entry.text.toString() }
  },
  async wait_synced ({ client, timeout = 10 }) {
    const entry = get(client)
    await until(() => entry.provider.wsconnected && entry.provider.synced, timeout, `${client} to sync`)
    return {}
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
  async events ({ client }) {
    const entry = get(client)
    return { ...entry.events, connected: entry.provider.wsconnected, synced: entry.provider.synced }
  },
  async close ({ client }) {
    get(client).provider.destroy()
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
