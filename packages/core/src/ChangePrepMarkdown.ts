/** A change-prep as Markdown, ready to paste into a pull request's description. */
import type { ChangePrep } from "@nestfleet/domain/ChangePreps"

const list = (items: ReadonlyArray<string>, empty: string, bullet: (i: number) => string = () => "-") =>
  items.length === 0 ? `_${empty}_` : items.map((item, i) => `${bullet(i)} ${item}`).join("\n")

export const render = (prep: ChangePrep, caseNumber: number) =>
  [
    `# ${prep.title}`,
    prep.summary,
    `## Reproduction\n\n${list(prep.reproduction, "The report gives no steps.", (i) => `${i + 1}.`)}`,
    `## Suspected components\n\n${
      list(
        prep.components.map((component) =>
          `**${component.name}**${component.pathHints.length === 0 ? "" : ` (${component.pathHints.map((hint) => `\`${hint}\``).join(", ")})`} — ${component.why}`
        ),
        "The report names none of the product's components."
      )
    }`,
    `## Affected surfaces\n\n${list(prep.surfaces, "Not clear from the report.")}`,
    `## Risk: ${prep.risk.level}\n\n${list(prep.risk.reasons, "No reason given.")}`,
    `## Test plan\n\n${list(prep.testPlan, "None.", () => "- [ ]")}`,
    `## Rollback\n\n${prep.rollback}`,
    ...(prep.relatedCases.length === 0
      ? []
      : [`## Related\n\nAlso reported in ${prep.relatedCases.map((related) => `#${related.caseNumber}`).join(", ")}.`]),
    `---\nPrepared by NestFleet from case #${caseNumber} (${prep.author}).`
  ].join("\n\n") + "\n"
