/**
 * The words of a text that carry its content: lower-cased, three letters or more, common words
 * out, a plural's "s" dropped ("exports" and "export" are one word).
 */
const stopWords = new Set(
  ("the and for are but not you your with this that have has had was were will would can could should " +
    "what when where which who why how does did doing done from into onto about there their them then than " +
    "its it's i'm i've we our ours they any all some just also only very more most much many such here using use " +
    "get got set like want need try trying tried make made work works working way one two"
  ).split(" ")
)

const singular = (word: string) => (word.length > 3 && word.endsWith("s") && !word.endsWith("ss") ? word.slice(0, -1) : word)

export const of = (text: string): Set<string> =>
  new Set(
    (text.toLowerCase().match(/[a-z0-9_][a-z0-9_.-]*[a-z0-9_]/g) ?? [])
      .filter((word) => word.length >= 3 && !stopWords.has(word))
      .map(singular)
  )
