/**
 * A `text[]` parameter as a PostgreSQL array literal. (@effect/sql reads a JavaScript array in
 * a template as a list for `in (…)`, so arrays travel as literals; cast with `::text[]`.)
 */
export const textArray = (values: ReadonlyArray<string>): string =>
  `{${values.map((value) => `"${value.replace(/["\\]/g, (char) => `\\${char}`)}"`).join(",")}}`
