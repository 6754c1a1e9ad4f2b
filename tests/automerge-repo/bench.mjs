// Runs the side-by-side workloads against automerge-repo's sync server: starts the server
// on a fresh data folder, runs each workload's device as its own process, and reads the
// server's peak memory for each from /proc. Prints one JSON line per workload, and writes
// them all to --out. A workload that fails is reported with its error, not hidden.
//
// usage: node bench.mjs --records N --out FILE [--work DIR]
import { spawn } from "node:child_process"
import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { fileURLToPath } from "node:url"

const here = path.dirname(fileURLToPath(import.meta.url))
const args = {}
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, "")] = process.argv[i + 1]
const records = Number(args.records ?? 1000)
const work = args.work ?? fs.mkdtempSync(path.join(os.tmpdir(), "automerge-repo-bench-"))
fs.rmSync(work, { recursive: true, force: true })
fs.mkdirSync(work, { recursive: true })
const urls = path.join(work, "urls.txt")

const server = spawn(process.execPath, [path.join(here, "server.mjs"), path.join(work, "server")], {
  stdio: ["ignore", "pipe", "pipe"],
})
let serverOutput = ""
let serverExited = null
server.on("exit", (code, signal) => (serverExited = signal ?? `code ${code}`))
const port = await new Promise((resolve, reject) => {
  server.stdout.on("data", chunk => {
    serverOutput += chunk
    const found = /listening (\d+)/.exec(serverOutput)
    if (found) resolve(Number(found[1]))
  })
  server.stderr.on("data", chunk => (serverOutput += chunk))
  server.on("exit", () => reject(new Error(`the server exited before listening: ${serverOutput}`)))
})

// The kernel's high-water mark of the server's resident memory, reset before each workload.
function resetPeak() {
  try {
    fs.writeFileSync(`/proc/${server.pid}/clear_refs`, "5")
  } catch {}
}
function peakBytes() {
  try {
    const status = fs.readFileSync(`/proc/${server.pid}/status`, "utf8")
    return Number(/VmHWM:\s+(\d+) kB/.exec(status)[1]) * 1024
  } catch {
    return null
  }
}

function device(mode, extra) {
  return new Promise(resolve => {
    const child = spawn(
      process.execPath,
      [path.join(here, "client.mjs"), mode, "--port", String(port), "--urls", urls, ...extra],
      { stdio: ["ignore", "pipe", "inherit"] },
    )
    let output = ""
    child.stdout.on("data", chunk => (output += chunk))
    child.on("exit", code => {
      const lines = output.split("\n").filter(line => line.startsWith("{")).map(line => JSON.parse(line))
      if (code !== 0 && !lines.some(line => line.error)) lines.push({ workload: mode, error: `the device exited with ${code}` })
      resolve(lines)
    })
  })
}

const results = []
async function run(mode, extra, workloads) {
  if (serverExited) {
    for (const workload of workloads) results.push({ workload, records, error: `the server had exited (${serverExited})` })
    return
  }
  resetPeak()
  const lines = await device(mode, extra)
  const peak = peakBytes()
  for (const workload of workloads) {
    const line = lines.find(line => line.workload === workload) ??
      lines.find(line => line.error) ?? { error: "no result" }
    const result = { ...line, workload, records, server_peak_bytes: peak }
    if (serverExited) result.error ??= `the server exited (${serverExited})`
    results.push(result)
    console.log(JSON.stringify(result))
  }
}

await run("create", ["--records", String(records), "--store", path.join(work, "writer")], ["create"])
if (results[0].error) {
  for (const workload of ["pull", "noop", "edit_one"]) results.push({ workload, records, error: "not run: the upload failed" })
} else {
  await run("pull", ["--store", path.join(work, "fresh")], ["pull"])
  await run("resync", ["--store", path.join(work, "writer")], ["noop", "edit_one"])
}
server.kill("SIGTERM")
await new Promise(resolve => (serverExited ? resolve() : server.on("exit", resolve)))
const unhandled = /unhandled_rejections (\d+)/.exec(serverOutput)
const summary = { system: "automerge-repo", records, server_unhandled_rejections: unhandled ? Number(unhandled[1]) : null, results }
if (args.out) fs.writeFileSync(args.out, JSON.stringify(summary, null, 2) + "\n")
if (!args.work) fs.rmSync(work, { recursive: true, force: true })
