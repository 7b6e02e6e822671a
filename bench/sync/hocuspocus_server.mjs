#!/usr/bin/env node
// Minimal Hocuspocus server, the comparison peer of the sync benchmark (bench/sync_bench.py).
// @hocuspocus/server 4.7.0 with no extensions, no persistence and no authentication: documents
// live in memory only. Listens on HOST:PORT (default 127.0.0.1:1234); answers plain HTTP GET
// with 200 (used as the readiness probe).
//
//   HOST=127.0.0.1 PORT=1234 node bench/sync/hocuspocus_server.mjs
import { Server } from '@hocuspocus/server'

const host = process.env.HOST || '127.0.0.1'
const port = Number.parseInt(process.env.PORT || '1234', 10)

const server = new Server({
  address: host,
  port,
  quiet: true,
  stopOnSignals: true,
  extensions: []
})

await server.listen()
console.log(`hocuspocus ${host}:${server.address.port} ready`)
