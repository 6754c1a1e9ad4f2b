// A device on automerge-repo: a Repo with the websocket client adapter and nodefs storage,
// driven through one workload of the side-by-side benchmark. Prints one JSON line.
//
// usage:
//   node client.mjs create --port P --records N --urls FILE --store DIR [--batch B]
//       (a) create N documents and sync them up, B at a time (default 1,000)
//   node client.mjs pull --port P --urls FILE --store DIR [--concurrency C]
//       (b) a fresh device finds every document, C at a time (default 100)
//   node client.mjs resync --port P --urls FILE --store DIR
//       (c) a device holding every document restarts and reconnects: a no-op sync;
//       (d) then one document among them is edited and synced
//
// Bytes are websocket message payloads; messages are websocket messages, both directions.
import fs from "node:fs"
import { performance } from "node:perf_hooks"
import { Repo, splice } from "@automerge/automerge-repo"
import { WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket"
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs"

const mode = process.argv[2]
const args = {}
for (let i = 3; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, "")] = process.argv[i + 1]
const url = `ws://127.0.0.1:${Number(args.port)}`
const QUIET_MS = 1000
const PHASE_TIMEOUT_MS = Number(args["timeout-ms"] ?? 30 * 60 * 1000)

const counts = { messagesOut: 0, messagesIn: 0, bytesOut: 0, bytesIn: 0, lastMessageAt: performance.now() }
const snapshot = () => ({ ...counts })
const since = start => ({
  messages: counts.messagesOut - start.messagesOut + counts.messagesIn - start.messagesIn,
  bytes_sent: counts.bytesOut - start.bytesOut,
  bytes_received: counts.bytesIn - start.bytesIn,
})

// The stock client adapter, counting what crosses its socket.
class CountingAdapter extends WebSocketClientAdapter {
  constructor(url) {
    super(url, 200)
    // The stock handler rethrows socket errors other than a refused connection from inside
    // an event handler, which ends the process; count them instead (they are reported).
    const rethrowing = this.onError
    this.onError = event => {
      if (event && "error" in event && event.error?.code !== "ECONNREFUSED") {
        counts.socketErrors = (counts.socketErrors ?? 0) + 1
        return
      }
      return rethrowing(event)
    }
  }
  connect(peerId, peerMetadata) {
    super.connect(peerId, peerMetadata)
    const socket = this.socket
    const send = socket.send.bind(socket)
    socket.send = (data, ...rest) => {
      counts.messagesOut++
      counts.bytesOut += data.byteLength
      counts.lastMessageAt = performance.now()
      return send(data, ...rest)
    }
    socket.addEventListener("message", event => {
      counts.messagesIn++
      counts.bytesIn += event.data.byteLength
      counts.lastMessageAt = performance.now()
    })
  }
}

function device({ online = true } = {}) {
  const adapter = new CountingAdapter(url)
  const repo = new Repo({
    network: online ? [adapter] : [],
    storage: new NodeFSStorageAdapter(args.store),
    sharePolicy: async () => true,
  })
  return { repo, adapter }
}

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))
function withTimeout(promise, what) {
  let timer
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done after ${PHASE_TIMEOUT_MS} ms`)), PHASE_TIMEOUT_MS)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}
async function serverPeer(repo) {
  const started = performance.now()
  while (repo.peers.length === 0) {
    if (performance.now() - started > 15000) throw new Error("no connection to the server after 15 s")
    await sleep(5)
  }
  const storageId = repo.getStorageIdOfPeer(repo.peers[0])
  if (!storageId) throw new Error("the server has no storage id")
  return storageId
}
// Quiet: no message either way for a second, so late messages are counted too.
async function quiet() {
  while (performance.now() - counts.lastMessageAt < QUIET_MS) await sleep(50)
}
const sameHeads = (a, b) => !!a && !!b && a.length === b.length && a.every(hash => b.includes(hash))
// A document is on the server when the heads the server last reported equal ours.
const onServer = (handle, storageId) => sameHeads(handle.getSyncInfo(storageId)?.lastHeads, handle.heads())
function allOnServer(handles, storageId) {
  let left = handles.length
  return new Promise(resolve => {
    if (left === 0) resolve()
    for (const handle of handles) {
      let done = false
      const check = () => {
        if (!done && onServer(handle, storageId)) {
          done = true
          handle.off("remote-heads", check)
          handle.off("heads-changed", check)
          if (--left === 0) resolve()
        }
      }
      handle.on("remote-heads", check)
      handle.on("heads-changed", check)
      check()
    }
  })
}
const emit = result => console.log(JSON.stringify(result))
const urls = () => fs.readFileSync(args.urls, "utf8").split("\n").filter(Boolean)

function homeVisit(n) {
  return {
    kind: "home_visit",
    client: `Client ${Math.floor(n / 100)}`,
    visited_at: new Date(1_790_000_000_000 + n * 60_000).toISOString(),
    observed_home: `Visit ${n}: the kitchen was warm, the client calm; plan agreed.`,
    plan: "",
  }
}

async function create() {
  const records = Number(args.records)
  const batch = Number(args.batch ?? 1000)
  const { repo, adapter } = device()
  const storageId = await serverPeer(repo)
  const start = snapshot()
  const started = performance.now()
  const handles = []
  for (let first = 0; first < records; first += batch) {
    const created = []
    for (let n = first; n < Math.min(records, first + batch); n++) created.push(repo.create(homeVisit(n)))
    handles.push(...created)
    await withTimeout(allOnServer(created, storageId), "create and sync up")
  }
  const wall = performance.now() - started
  await quiet()
  fs.writeFileSync(args.urls, handles.map(handle => handle.url).join("\n") + "\n")
  emit({ workload: "create", records, wall_ms: wall, ...since(start), errors: counts.socketErrors ?? 0 })
  await repo.flush()
  adapter.disconnect()
}

async function pull() {
  const wanted = urls()
  const concurrency = Number(args.concurrency ?? 100)
  const { repo, adapter } = device()
  await serverPeer(repo)
  const start = snapshot()
  const started = performance.now()
  let next = 0
  let failures = 0
  let firstFailure
  const handles = []
  const worker = async () => {
    while (next < wanted.length) {
      const index = next++
      try {
        handles[index] = await repo.find(wanted[index])
      } catch (error) {
        failures++
        firstFailure ??= error.message
      }
    }
  }
  await withTimeout(Promise.all(Array.from({ length: concurrency }, worker)), "pull")
  const wall = performance.now() - started
  await quiet()
  const complete = handles.filter(handle => typeof handle?.doc()?.observed_home === "string").length
  emit({
    workload: "pull", records: wanted.length, concurrency, wall_ms: wall, ...since(start),
    complete, errors: failures + (counts.socketErrors ?? 0), first_error: firstFailure,
  })
  await repo.flush()
  adapter.disconnect()
}

async function resync() {
  const wanted = urls()
  // The device restarts: its documents load from its own storage, then it connects.
  const { repo, adapter } = device({ online: false })
  const handles = await Promise.all(wanted.map(url => repo.find(url)))
  const start = snapshot()
  const started = performance.now()
  repo.networkSubsystem.addNetworkAdapter(adapter)
  const storageId = await serverPeer(repo)
  await withTimeout(allOnServer(handles, storageId), "no-op sync")
  const wall = performance.now() - started
  await quiet()
  emit({ workload: "noop", records: wanted.length, wall_ms: wall, ...since(start), errors: counts.socketErrors ?? 0 })

  const edited = handles[Math.floor(handles.length / 2)]
  const before = snapshot()
  const editStarted = performance.now()
  edited.change(doc => splice(doc, ["plan"], 0, 0, "Call the GP."))
  await withTimeout(allOnServer([edited], storageId), "edit one")
  const editWall = performance.now() - editStarted
  await quiet()
  emit({ workload: "edit_one", records: wanted.length, wall_ms: editWall, ...since(before), errors: counts.socketErrors ?? 0 })
  await repo.flush()
  adapter.disconnect()
}

const modes = { create, pull, resync }
if (!modes[mode]) {
  console.error("usage: node client.mjs create|pull|resync --port P ...")
  process.exit(2)
}
modes[mode]().then(
  () => process.exit(0),
  error => {
    emit({ workload: mode, error: String(error?.message ?? error) })
    process.exit(1)
  },
)
