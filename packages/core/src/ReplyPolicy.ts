/**
 * Whether a draft is sent at once or waits for a person, by the product's policy: sent only in
 * `auto` mode, for a type the product allows (never an incident), when triage was at least
 * `autoSendMinConfidence` sure and the best article scored at least `matchMinSimilarity`.
 */
import type { CaseType } from "@nestfleet/domain/Cases"
import type { ProductSettings } from "@nestfleet/domain/Products"

export interface Sending {
  readonly send: boolean
  readonly reason: string
}

export const decide = (
  settings: ProductSettings,
  facts: { readonly type: CaseType | null; readonly confidence: number | null; readonly bestArticle: number | null }
): Sending => {
  const { bestArticle, confidence, type } = facts
  const hold = (reason: string): Sending => ({ send: false, reason })
  if (settings.replyMode !== "auto") return hold("the product's replies wait for approval")
  if (type === null) return hold("the case has no type")
  if (type === "incident" || !settings.autoSendTypes.includes(type)) return hold(`a ${type} is not sent without approval`)
  if (confidence === null || confidence < settings.autoSendMinConfidence) {
    return hold(`triage was ${confidence === null ? "not" : `${confidence.toFixed(2)}`} sure, below ${settings.autoSendMinConfidence}`)
  }
  if (bestArticle === null || bestArticle < settings.matchMinSimilarity) {
    return hold(`the best article scored ${bestArticle === null ? "nothing" : bestArticle.toFixed(2)}, below ${settings.matchMinSimilarity}`)
  }
  return {
    send: true,
    reason: `auto mode: a ${type}, triage ${confidence.toFixed(2)} ≥ ${settings.autoSendMinConfidence}, ` +
      `best article ${bestArticle.toFixed(2)} ≥ ${settings.matchMinSimilarity}`
  }
}
