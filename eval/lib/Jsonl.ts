/** JSON Lines files, as the datasets under eval/ are kept: one value a line, blank lines skipped. */
import * as Fs from "node:fs"

export const readJsonl = <A>(file: string): Array<A> =>
  Fs.readFileSync(file, "utf8").split("\n").filter((line) => line.trim() !== "").map((line) => JSON.parse(line) as A)
