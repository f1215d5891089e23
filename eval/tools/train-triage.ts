/**
 * Trains the builtin triage classifier (packages/ai/src/EmbeddingTriage.ts) and writes its
 * parameters to packages/ai/src/TriageModel.json.
 *
 * Usage: `pnpm exec tsx eval/tools/train-triage.ts` (add `--cv-only` to print the
 * cross-validation figures without writing the model).
 *
 * 1. Builds eval/triage/train.jsonl from eval/triage/train-raw/*.txt (issues found with the
 *    search tool, transcribed in the raw format of build-triage-dataset.ts) with the same
 *    mechanical label rule, leaving out every repository of dev.jsonl (so cross-validation on
 *    dev stays grouped by project) and every repository whose owner has a repository in
 *    heldout.jsonl. Only the held-out file's repository names are read.
 * 2. Embeds each issue's title and the first `bodyChars` characters of its body with the
 *    builtin sentence encoder (cached in node_modules/.cache/nestfleet-triage).
 * 3. Cross-validates on dev.jsonl in 5 folds grouped by repository (train.jsonl is in every
 *    training part): a small grid of L2 strength, the weight of the lexicon's own vote (the
 *    prior the lexical features start from and are pulled to) and class balancing; the
 *    setting with the best mean of accuracy and macro-F1 is kept. The temperature is fitted
 *    on the cross-validated logits (its ECE is measured with the temperature of the other folds).
 * 4. Fits the chosen setting on dev + train and writes the model. Deterministic: full-batch
 *    optimisation from zeros, no sampling.
 */
import { createHash } from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import * as BuiltinEmbeddings from "../../packages/ai/src/BuiltinEmbeddings.js"
import * as EmbeddingTriage from "../../packages/ai/src/EmbeddingTriage.js"
import { classify as lexicalClassify } from "../../packages/ai/src/LexicalTriage.js"
import { readJsonl } from "../lib/Jsonl.js"
import { accuracy, ece, macroF1 } from "../lib/Metrics.js"
import { maxBodyChars, maxPerRepo, parseRaw, severityOf, type TriageType, typeOf } from "./build-triage-dataset.js"

const root = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "..", "..")
const triageDir = Path.join(root, "eval", "triage")
const modelFile = Path.join(root, "packages", "ai", "src", "TriageModel.json")
const cacheFile = Path.join(root, "node_modules", ".cache", "nestfleet-triage", "embeddings.jsonl")

const classes = ["bug", "question", "feature_request", "incident", "billing", "account", "other"] as const
const lexicalTypes = ["bug", "incident", "question", "feature_request", "billing", "account"] as const
const bodyChars = 1000
const folds = 5

interface Issue {
  readonly id: string
  readonly repo: string
  readonly title: string
  readonly body: string
  readonly type: TriageType
}

// ---- 1. the extra training set ----

const buildTrainSet = (): Array<Issue> => {
  const dev = readJsonl<Issue>(Path.join(triageDir, "dev.jsonl"))
  const heldout = readJsonl<Issue>(Path.join(triageDir, "heldout.jsonl"))
  const devRepos = new Set(dev.map((i) => i.repo.toLowerCase()))
  const heldoutOwners = new Set(heldout.map((i) => i.repo.toLowerCase().split("/")[0]!))
  const rawDir = Path.join(triageDir, "train-raw")
  const files = Fs.existsSync(rawDir) ? Fs.readdirSync(rawDir).filter((f) => f.endsWith(".txt")).toSorted() : []
  const raw = files.flatMap((f) => parseRaw(Fs.readFileSync(Path.join(rawDir, f), "utf8"), f))
  const seen = new Set<string>()
  const perRepo = new Map<string, number>()
  const skipped: Array<string> = []
  const lines: Array<Record<string, unknown>> = []
  for (const issue of raw) {
    const id = `${issue.repo}#${issue.number}`
    const repo = issue.repo.toLowerCase()
    if (seen.has(id.toLowerCase())) {
      skipped.push(`${id}: duplicate`)
      continue
    }
    seen.add(id.toLowerCase())
    if (heldoutOwners.has(repo.split("/")[0]!)) {
      skipped.push(`${id}: owner has a held-out repository`)
      continue
    }
    if (devRepos.has(repo)) {
      skipped.push(`${id}: repository is in dev`)
      continue
    }
    const decision = typeOf(issue.labels)
    if (decision.kind !== "typed") {
      skipped.push(`${id}: ${decision.kind === "unlabelled" ? "no type label" : `labels name ${decision.types.join(", ")}`}`)
      continue
    }
    const count = perRepo.get(repo) ?? 0
    if (count >= maxPerRepo) {
      skipped.push(`${id}: more than ${maxPerRepo} from ${issue.repo}`)
      continue
    }
    perRepo.set(repo, count + 1)
    const tooLong = issue.body.length > maxBodyChars
    lines.push({
      id,
      repo: issue.repo,
      number: issue.number,
      url: `https://github.com/${issue.repo}/issues/${issue.number}`,
      title: issue.title,
      body: tooLong ? issue.body.slice(0, maxBodyChars) : issue.body,
      labels: issue.labels,
      type: decision.type,
      severity: severityOf(issue.labels),
      split: "train",
      typeRule: decision.rule,
      labelSource:
        `labels line of the stored GitHub issue thread (search tool, issues corpus; query: "${issue.query}")`,
      bodyComplete: !issue.cut && !tooLong
    })
  }
  Fs.writeFileSync(Path.join(triageDir, "train.jsonl"), lines.map((l) => JSON.stringify(l)).join("\n") + "\n")
  console.log(`train.jsonl: ${lines.length} issues from ${perRepo.size} repositories (${raw.length} transcribed)`)
  for (const s of skipped) console.log(`  skipped ${s}`)
  return lines as unknown as Array<Issue>
}

// ---- 2. embeddings, cached by text ----

const embedAll = async (texts: ReadonlyArray<string>): Promise<Map<string, ReadonlyArray<number>>> => {
  const key = (text: string) => createHash("sha1").update(`${BuiltinEmbeddings.model}\n${text}`).digest("hex")
  const cache = new Map<string, ReadonlyArray<number>>()
  if (Fs.existsSync(cacheFile)) {
    for (const line of Fs.readFileSync(cacheFile, "utf8").split("\n")) {
      if (line === "") continue
      const { k, v } = JSON.parse(line) as { k: string; v: Array<number> }
      cache.set(k, v)
    }
  }
  const missing = [...new Set(texts)].filter((t) => !cache.has(key(t)))
  if (missing.length > 0) {
    console.log(`embedding ${missing.length} texts...`)
    Fs.mkdirSync(Path.dirname(cacheFile), { recursive: true })
    const encoder = await BuiltinEmbeddings.loadUseLite()
    for (let start = 0; start < missing.length; start += 8) {
      const batch = missing.slice(start, start + 8)
      // As BuiltinEmbeddings.embed does: "" becomes " ", vectors are scaled to unit length.
      const output = await encoder.embed(batch.map((text) => (text === "" ? " " : text)))
      const lines = batch.map((text, i) => {
        const vector = BuiltinEmbeddings.normalise(output[i]!)
        cache.set(key(text), vector)
        return JSON.stringify({ k: key(text), v: vector })
      })
      Fs.appendFileSync(cacheFile, lines.join("\n") + "\n")
    }
  }
  return new Map(texts.map((t) => [t, cache.get(key(t))!]))
}

// ---- 3. multinomial logistic regression ----

interface Fitted {
  readonly weights: Array<Float64Array>
  readonly bias: Float64Array
}

/** Weighted cross-entropy + L2/2 on the weights, minimised by full-batch Adam from zeros. */
const fit = (
  x: ReadonlyArray<ReadonlyArray<number>>,
  y: ReadonlyArray<number>,
  sampleWeights: ReadonlyArray<number>,
  l2: number,
  prior: number,
  iterations = 300,
  rate = 0.05
): Fitted => {
  const k = classes.length
  const d = x[0]!.length
  const start = priorWeights(d, prior)
  const weights = start.map((row) => Float64Array.from(row))
  const bias = new Float64Array(k)
  const m = Array.from({ length: k }, () => new Float64Array(d + 1))
  const v = Array.from({ length: k }, () => new Float64Array(d + 1))
  const grad = Array.from({ length: k }, () => new Float64Array(d + 1))
  const total = sampleWeights.reduce((a, b) => a + b, 0)
  const z = new Float64Array(k)
  for (let t = 1; t <= iterations; t++) {
    for (const g of grad) g.fill(0)
    x.forEach((row, i) => {
      let max = -Infinity
      for (let c = 0; c < k; c++) {
        let s = bias[c]!
        const w = weights[c]!
        for (let j = 0; j < d; j++) s += w[j]! * row[j]!
        z[c] = s
        if (s > max) max = s
      }
      let sum = 0
      for (let c = 0; c < k; c++) {
        z[c] = Math.exp(z[c]! - max)
        sum += z[c]!
      }
      for (let c = 0; c < k; c++) {
        const gc = (sampleWeights[i]! / total) * (z[c]! / sum - (y[i] === c ? 1 : 0))
        const g = grad[c]!
        for (let j = 0; j < d; j++) g[j] = g[j]! + gc * row[j]!
        g[d] = g[d]! + gc
      }
    })
    const c1 = 1 - 0.9 ** t
    const c2 = 1 - 0.999 ** t
    for (let c = 0; c < k; c++) {
      const w = weights[c]!
      for (let j = 0; j <= d; j++) {
        const g = grad[c]![j]! + (j < d ? l2 * (w[j]! - start[c]![j]!) : 0)
        m[c]![j] = 0.9 * m[c]![j]! + 0.1 * g
        v[c]![j] = 0.999 * v[c]![j]! + 0.001 * g * g
        const step = (rate * (m[c]![j]! / c1)) / (Math.sqrt(v[c]![j]! / c2) + 1e-8)
        if (j < d) w[j] = w[j]! - step
        else bias[c] = bias[c]! - step
      }
    }
  }
  return { weights, bias }
}

/**
 * The lexicon's own vote: weight `prior` from each type's lexical feature to that type ("other"
 * has none). Training starts there, and L2 pulls the weights towards it rather than to zero, so
 * a type with few labelled issues (billing) keeps the lexicon's say unless the data argue.
 */
const priorWeights = (d: number, prior: number): Array<Float64Array> =>
  classes.map((type) => {
    const row = new Float64Array(d)
    const j = (lexicalTypes as ReadonlyArray<string>).indexOf(type)
    if (j >= 0) row[d - lexicalTypes.length + j] = prior
    return row
  })

const logits = (f: Fitted, row: ReadonlyArray<number>) =>
  f.weights.map((w, c) => w.reduce((s, wj, j) => s + wj * row[j]!, f.bias[c]!))

/** The temperature (0.3–5, step 0.01) that minimises the negative log-likelihood. */
const fitTemperature = (z: ReadonlyArray<ReadonlyArray<number>>, y: ReadonlyArray<number>) => {
  let best = 1
  let bestNll = Infinity
  for (let t = 0.3; t <= 5.0001; t += 0.01) {
    const nll = z.reduce((a, row, i) => a - Math.log(Math.max(1e-12, EmbeddingTriage.softmax(row, t)[y[i]!]!)), 0)
    if (nll < bestNll) {
      bestNll = nll
      best = Math.round(t * 100) / 100
    }
  }
  return best
}

const balanceWeights = (y: ReadonlyArray<number>, power: number) => {
  const counts = classes.map((_, c) => y.filter((label) => label === c).length)
  const present = counts.filter((n) => n > 0).length
  return y.map((c) => (y.length / (present * counts[c]!)) ** power)
}

const foldOf = (repo: string) =>
  Number.parseInt(createHash("sha1").update(`nestfleet-triage-cv:${repo.toLowerCase()}`).digest("hex").slice(0, 8), 16) % folds

interface Setting {
  readonly l2: number
  readonly prior: number
  readonly lexicalScale: number
  readonly balance: number
}

interface Scores {
  readonly accuracy: number
  readonly macroF1: number
  readonly ece: number
  readonly eceCalibrated: number
  readonly temperature: number
  readonly recall: Record<string, number>
}

const main = async () => {
  const train = buildTrainSet()
  const dev = readJsonl<Issue>(Path.join(triageDir, "dev.jsonl"))
  const all = [...dev, ...train]
  const texts = all.flatMap((issue) => EmbeddingTriage.embeddedTexts({ subject: issue.title, body: issue.body }, { bodyChars }))
  const vectors = await embedAll(texts)
  const featuresOf = (issue: Issue, lexicalScale: number) => {
    const input = { subject: issue.title, body: issue.body }
    const [subject, body] = EmbeddingTriage.embeddedTexts(input, { bodyChars })
    const lexical = EmbeddingTriage.lexicalFeatures(EmbeddingTriage.lexicalEvidence(input), { lexicalTypes, lexicalScale })
    return EmbeddingTriage.features(vectors.get(subject)!, vectors.get(body)!, lexical)
  }
  const label = (issue: Issue) => classes.indexOf(issue.type)
  const devGold = dev.map((i) => i.type)

  const lexical = dev.map((i) => lexicalClassify({ subject: i.title, body: i.body }))
  console.log(
    `\ndev (${dev.length}) lexical classifier: accuracy ${accuracy(devGold, lexical.map((r) => r.type)).toFixed(3)}, ` +
      `macro-F1 ${macroF1(devGold, lexical.map((r) => r.type)).toFixed(3)}, ` +
      `ECE ${ece(lexical.map((r) => r.confidence), lexical.map((r, i) => r.type === devGold[i])).toFixed(3)}`
  )

  const crossValidate = (setting: Setting): { scores: Scores; oof: Array<Array<number>> } => {
    const x = all.map((issue) => featuresOf(issue, setting.lexicalScale))
    const y = all.map(label)
    const oof: Array<Array<number>> = new Array(dev.length)
    for (let f = 0; f < folds; f++) {
      const part = all.map((_, i) => i).filter((i) => i >= dev.length || foldOf(all[i]!.repo) !== f)
      const py = part.map((i) => y[i]!)
      const fitted = fit(part.map((i) => x[i]!), py, balanceWeights(py, setting.balance), setting.l2, setting.prior)
      dev.forEach((issue, i) => {
        if (foldOf(issue.repo) === f) oof[i] = logits(fitted, x[i]!)
      })
    }
    const devY = dev.map(label)
    const temperature = fitTemperature(oof, devY)
    // ECE of calibrated confidences, each fold's temperature fitted on the other folds' logits.
    const foldTemperatures = Array.from({ length: folds }, (_, f) => {
      const others = dev.map((_, j) => j).filter((j) => foldOf(dev[j]!.repo) !== f)
      return fitTemperature(others.map((j) => oof[j]!), others.map((j) => devY[j]!))
    })
    const calibrated = dev.map((issue, i) => Math.max(...EmbeddingTriage.softmax(oof[i]!, foldTemperatures[foldOf(issue.repo)]!)))
    const predicted = oof.map((z) => classes[z.indexOf(Math.max(...z))]!)
    const correct = predicted.map((p, i) => p === devGold[i])
    const raw = oof.map((z) => Math.max(...EmbeddingTriage.softmax(z, 1)))
    return {
      scores: {
        accuracy: accuracy(devGold, predicted),
        macroF1: macroF1(devGold, predicted),
        ece: ece(raw, correct),
        eceCalibrated: ece(calibrated, correct),
        temperature,
        recall: Object.fromEntries(
          classes.map((c) => {
            const gold = devGold.map((g, i) => [g, i] as const).filter(([g]) => g === c)
            return [c, gold.length === 0 ? 0 : gold.filter(([, i]) => predicted[i] === c).length / gold.length]
          })
        )
      },
      oof
    }
  }

  console.log(`\ncross-validation on dev, ${folds} folds grouped by repository; train.jsonl (${train.length}) always in training`)
  console.log("l2      prior  lexical  balance  accuracy  macro-F1  ECE(T=1)  ECE(T)  T")
  const grid: Array<Setting> = []
  // Also tried (CV on dev, 123 training issues): l2 0.01 (accuracy 0.56-0.62) and training issues
  // weighted 0.4 against dev ones (0.56-0.62): neither beat the grid below.
  for (const l2 of [0.001, 0.003]) {
    for (const prior of [0, 1, 2, 4]) grid.push({ l2, prior, lexicalScale: 0.5, balance: 0.5 })
    for (const prior of [4, 8]) grid.push({ l2, prior, lexicalScale: 0.5, balance: 1 })
  }
  let best: { setting: Setting; scores: Scores } | undefined
  for (const setting of grid) {
    const { scores } = crossValidate(setting)
    console.log(
      `${String(setting.l2).padEnd(8)}${String(setting.prior).padEnd(7)}${String(setting.lexicalScale).padEnd(9)}${String(setting.balance).padEnd(9)}` +
        `${scores.accuracy.toFixed(3).padEnd(10)}${scores.macroF1.toFixed(3).padEnd(10)}` +
        `${scores.ece.toFixed(3).padEnd(10)}${scores.eceCalibrated.toFixed(3).padEnd(8)}${scores.temperature}`
    )
    const value = (s: Scores) => s.accuracy + s.macroF1
    if (best === undefined || value(scores) > value(best.scores) + 1e-9) best = { setting, scores }
  }
  const chosen = best!
  console.log(
    `\nchosen: l2 ${chosen.setting.l2}, prior ${chosen.setting.prior}, lexical scale ${chosen.setting.lexicalScale}, balance ${chosen.setting.balance}: ` +
      `CV accuracy ${chosen.scores.accuracy.toFixed(3)}, macro-F1 ${chosen.scores.macroF1.toFixed(3)}, ` +
      `ECE ${chosen.scores.eceCalibrated.toFixed(3)} (temperature ${chosen.scores.temperature})`
  )
  console.log(`per-class CV recall: ${classes.map((c) => `${c} ${chosen.scores.recall[c]!.toFixed(2)}`).join(", ")}`)
  if (process.argv.includes("--cv-only")) return

  const x = all.map((issue) => featuresOf(issue, chosen.setting.lexicalScale))
  const y = all.map(label)
  const fitted = fit(x, y, balanceWeights(y, chosen.setting.balance), chosen.setting.l2, chosen.setting.prior)
  const r = (value: number) => Math.round(value * 1e5) / 1e5
  const counts = Object.fromEntries(classes.map((c) => [c, all.filter((i) => i.type === c).length]))
  const out: EmbeddingTriage.TriageModel = {
    model: "builtin-embedding-triage-1",
    classes: [...classes],
    dimensions: BuiltinEmbeddings.dimensions,
    bodyChars,
    lexicalTypes: [...lexicalTypes],
    lexicalScale: chosen.setting.lexicalScale,
    weights: fitted.weights.map((w) => [...w].map(r)),
    bias: [...fitted.bias].map(r),
    temperature: chosen.scores.temperature,
    training: {
      by: "eval/tools/train-triage.ts",
      data: `eval/triage/dev.jsonl (${dev.length}) + eval/triage/train.jsonl (${train.length})`,
      perType: counts,
      l2: chosen.setting.l2,
      lexicalPrior: chosen.setting.prior,
      balance: chosen.setting.balance,
      crossValidation: {
        folds,
        groupedBy: "repository",
        accuracy: r(chosen.scores.accuracy),
        macroF1: r(chosen.scores.macroF1),
        ece: r(chosen.scores.eceCalibrated)
      }
    }
  }
  EmbeddingTriage.decodeModel(out)
  Fs.writeFileSync(modelFile, JSON.stringify(out) + "\n")
  console.log(`wrote ${Path.relative(root, modelFile)} (${Fs.statSync(modelFile).size} bytes)`)
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
