/**
 * The dependency rule of DESIGN.md §2, checked in CI rather than kept as a convention:
 * `apps → core → (db, jobs, ai, observability) → domain`, visible in imports.
 *
 * Usage: `tsx scripts/check-dependencies.ts` — prints every violation as `file:line: message`
 * and exits 1 if there is any.
 */
import * as Fs from "node:fs"
import { builtinModules } from "node:module"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import ts from "typescript"

/**
 * Rule c: which internal packages each package under packages/ may import (besides itself).
 * A package missing from this table may import no other internal package until it is added.
 */
export const allowedImports: Readonly<Record<string, ReadonlyArray<string>>> = {
  domain: [],
  observability: ["domain"],
  db: ["domain", "observability"],
  ai: ["domain", "observability"],
  jobs: ["domain", "db", "observability"],
  core: ["domain", "db", "jobs", "ai", "observability"]
}

const scope = "@nestfleet/"
const appPackages = ["@nestfleet/api", "@nestfleet/worker", "@nestfleet/console"]

export interface Violation {
  readonly file: string // relative to the repository root, with `/`
  readonly line: number
  readonly rule: "a" | "b" | "c" | "d" | "e"
  readonly message: string
}

export const formatViolation = (v: Violation): string => `${v.file}:${v.line}: ${v.message}`

export interface ImportRef {
  readonly specifier: string
  readonly line: number
}

/** Every module a file refers to, type-only ones included: they couple the code just the same. */
export const importsOf = (fileName: string, text: string): Array<ImportRef> => {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true)
  const found: Array<ImportRef> = []
  const add = (node: ts.Node | undefined) => {
    if (node && ts.isStringLiteralLike(node)) {
      found.push({ specifier: node.text, line: source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1 })
    }
  }
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) {
      add(node.moduleSpecifier) // import … from "x", import type …, export … from "x"
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node.moduleReference.expression) // import x = require("x")
    } else if (
      ts.isCallExpression(node) &&
      (node.expression.kind === ts.SyntaxKind.ImportKeyword ||
        (ts.isIdentifier(node.expression) && node.expression.text === "require"))
    ) {
      add(node.arguments[0]) // import("x"), require("x")
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node.argument.literal) // type T = import("x").T
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return found
}

interface Workspace {
  readonly name: string
  readonly dir: string // relative to the root, with `/`
  readonly declared: ReadonlySet<string>
}

/** The workspace packages, from the `packages:` globs of pnpm-workspace.yaml (`dir` or `dir/*`). */
const readWorkspaces = (root: string): Array<Workspace> => {
  const globs: Array<string> = []
  let inPackages = false
  for (const line of Fs.readFileSync(Path.join(root, "pnpm-workspace.yaml"), "utf8").split("\n")) {
    if (/^\S/.test(line)) inPackages = line.startsWith("packages:")
    const entry = inPackages ? /^\s+-\s+["']?([^"'#\s]+)/.exec(line)?.[1] : undefined
    if (entry && !entry.startsWith("!")) globs.push(entry)
  }
  const dirs = globs.flatMap((glob) =>
    glob.endsWith("/*")
      ? listDir(Path.join(root, glob.slice(0, -2))).filter((e) => e.isDirectory()).map((e) => `${glob.slice(0, -2)}/${e.name}`)
      : [glob]
  )
  return dirs.flatMap((dir) => {
    const manifest = Path.join(root, dir, "package.json")
    if (!Fs.existsSync(manifest)) return []
    const json = JSON.parse(Fs.readFileSync(manifest, "utf8"))
    const declared = new Set([...Object.keys(json.dependencies ?? {}), ...Object.keys(json.devDependencies ?? {})])
    return [{ name: String(json.name), dir, declared }]
  })
}

const listDir = (dir: string) => (Fs.existsSync(dir) ? Fs.readdirSync(dir, { withFileTypes: true }) : [])

/** Source files of a workspace package (relative paths), skipping installs, build output and data dirs. */
const sourceFiles = (root: string, dir: string): Array<string> =>
  listDir(Path.join(root, dir)).flatMap((e) => {
    const path = `${dir}/${e.name}`
    if (e.isDirectory()) {
      return e.name === "node_modules" || e.name === "dist" || e.name.startsWith(".") ? [] : sourceFiles(root, path)
    }
    return /\.[cm]?tsx?$/.test(e.name) && !/\.d\.[cm]?tsx?$/.test(e.name) ? [path] : []
  })

/** `@scope/name/sub` → `@scope/name`, `pg/lib` → `pg`. */
const packageName = (specifier: string) => specifier.split("/").slice(0, specifier.startsWith("@") ? 2 : 1).join("/")

const nodeBuiltins = new Set(builtinModules)
const isNodeOnly = (specifier: string) =>
  specifier.startsWith("node:") || nodeBuiltins.has(specifier) || nodeBuiltins.has(packageName(specifier))

/** Database, queue and server runtimes: none of these belong in the shared domain language. */
const isServerOnly = (name: string) =>
  name === "pg" || name === "pg-boss" || name.startsWith("@effect/sql") ||
  name.startsWith("@effect/platform-node") || name.startsWith("@electric-sql/")

const isSqlClient = (name: string) => name === "pg" || name.startsWith("@effect/sql") || name.startsWith("@electric-sql/")

const isUnder = (file: string, dir: string) => file === dir || file.startsWith(`${dir}/`)

/** Checks every workspace package under `root` and returns all violations, sorted by file and line. */
export const checkDependencies = (root: string): Array<Violation> => {
  const workspaces = readWorkspaces(root)
  const violations: Array<Violation> = []
  for (const ws of workspaces) {
    const short = ws.name.startsWith(scope) ? ws.name.slice(scope.length) : ws.name
    const inPackages = isUnder(ws.dir, "packages")
    for (const file of sourceFiles(root, ws.dir)) {
      const isSrc = isUnder(file, `${ws.dir}/src`)
      for (const { specifier, line } of importsOf(file, Fs.readFileSync(Path.join(root, file), "utf8"))) {
        const report = (rule: Violation["rule"], message: string) => violations.push({ file, line, rule, message })

        // The internal package imported, if any; a relative path that leaves its own package
        // counts as an import of the workspace package it lands in.
        let target: string | undefined
        let relativeInto: string | undefined // where such a relative path lands
        if (specifier.startsWith(".")) {
          const resolved = Path.relative(root, Path.resolve(root, Path.dirname(file), specifier)).split(Path.sep).join("/")
          if (isUnder(resolved, ws.dir)) continue
          relativeInto = resolved
          target = workspaces.find((w) => isUnder(resolved, w.dir))?.name
        } else if (specifier.startsWith(scope)) {
          target = packageName(specifier)
        }
        if (target === ws.name) continue
        const name = target ?? packageName(specifier)

        // b. Packages are libraries the apps are built from; an app is never a library.
        if (inPackages && ((target && appPackages.includes(target)) || (relativeInto && isUnder(relativeInto, "apps")))) {
          report("b", `packages must not import apps (${target ?? specifier})`)
          continue
        }

        // a. The domain is the shared language every process (the Next.js console included)
        //    imports: no Node-only modules, no SQL or queue runtimes, nothing internal below it.
        if (short === "domain" && inPackages && isSrc) {
          if (target) report("a", `packages/domain must not import other workspace packages (${target})`)
          else if (isNodeOnly(specifier)) report("a", `packages/domain must not import Node-only modules (${specifier})`)
          else if (isServerOnly(name)) report("a", `packages/domain must not import server-only libraries (${specifier})`)
        }

        // c. Layering among packages: each layer sees only the layers below it (table above).
        if (inPackages && isSrc && short !== "domain" && target) {
          const allowed = allowedImports[short]
          if (!allowed) report("c", `${ws.dir} is not in the layering table of scripts/check-dependencies.ts; add it to import ${target}`)
          else if (!allowed.some((a) => `${scope}${a}` === target)) {
            report("c", `${ws.dir} must not import ${target} (allowed: ${allowed.join(", ") || "none"})`)
          }
        }

        // d. Route handlers never touch SQL: they call services. The database layer is
        //    wired only in the API's main.ts.
        if (isUnder(file, "apps/api/src") && file !== "apps/api/src/main.ts" && (isSqlClient(name) || target === "@nestfleet/db")) {
          report("d", `API code outside main.ts must not import SQL clients or @nestfleet/db (${specifier})`)
        }

        // e. Every internal import is declared in package.json, so coupling is visible and pnpm
        //    resolves it; a relative path into another package bypasses that.
        if (relativeInto && target) {
          report("e", `import ${target} by its package name, not by a relative path (${specifier})`)
        } else if (target && !ws.declared.has(target)) {
          report("e", `${target} is imported but not declared in ${ws.dir}/package.json`)
        }
      }
    }
  }
  return violations.sort((x, y) => x.file.localeCompare(y.file) || x.line - y.line)
}

const main = () => {
  const violations = checkDependencies(Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), ".."))
  for (const v of violations) console.error(formatViolation(v))
  if (violations.length > 0) {
    console.error(`\n${violations.length} dependency rule violation(s); see scripts/check-dependencies.ts.`)
    process.exit(1)
  }
  console.log("Dependency rules: OK")
}

// Run only when executed directly (`tsx scripts/check-dependencies.ts`), not when imported by tests.
if (process.argv[1] && Fs.realpathSync(process.argv[1]) === Fs.realpathSync(fileURLToPath(import.meta.url))) main()
