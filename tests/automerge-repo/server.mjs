// automerge-repo's own sync server: a Repo with the websocket server adapter and nodefs
// storage, as its documentation sets one up, bound to loopback.
//
// usage: node server.mjs <data-dir>
// Prints `listening <port>` once it accepts connections.
import { WebSocketServer } from "ws"
import { Repo } from "@automerge/automerge-repo"
import { WebSocketServerAdapter } from "@automerge/automerge-repo-network-websocket"
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs"

const dataDir = process.argv[2] ?? "./server-data"
const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 })

new Repo({
  network: [new WebSocketServerAdapter(wss)],
  storage: new NodeFSStorageAdapter(dataDir),
  peerId: "sync-server",
  // A sync server answers for what clients ask and keeps what they send; it does not
  // announce every document it holds to every client.
  sharePolicy: async () => false,
})

// automerge-repo 2.5.6 leaves some promises unawaited (a document's sync waits for it to be
// ready with a 60 s timeout); under load their rejections would end the process. Keep
// serving and count them: the benchmark reports the count.
let unhandled = 0
process.on("unhandledRejection", error => {
  unhandled++
  if (unhandled <= 3) console.error(`unhandled rejection #${unhandled}: ${error?.message ?? error}`)
})

wss.on("listening", () => console.log(`listening ${wss.address().port}`))
process.on("SIGTERM", () => {
  console.log(`unhandled_rejections ${unhandled}`)
  process.exit(0)
})
