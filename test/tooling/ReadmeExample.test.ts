/**
 * The README's "Swapping layers" example is the test it says it is: the code block must appear,
 * as it is, in `packages/core/test/SwappingLayers.test.ts`, which the suite runs.
 */
import { expect, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const root = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../..")
const read = (file: string) => Fs.readFileSync(Path.join(root, file), "utf8")

it("the README's Swapping layers example is the code of a test that runs", () => {
  const readme = read("README.md")
  const section = readme.slice(readme.indexOf("## Swapping layers"), readme.indexOf("## Architecture"))
  const example = /```ts\n([\s\S]*?)```/.exec(section)?.[1]
  expect(example, "a ```ts block in the Swapping layers section").toBeDefined()
  expect(read("packages/core/test/SwappingLayers.test.ts")).toContain(example!.trimEnd())
})
