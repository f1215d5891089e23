/**
 * `pnpm eval <triage|retrieval> …`: labelled real data through the real pipeline (a NestFleet
 * process, its database and its jobs), with the figures printed. See eval/README.md.
 */
const evaluations: Record<string, () => Promise<{ main: (args: ReadonlyArray<string>) => Promise<void> }>> = {
  triage: () => import("./TriageEval.js"),
  retrieval: () => import("./RetrievalEval.js")
}

const [name, ...args] = process.argv.slice(2)
const evaluation = name === undefined ? undefined : evaluations[name]
if (evaluation === undefined) {
  process.stderr.write(`usage: pnpm eval <${Object.keys(evaluations).join("|")}> …\n`)
  process.exit(2)
}
await (await evaluation()).main(args)
