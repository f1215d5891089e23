/**
 * `pnpm bench <name>`: runs one benchmark and prints its figures.
 */
const benchmarks: Record<string, () => Promise<unknown>> = {
  jobs: () => import("./jobs/main.js"),
  "jobs-runner": () => import("./jobs/runner.js"),
  ingest: () => import("./ingest/main.js"),
  kb: () => import("./kb/main.js"),
  pipeline: () => import("./pipeline/main.js")
}

const name = process.argv[2]
const run = name === undefined ? undefined : benchmarks[name]
if (run === undefined) {
  process.stderr.write(`usage: pnpm bench <${Object.keys(benchmarks).join("|")}>\n`)
  process.exit(2)
}
await run()
