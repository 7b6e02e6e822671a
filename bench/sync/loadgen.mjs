#!/usr/bin/env node
// Sync-engine load generator: many Yjs clients in one node process, against one server.
//
// For each of --docs documents, --clients clients connect (stock y-websocket WebsocketProvider,
// or HocuspocusProvider for the Hocuspocus peer). Once every client is synced, each client
// writes one record into the document's shared Y.Map --rate times per second for --duration
// seconds: key "<sender id>:<sequence>", value the send time. Every other client of the
// document observes the map and records the fan-out latency of each delivery. Sender and
// receivers of a document live in this same process, so send and receive times come from the
// same clock (performance.timeOrigin + performance.now()).
// (A Y.Map with one new key per record, not a Y.Text: a Y.Text observer's delta walks the whole
// text on every event, which made the generator quadratic and saturate at ~2,000 updates/s.)
//
// After sending stops, waits (at most --settle seconds) for outstanding deliveries, then checks
// convergence: all clients of a document hold identical maps and state vectors.
// Prints ONE JSON line on stdout with the results. Progress goes to stderr.
//
// Generator health: CPU of this process over the send phase (process.cpuUsage), event-loop
// delay (perf_hooks.monitorEventLoopDelay) and send lag (how late records left compared to the
// schedule). `gen.saturated` is true when CPU > 85 % of one core, event-loop delay p99 > 50 ms
// or send lag p99 > 50 ms: latencies measured then include the generator's own queueing.
//
// Usage:
//   node bench/sync/loadgen.mjs --protocol y-websocket --url ws://127.0.0.1:1234 \
//        --docs 50 --clients 4 --rate 2 --duration 20 [--token T] [--prefix bench-]
//   --protocol y-websocket|hocuspocus   client flavour (Atelier and @y/websocket-server: y-websocket)
//   --url URL         y-websocket: base URL, the room name is appended as a path segment
//                     (ws://host:port/sync for Atelier, ws://host:port for @y/websocket-server);
//                     hocuspocus: the server URL (document name travels in the protocol)
//   --token T         y-websocket: sent as ?token=T; hocuspocus: the provider's token
//   --rate R          updates per second per client (may be fractional)
//   --warmup S        seconds between "all synced" and the first update (default 1)
//   --settle S        max seconds to wait for outstanding deliveries (default 5)
//   --doc-offset N    first document index (to split documents across processes)
//   --run-id ID       part of the document names (default: random)
//   --connect-concurrency K   connections opened at a time (default 50)
//   --connect-timeout S       give up on a client not synced after S seconds (default 20)
//   --wait-go         after connecting and warming up print "READY" on stderr and wait for a "GO"
//                     line on stdin before sending
//                     (the driver uses this to align the load phase of several processes and
//                     its server CPU sampling); prints "SENT" on stderr when sending stops
//   --histogram       include the latency histogram (for merging several processes)
//   --no-deflate      do not offer permessage-deflate (ws offers it by default, as browsers do)
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import { HocuspocusProvider } from '@hocuspocus/provider'
import WebSocket from 'ws'
import { performance, monitorEventLoopDelay } from 'node:perf_hooks'
import { createInterface } from 'node:readline'

// ---------------------------------------------------------------- arguments
const DEFAULTS = {
  protocol: 'y-websocket',
  url: 'ws://127.0.0.1:1234',
  token: '',
  docs: 10,
  clients: 4,
  rate: 2,
  duration: 10,
  warmup: 1,
  settle: 5,
  prefix: 'bench-',
  'doc-offset': 0,
  'run-id': Math.random().toString(36).slice(2, 8),
  'connect-concurrency': 50,
  'connect-timeout': 20,
  'wait-go': false,
  histogram: false,
  'no-deflate': false
}
const FLAGS = new Set(['wait-go', 'histogram', 'no-deflate'])

function parseArgs (argv) {
  const opts = { ...DEFAULTS }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`)
    const key = a.slice(2)
    if (!(key in DEFAULTS)) throw new Error(`unknown option ${a}`)
    if (FLAGS.has(key)) { opts[key] = true; continue }
    const v = argv[++i]
    if (v === undefined) throw new Error(`${a} needs a value`)
    opts[key] = typeof DEFAULTS[key] === 'number' ? Number(v) : v
    if (typeof DEFAULTS[key] === 'number' && !Number.isFinite(opts[key])) {
      throw new Error(`${a}: not a number: ${v}`)
    }
  }
  if (!['y-websocket', 'hocuspocus'].includes(opts.protocol)) {
    throw new Error(`--protocol must be y-websocket or hocuspocus, not ${opts.protocol}`)
  }
  if (opts.clients < 2) throw new Error('--clients must be >= 2 (someone has to receive)')
  if (opts.rate <= 0 || opts.duration <= 0 || opts.docs < 1) throw new Error('bad load parameters')
  return opts
}

const opts = parseArgs(process.argv.slice(2))
process.setMaxListeners(0) // every WebsocketProvider adds a process 'exit' listener
const log = (...a) => process.stderr.write(`[loadgen] ${a.join(' ')}\n`)
const now = () => performance.now() // ms, same clock for every client of this process
const wallMs = () => performance.timeOrigin + performance.now()

// ---------------------------------------------------------------- client abstraction
// connect(docName) -> { ydoc, ready: Promise<void>, destroy(), onDisconnect(cb), extensions() }

function connectYWebsocket (docName) {
  const ydoc = new Y.Doc()
  const params = opts.token ? { token: opts.token } : {}
  const provider = new WebsocketProvider(opts.url, docName, ydoc, {
    WebSocketPolyfill: WS,
    params,
    // Node >= 18 has a global BroadcastChannel: without this, providers of the same document in
    // this one process would exchange updates locally and bypass the server entirely.
    disableBc: true
  })
  const ready = new Promise(resolve => {
    if (provider.synced) resolve()
    const onSync = s => { if (s) { provider.off('sync', onSync); resolve() } }
    provider.on('sync', onSync)
  })
  return {
    ydoc,
    ready,
    destroy: () => provider.destroy(),
    onDisconnect: cb => provider.on('connection-close', () => cb()),
    extensions: () => provider.ws?.extensions ?? ''
  }
}

function connectHocuspocus (docName) {
  const ydoc = new Y.Doc()
  let resolveReady
  const ready = new Promise(resolve => { resolveReady = resolve })
  const provider = new HocuspocusProvider({
    url: opts.url,
    name: docName,
    document: ydoc,
    token: opts.token || null,
    WebSocketPolyfill: WS,
    onSynced: ({ state }) => { if (state) resolveReady() }
  })
  return {
    ydoc,
    ready,
    destroy: () => provider.destroy(),
    onDisconnect: cb => provider.on('close', () => cb()),
    extensions: () => provider.configuration.websocketProvider.webSocket?.extensions ?? ''
  }
}

// ws offers permessage-deflate unless told otherwise; --no-deflate turns the offer off.
const WS = opts['no-deflate']
  ? class extends WebSocket {
    constructor (url, protocols, options) {
      super(url, protocols, { ...options, perMessageDeflate: false })
    }
  }
  : WebSocket

const connect = opts.protocol === 'hocuspocus' ? connectHocuspocus : connectYWebsocket

// ---------------------------------------------------------------- latency recording
class Samples {
  constructor () { this.a = new Float64Array(1 << 16); this.n = 0 }
  push (v) {
    if (this.n === this.a.length) {
      const b = new Float64Array(this.a.length * 2); b.set(this.a); this.a = b
    }
    this.a[this.n++] = v
  }

  sorted () { return this.a.subarray(0, this.n).sort() }
}

function pct (sorted, p) {
  if (sorted.length === 0) return null
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p / 100 * sorted.length) - 1))
  return sorted[i]
}

const r3 = v => (v === null || v === undefined) ? null : Math.round(v * 1000) / 1000

// Histogram bucket (ms): 0.1 ms steps below 100 ms, 1 ms below 10 s, 100 ms beyond.
// The key is the bucket's lower bound; mergeable across processes by summing counts.
function bucket (ms) {
  if (ms < 100) return Math.floor(ms * 10) / 10
  if (ms < 10000) return Math.floor(ms)
  return Math.floor(ms / 100) * 100
}

// ---------------------------------------------------------------- setup

const latencies = new Samples()
const sendLags = new Samples()
let received = 0
let malformed = 0
let disconnects = 0
let phase = 'connect' // connect | load | settle | done

const docs = []
const clients = []
for (let d = 0; d < opts.docs; d++) {
  const name = `${opts.prefix}${opts['run-id']}-${opts['doc-offset'] + d}`
  const doc = { name, index: d, clients: [] }
  docs.push(doc)
  for (let c = 0; c < opts.clients; c++) {
    const client = {
      id: clients.length, doc, conn: null, ymap: null, sent: 0, received: 0, ok: false, failed: false
    }
    doc.clients.push(client)
    clients.push(client)
  }
}

function attach (client) {
  const conn = connect(client.doc.name)
  client.conn = conn
  client.ymap = conn.ydoc.getMap('bench')
  client.ymap.observe(event => {
    if (event.transaction.local) return
    const t = wallMs()
    for (const key of event.keysChanged) {
      const sep = key.indexOf(':')
      const ts = client.ymap.get(key)
      if (sep < 0 || typeof ts !== 'number') { malformed++; continue }
      if (Number(key.slice(0, sep)) === client.id) continue
      latencies.push(t - ts)
      client.received++
      received++
    }
  })
  conn.onDisconnect(() => { if (phase !== 'connect' && phase !== 'done') disconnects++ })
  return conn
}

async function connectAll () {
  const t0 = now()
  const timeoutMs = opts['connect-timeout'] * 1000
  let next = 0
  let failed = 0
  let settled = 0
  let okCount = 0
  const k = Math.max(1, Math.min(opts['connect-concurrency'], clients.length))
  async function worker () {
    while (next < clients.length) {
      if (okCount === 0 && failed >= k) {
        // a whole first wave failed: the server accepts nobody, do not wait for every client
        for (; next < clients.length; next++) { clients[next].failed = true; failed++ }
        break
      }
      const client = clients[next++]
      const conn = attach(client)
      let timer
      const timeout = new Promise(resolve => { timer = setTimeout(() => resolve('timeout'), timeoutMs) })
      const r = await Promise.race([conn.ready.then(() => 'ok'), timeout])
      clearTimeout(timer)
      if (r === 'ok') { client.ok = true; okCount++ }
      else { client.failed = true; failed++; conn.destroy() }
      const done = ++settled
      if (done % 500 === 0) log(`connected ${done}/${clients.length}`)
    }
  }
  await Promise.all(Array.from({ length: k }, worker))
  return { connectS: (now() - t0) / 1000, failed }
}

function waitGo () {
  return new Promise(resolve => {
    const rl = createInterface({ input: process.stdin })
    rl.on('line', line => { if (line.trim() === 'GO') { rl.close(); resolve() } })
  })
}

// ---------------------------------------------------------------- load phase
// Each client sends at t0 + phase_i + k * period. Clients are sorted by phase, so the global
// send order is cyclic and the scheduler is O(1) per send.
function runLoad () {
  const period = 1000 / opts.rate
  const active = clients.filter(c => c.ok)
  for (const c of active) c.phase = Math.random() * period
  active.sort((a, b) => a.phase - b.phase)
  const t0 = now() + 5
  const tEnd = t0 + opts.duration * 1000
  let ptr = 0
  let cycle = 0
  let scheduled = 0
  return new Promise(resolve => {
    if (active.length === 0) { resolve({ scheduled: 0 }); return }
    const pump = () => {
      const tnow = now()
      for (;;) {
        const c = active[ptr]
        const due = t0 + c.phase + cycle * period
        if (due >= tEnd) { resolve({ scheduled }); return }
        if (due > tnow) { setTimeout(pump, due - tnow); return }
        scheduled++
        const seq = c.sent++
        const ts = wallMs()
        sendLags.push(now() - due)
        c.ymap.set(`${c.id}:${seq}`, ts)
        if (++ptr === active.length) { ptr = 0; cycle++ }
      }
    }
    setTimeout(pump, Math.max(0, t0 - now()))
  })
}

function expectedDeliveries () {
  let expected = 0
  for (const doc of docs) {
    const ok = doc.clients.filter(c => c.ok)
    const sent = ok.reduce((s, c) => s + c.sent, 0)
    for (const c of ok) expected += sent - c.sent
  }
  return expected
}

async function settle (expected) {
  const t0 = now()
  while (received < expected && now() - t0 < opts.settle * 1000) {
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  return (now() - t0) / 1000
}

function checkConvergence () {
  let converged = 0
  let diverged = 0
  for (const doc of docs) {
    const ok = doc.clients.filter(c => c.ok)
    if (ok.length === 0) continue
    const m0 = ok[0].ymap
    const sv0 = Buffer.from(Y.encodeStateVector(ok[0].conn.ydoc))
    const same = ok.every(c => {
      if (c.ymap.size !== m0.size) return false
      if (!sv0.equals(Buffer.from(Y.encodeStateVector(c.conn.ydoc)))) return false
      for (const [k, v] of m0.entries()) if (c.ymap.get(k) !== v) return false
      return true
    })
    if (same) converged++
    else diverged++
  }
  return { converged, diverged }
}

// ---------------------------------------------------------------- main
async function main () {
  const started = now()
  log(`${opts.protocol} ${opts.url} docs=${opts.docs} clients=${opts.clients} rate=${opts.rate}/s ` +
      `duration=${opts.duration}s connections=${clients.length}`)
  const { connectS, failed } = await connectAll()
  log(`connected ${clients.length - failed}/${clients.length} in ${connectS.toFixed(1)} s`)
  const deflate = clients.filter(c => c.ok && /permessage-deflate/.test(c.conn.extensions())).length

  await new Promise(resolve => setTimeout(resolve, opts.warmup * 1000))
  if (opts['wait-go']) {
    process.stderr.write('READY\n')
    await waitGo()
  }

  phase = 'load'
  const LOOP_RES_MS = 10 // the histogram records timer intervals: subtract the resolution
  const loop = monitorEventLoopDelay({ resolution: LOOP_RES_MS })
  loop.enable()
  const cpu0 = process.cpuUsage()
  const tLoad0 = now()
  const { scheduled } = await runLoad()
  const loadS = (now() - tLoad0) / 1000
  const cpu = process.cpuUsage(cpu0)
  loop.disable()
  if (opts['wait-go']) process.stderr.write('SENT\n')

  phase = 'settle'
  const expected = expectedDeliveries()
  const settleS = await settle(expected)
  phase = 'done'
  const conv = checkConvergence()

  const lat = latencies.sorted()
  const lags = sendLags.sorted()
  const sent = clients.reduce((s, c) => s + c.sent, 0)
  const cpuS = (cpu.user + cpu.system) / 1e6
  const cpuFrac = cpuS / loadS
  const loopMs = ns => Math.max(0, ns / 1e6 - LOOP_RES_MS)
  const loopP99 = loopMs(loop.percentile(99))
  const lagP99 = pct(lags, 99) ?? 0
  const reasons = []
  const loaded = sent > 0 // no client connected: nothing was measured, nothing saturated
  if (loaded && cpuFrac > 0.85) reasons.push(`cpu ${(cpuFrac * 100).toFixed(0)}% of a core`)
  if (loaded && loopP99 > 50) reasons.push(`event-loop delay p99 ${loopP99.toFixed(0)} ms`)
  if (loaded && lagP99 > 50) reasons.push(`send lag p99 ${lagP99.toFixed(0)} ms`)

  let mean = null
  if (lat.length) { let s = 0; for (const v of lat) s += v; mean = s / lat.length }
  const result = {
    ok: failed === 0,
    protocol: opts.protocol,
    url: opts.url,
    docs: opts.docs,
    doc_offset: opts['doc-offset'],
    clients: opts.clients,
    rate: opts.rate,
    duration_s: opts.duration,
    connections: clients.length,
    connect_failed: failed,
    connect_s: r3(connectS),
    permessage_deflate: deflate,
    load_s: r3(loadS),
    settle_s: r3(settleS),
    scheduled,
    sent,
    expected,
    received,
    lost: Math.max(0, expected - received),
    extra: Math.max(0, received - expected),
    malformed,
    disconnects,
    deliveries_per_s: r3(received / loadS),
    lat_ms: {
      n: lat.length,
      p50: r3(pct(lat, 50)),
      p90: r3(pct(lat, 90)),
      p99: r3(pct(lat, 99)),
      p999: r3(pct(lat, 99.9)),
      max: r3(lat.length ? lat[lat.length - 1] : null),
      mean: r3(mean)
    },
    converged_docs: conv.converged,
    diverged_docs: conv.diverged,
    gen: {
      cpu_s: r3(cpuS),
      cpu_frac: r3(cpuFrac),
      loop_p50_ms: r3(loopMs(loop.percentile(50))),
      loop_p99_ms: r3(loopP99),
      loop_max_ms: r3(loopMs(loop.max)),
      send_lag_p99_ms: r3(lagP99),
      send_lag_max_ms: r3(lags.length ? lags[lags.length - 1] : 0),
      rss_mb: r3(process.memoryUsage().rss / 1048576),
      saturated: reasons.length > 0,
      saturation: reasons
    },
    total_s: r3((now() - started) / 1000)
  }
  if (opts.histogram) {
    const h = new Map()
    for (const v of lat) { const b = bucket(v); h.set(b, (h.get(b) || 0) + 1) }
    result.hist = Object.fromEntries(h)
  }
  process.stdout.write(JSON.stringify(result) + '\n')
  for (const c of clients) if (c.ok) c.conn.destroy()
  setTimeout(() => process.exit(0), 100)
}

main().catch(err => {
  process.stdout.write(JSON.stringify({ ok: false, error: String(err && err.stack || err) }) + '\n')
  process.exit(2)
})
