import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { afterEach, describe, expect, it } from "vitest"
import { checkDependencies, formatViolation, importsOf } from "../../scripts/check-dependencies.js"

const repoRoot = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../..")

const manifest = (name: string, dependencies: Array<string> = [], devDependencies: Array<string> = []) =>
  JSON.stringify({
    name,
    dependencies: Object.fromEntries(dependencies.map((d) => [d, "workspace:*"])),
    devDependencies: Object.fromEntries(devDependencies.map((d) => [d, "workspace:*"]))
  })

/** A miniature workspace whose manifests mirror the real one. */
const baseTree: Record<string, string> = {
  "pnpm-workspace.yaml": "packages:\n  - apps/*\n  - packages/*\nonlyBuiltDependencies:\n  - esbuild\n",
  "packages/domain/package.json": manifest("@nestfleet/domain"),
  "packages/observability/package.json": manifest("@nestfleet/observability", ["@nestfleet/domain"]),
  "packages/db/package.json": manifest("@nestfleet/db", ["@nestfleet/domain", "@nestfleet/observability"], [
    "@nestfleet/core"
  ]),
  "packages/jobs/package.json": manifest("@nestfleet/jobs", ["@nestfleet/domain", "@nestfleet/db"]),
  "packages/core/package.json": manifest("@nestfleet/core", ["@nestfleet/domain", "@nestfleet/db"]),
  "apps/api/package.json": manifest("@nestfleet/api", ["@nestfleet/core", "@nestfleet/db", "@nestfleet/domain"]),
  "apps/worker/package.json": manifest("@nestfleet/worker", ["@nestfleet/jobs"])
}

const tempDirs: Array<string> = []
afterEach(() => {
  for (const dir of tempDirs.splice(0)) Fs.rmSync(dir, { recursive: true, force: true })
})

/** Writes `files` over the base tree in a fresh temp dir and returns the violations, formatted. */
const check = (files: Record<string, string>): Array<string> => {
  const root = Fs.mkdtempSync(Path.join(Os.tmpdir(), "nestfleet-deps-"))
  tempDirs.push(root)
  for (const [file, text] of Object.entries({ ...baseTree, ...files })) {
    Fs.mkdirSync(Path.dirname(Path.join(root, file)), { recursive: true })
    Fs.writeFileSync(Path.join(root, file), text)
  }
  return checkDependencies(root).map(formatViolation)
}

describe("importsOf", () => {
  it("finds static, type-only, re-export, dynamic, require and import-type references", () => {
    const text = [
      `import { a } from "a"`,
      `import type { B } from "b"`,
      `export * from "c"`,
      `export type { D } from "d"`,
      `const e = await import("e")`,
      `import f = require("f")`,
      `type G = import("g").G`,
      `import "h"`,
      `const i = import(someVariable)`
    ].join("\n")
    expect(importsOf("x.ts", text)).toEqual(
      ["a", "b", "c", "d", "e", "f", "g", "h"].map((specifier, i) => ({ specifier, line: i + 1 }))
    )
  })
})

describe("checkDependencies", () => {
  it("accepts a tree that follows the rules", () => {
    expect(
      check({
        "packages/domain/src/Ids.ts": `import { Schema } from "effect"\nimport { HttpApi } from "@effect/platform"\nimport { X } from "./X.js"`,
        "packages/db/src/CasesRepo.ts": `import { SqlClient } from "@effect/sql"\nimport { CaseId } from "@nestfleet/domain/Ids"\nimport * as Fs from "node:fs"`,
        "packages/core/src/Cases.ts": `import { CasesRepo } from "@nestfleet/db/CasesRepo"\nimport { Self } from "@nestfleet/core/Other"`,
        "apps/api/src/main.ts": `import * as Database from "@nestfleet/db/Database"\nimport { PgClient } from "@effect/sql-pg"`,
        "apps/api/src/cases/CasesHttp.ts": `import { Cases } from "@nestfleet/core/Cases"`
      })
    ).toEqual([])
  })

  it("a: the domain imports no Node-only modules, server libraries or workspace packages", () => {
    expect(
      check({
        "packages/domain/package.json": manifest("@nestfleet/domain", ["@nestfleet/db"]),
        "packages/domain/src/Bad.ts": [
          `import * as Fs from "node:fs"`,
          `import * as Path from "path"`,
          `import type { Pool } from "pg"`,
          `import { SqlClient } from "@effect/sql"`,
          `import { NodeRuntime } from "@effect/platform-node"`,
          `const lite = () => import("@electric-sql/pglite")`,
          `export { Database } from "@nestfleet/db/Database"`,
          `import { PgBoss } from "pg-boss"`
        ].join("\n"),
        // Tests may use whatever helps them.
        "packages/domain/test/Bad.test.ts": `import * as Fs from "node:fs"`
      })
    ).toEqual([
      "packages/domain/src/Bad.ts:1: packages/domain must not import Node-only modules (node:fs)",
      "packages/domain/src/Bad.ts:2: packages/domain must not import Node-only modules (path)",
      "packages/domain/src/Bad.ts:3: packages/domain must not import server-only libraries (pg)",
      "packages/domain/src/Bad.ts:4: packages/domain must not import server-only libraries (@effect/sql)",
      "packages/domain/src/Bad.ts:5: packages/domain must not import server-only libraries (@effect/platform-node)",
      "packages/domain/src/Bad.ts:6: packages/domain must not import server-only libraries (@electric-sql/pglite)",
      "packages/domain/src/Bad.ts:7: packages/domain must not import other workspace packages (@nestfleet/db)",
      "packages/domain/src/Bad.ts:8: packages/domain must not import server-only libraries (pg-boss)"
    ])
  })

  it("b: nothing under packages/ imports an app, by name or by relative path, in src or test", () => {
    expect(
      check({
        "packages/core/src/Bad.ts": `import { HttpLive } from "@nestfleet/api/Http"\nimport type { X } from "@nestfleet/console/lib/api"`,
        "packages/core/test/Bad.test.ts": `import { WorkerLive } from "../../../apps/worker/src/Worker.js"`
      })
    ).toEqual([
      "packages/core/src/Bad.ts:1: packages must not import apps (@nestfleet/api)",
      "packages/core/src/Bad.ts:2: packages must not import apps (@nestfleet/console)",
      "packages/core/test/Bad.test.ts:1: packages must not import apps (@nestfleet/worker)"
    ])
  })

  it("c: packages import only the layers below them, in src", () => {
    expect(
      check({
        "packages/db/src/Bad.ts": `import { Cases } from "@nestfleet/core/Cases"`,
        "packages/db/test/Fine.test.ts": `import { Cases } from "@nestfleet/core/Cases"`,
        "packages/jobs/src/Fine.ts": `import { Database } from "@nestfleet/db/Database"`,
        "packages/extra/package.json": manifest("@nestfleet/extra", ["@nestfleet/domain"]),
        "packages/extra/src/Unlisted.ts": `import { Id } from "@nestfleet/domain/Ids"`
      })
    ).toEqual([
      "packages/db/src/Bad.ts:1: packages/db must not import @nestfleet/core (allowed: domain, observability)",
      "packages/extra/src/Unlisted.ts:1: packages/extra is not in the layering table of scripts/check-dependencies.ts; add it to import @nestfleet/domain"
    ])
  })

  it("d: API code other than main.ts imports no SQL client and nothing from @nestfleet/db", () => {
    expect(
      check({
        "apps/api/src/main.ts": `import * as Database from "@nestfleet/db/Database"`,
        "apps/api/src/cases/CasesHttp.ts": [
          `import { SqlClient } from "@effect/sql"`,
          `import { PgClient } from "@effect/sql-pg"`,
          `import pg from "pg"`,
          `import { CasesRepo } from "@nestfleet/db/CasesRepo"`,
          `import { PGlite } from "@electric-sql/pglite"`
        ].join("\n"),
        "apps/api/test/Http.test.ts": `import * as TestDatabase from "@nestfleet/db/testing/TestDatabase"`
      })
    ).toEqual([
      "apps/api/src/cases/CasesHttp.ts:1: API code outside main.ts must not import SQL clients or @nestfleet/db (@effect/sql)",
      "apps/api/src/cases/CasesHttp.ts:2: API code outside main.ts must not import SQL clients or @nestfleet/db (@effect/sql-pg)",
      "apps/api/src/cases/CasesHttp.ts:3: API code outside main.ts must not import SQL clients or @nestfleet/db (pg)",
      "apps/api/src/cases/CasesHttp.ts:4: API code outside main.ts must not import SQL clients or @nestfleet/db (@nestfleet/db/CasesRepo)",
      "apps/api/src/cases/CasesHttp.ts:5: API code outside main.ts must not import SQL clients or @nestfleet/db (@electric-sql/pglite)"
    ])
  })

  it("e: internal imports are declared in the importer's package.json and use the package name", () => {
    expect(
      check({
        "packages/jobs/src/Undeclared.ts": `import type { Logger } from "@nestfleet/observability/Logging"`,
        "packages/jobs/src/Relative.ts": `import { Database } from "../../db/src/Database.js"`,
        "apps/worker/test/Undeclared.test.ts": `import { Cases } from "@nestfleet/core/Cases"`
      })
    ).toEqual([
      "apps/worker/test/Undeclared.test.ts:1: @nestfleet/core is imported but not declared in apps/worker/package.json",
      "packages/jobs/src/Relative.ts:1: import @nestfleet/db by its package name, not by a relative path (../../db/src/Database.js)",
      "packages/jobs/src/Undeclared.ts:1: @nestfleet/observability is imported but not declared in packages/jobs/package.json"
    ])
  })

  it("finds no violations in this repository", () => {
    expect(checkDependencies(repoRoot).map(formatViolation)).toEqual([])
  })
})
