import type { CaseType, Severity } from "@nestfleet/domain/Cases"
import { describe, expect, it } from "@effect/vitest"
import { classify, type LexicalTriageResult } from "../src/LexicalTriage.js"

interface Labeled {
  readonly type: CaseType
  readonly severity: Severity
  readonly subject: string
  readonly body: string
}

const m = (type: CaseType, severity: Severity, subject: string, body: string): Labeled => ({ type, severity, subject, body })

/**
 * Support messages as customers write them, labelled by hand with the rubric of the triage
 * task (critical: outage, data loss or security for many; high: someone is blocked; medium:
 * wrong but with a way around it; low: cosmetic, questions, ideas). Some are ambiguous on
 * purpose (a question that mentions an endpoint being down, an outage reported through the
 * login page, a security questionnaire that is not an incident): the targets leave room for them.
 */
const corpus: ReadonlyArray<Labeled> = [
  // bug
  m("bug", "medium", "Export to CSV drops the last row",
    "When I export the tickets view to CSV, the final row is always missing. Tried with 10 and 200 rows, same result. Copying from the table works in the meantime."),
  m("bug", "high", "App crashes when I attach a PDF",
    "Every time I try to attach a PDF larger than about 5MB to a reply, the desktop app crashes and I lose the draft I was writing."),
  m("bug", "medium", "Activity log shows the wrong timezone",
    "Timestamps in the activity log are in UTC even though my profile is set to Europe/Berlin. Everything else in the UI uses the right zone."),
  m("bug", "low", "Small typo in settings",
    "The heading on the notification settings page reads 'Notifcations' instead of 'Notifications'."),
  m("bug", "medium", "Search blows up on quoted phrases",
    "If I search for a phrase in double quotes I get 'Something went wrong', and the browser console shows TypeError: cannot read properties of undefined. Searching without quotes is fine."),
  m("bug", "medium", "Save button does nothing in Safari",
    "In Safari 17, clicking Save in the case editor doesn't do anything: no spinner, no message. Chrome is fine. The console has an uncaught promise rejection."),
  m("bug", "medium", "Dashboard charts are empty since the last release",
    "Since yesterday's update the charts on the dashboard render empty. The numbers in the table below them are right, so it looks like a regression in the chart widget."),
  m("bug", "high", "Long replies fail to send",
    "Since this morning any reply longer than a few paragraphs fails with a 500 and the text is gone. We are unable to answer our customers properly."),
  m("bug", "low", "Date picker opens on the previous month",
    "When I open the due date picker in March it shows February. Clicking next gets me to the right month, so it's minor, just confusing."),
  m("bug", "medium", "Attachments download with a .bin extension",
    "Files customers attach come through fine, but when an agent downloads one it's saved as attachment.bin instead of the original file name. Renaming it by hand works."),
  m("bug", "medium", "Filter by tag ignores the second tag",
    "When I filter the case list by two tags, only cases with the first tag are returned. Looks like the second one is ignored entirely."),
  m("bug", "high", "Mobile app closes itself on launch",
    "Since updating to 3.2 on Android the app closes immediately after the splash screen. I can't use it at all on my phone."),
  m("bug", "low", "Button label cut off in German",
    "In the German UI the 'Zuweisen' button text is clipped on smaller screens. Purely cosmetic."),
  m("bug", "medium", "Unread counter never resets",
    "The unread badge on the inbox keeps showing 3 even after I've opened every case. Logging out and back in clears it for a while."),
  m("bug", "medium", "Pasted images appear twice",
    "When I paste a screenshot into a reply, it gets inserted two times. I have to delete the extra copy before sending."),
  m("bug", "high", "Reply editor freezes the tab",
    "Typing in the reply editor on long threads freezes the whole browser tab and I have to reload, losing what I wrote. This happens on every thread with more than 50 messages."),
  // question
  m("question", "low", "Scheduled exports",
    "Hi, is there a way to schedule a weekly export of the case report to our email? I couldn't find it in the settings."),
  m("question", "low", "API rate limits",
    "What are the rate limits on the REST API? We're planning a sync job that runs every minute and want to stay well within them."),
  m("question", "low", "Merging duplicate cases",
    "A customer wrote in twice about the same thing. How do I merge the two cases into one?"),
  m("question", "low", "Agent vs Supervisor roles",
    "Could someone explain the difference between the Agent and Supervisor roles? The help center mentions both but not what each one can do."),
  m("question", "low", "Webhook retries",
    "If our endpoint is down when you send a webhook, do you retry it? And for how long?"),
  m("question", "low", "Where do I find our workspace ID?",
    "Our identity provider's support asked me for the workspace ID. Where can I see it?"),
  m("question", "low", "Moving over from Zendesk",
    "We're migrating from Zendesk. Can we bring our old tickets across, and does the customer history come along with them?"),
  m("question", "low", "Custom fields in the API",
    "Do custom fields show up in the API responses, or only in the console?"),
  m("question", "low", "Keyboard shortcuts",
    "Is there a list of keyboard shortcuts somewhere? I'd like to move between cases without reaching for the mouse."),
  m("question", "low", "Retention of closed cases",
    "How long do you keep closed cases before they are archived or deleted?"),
  m("question", "low", "Using the API from Python",
    "Is there an official client library for Python, or should we call the REST endpoints directly?"),
  m("question", "low", "Assigning automatically",
    "Can cases be assigned to agents round-robin, or does someone always have to pick them up manually?"),
  m("question", "low", "Which IPs do webhooks come from?",
    "Our firewall only allows known addresses. Which IP ranges should we allowlist for your webhook calls?"),
  m("question", "low", "Languages supported",
    "Which languages does the customer portal support? We have clients in Spain and Brazil."),
  m("question", "low", "Data residency",
    "Do you host data in the EU, and can we choose the region when we sign up?"),
  m("question", "low", "Limits on attachments",
    "What's the maximum attachment size a customer can send by email?"),
  // feature request
  m("feature_request", "low", "Dark theme please",
    "Our agents work night shifts and the bright interface is tiring on the eyes. A dark theme would make a big difference for them."),
  m("feature_request", "low", "Closing cases in bulk",
    "It would be really useful to select several cases and close them at once. Right now we click through them one by one."),
  m("feature_request", "low", "Microsoft Teams as a channel",
    "We use Teams, not Slack. Any plans to support Teams as an inbound channel?"),
  m("feature_request", "low", "Saved filters on the case list",
    "Could you let us save filters on the case list? We rebuild the same 'my open high-priority cases' filter every single morning."),
  m("feature_request", "low", "Export a thread as PDF",
    "We'd love to be able to export a whole case thread as a PDF for our compliance archive."),
  m("feature_request", "low", "More than one assignee",
    "Some cases need two people working on them. Please consider allowing multiple assignees per case."),
  m("feature_request", "low", "Idea: SLA timers",
    "A countdown to the SLA deadline on each case would help us prioritise. Is something like this planned?"),
  m("feature_request", "low", "Outgoing webhooks for status changes",
    "We'd like our own system to be notified when a case changes status. Outgoing webhooks would solve this for us."),
  m("feature_request", "low", "Custom auto-reply templates",
    "It would help a lot if we could customise the auto-reply email with our own branding and wording."),
  m("feature_request", "low", "Canned responses",
    "It would be great to have reusable reply snippets so agents don't type the same answer twenty times a day."),
  m("feature_request", "low", "Jira sync",
    "We'd really like a two-way sync with Jira so that engineering tickets and support cases stay linked. Please add this if you can."),
  m("feature_request", "low", "Suggestion for the reporting page",
    "A chart of first response time per agent would be a nice addition to the reports."),
  m("feature_request", "low", "Mention teammates in notes",
    "Would love the ability to @mention a colleague in an internal note and have them notified."),
  m("feature_request", "low", "Weekend hours in SLA",
    "It would be good if SLA calculations could skip weekends and public holidays. At the moment our numbers look terrible every Monday."),
  m("feature_request", "low", "Slack notifications per product",
    "We'd like to route notifications for each product to a different Slack channel. Would you consider adding that?"),
  m("feature_request", "low", "Customer satisfaction survey",
    "A short CSAT survey sent after a case is closed would really help us measure how we're doing."),
  // incident
  m("incident", "critical", "Console down for our whole team",
    "Nobody on our team can load the console, we just get 502 Bad Gateway. Started about 10 minutes ago."),
  m("incident", "critical", "API returning 503 on every request",
    "All of our integrations are failing: every call to the API has returned 503 Service Unavailable since 14:05 UTC."),
  m("incident", "critical", "No inbound emails creating cases",
    "Since 8am none of the inbound emails create cases. Customers are writing to us and nothing shows up. This affects our entire support organisation."),
  m("incident", "high", "Everything is extremely slow",
    "The console has been very slow for the last hour: pages take 30+ seconds and some requests time out. It's the same for every agent here."),
  m("incident", "critical", "Cases missing after last night's maintenance",
    "After the maintenance window last night, about 200 cases from yesterday have vanished from every view. We are worried this is permanent data loss."),
  m("incident", "critical", "Seeing another company's cases",
    "One of our agents saw cases from a different company in her queue this morning. It looks like data is leaking between tenants, please treat this as a security issue."),
  m("incident", "high", "Webhook deliveries delayed",
    "Our webhook deliveries have been arriving more than 20 minutes late since 9am, while your status page says all systems are operational."),
  m("incident", "critical", "Login page unreachable for the whole company",
    "None of our 40 agents can reach the login page; the browser just times out. Our network is fine, other sites load normally."),
  m("incident", "critical", "EU region not responding",
    "The EU instance has been completely unreachable for the past 15 minutes. Our support team is at a standstill."),
  m("incident", "critical", "Everything returns errors",
    "Since 10:20 CET every page in the console shows an error and the API is returning 500s for all requests. All our agents are blocked."),
  m("incident", "critical", "Outage?",
    "Is there an outage right now? Nobody can log in and your status page shows nothing."),
  m("incident", "high", "Notifications arriving very late",
    "Email notifications for new cases have been delayed by about half an hour since this morning for our team."),
  m("incident", "critical", "Attachments from the last day are gone",
    "All attachments uploaded in the last 24 hours return 404 now. We've lost data that customers sent us."),
  m("incident", "critical", "Nothing loads",
    "The web app shows a blank screen for all of us since 11:40 and the API health check is failing. We're completely stuck."),
  m("incident", "high", "Intermittent 504s",
    "Roughly one in ten requests to the API times out with a 504 since this morning. Retrying usually works."),
  m("incident", "critical", "Customer emails being sent to the wrong people",
    "Replies from our agents are being delivered to unrelated customers. This is a serious privacy problem, please stop outbound email until it's fixed."),
  // billing
  m("billing", "high", "Charged twice this month",
    "My card was charged twice for the April subscription. Please refund the duplicate payment."),
  m("billing", "low", "Copy of invoice #4471",
    "Our accounts team needs the March invoice re-issued with our VAT number on it."),
  m("billing", "low", "Updating the card on file",
    "Our company card expires next week. How do I change the payment method before the renewal?"),
  m("billing", "medium", "Cancel at end of term",
    "We'd like to cancel when the current term ends. Please confirm that we won't be billed again after that."),
  m("billing", "medium", "Why is this month's bill higher?",
    "Our latest bill is higher than last month's even though we have the same number of seats. Can you explain the difference in the amount?"),
  m("billing", "high", "Payment failed but money was taken",
    "Checkout said the payment failed, but the amount left our bank account anyway. Now our workspace shows as unpaid and agents see a warning banner."),
  m("billing", "low", "Switching to yearly",
    "We want to move from monthly to annual payments. Is there a discount for paying yearly?"),
  m("billing", "medium", "Credit for removed seats",
    "We removed 5 seats in the middle of the cycle. Will we get a prorated credit on the next invoice?"),
  m("billing", "medium", "Sales tax missing on our receipt",
    "The receipt for our last payment doesn't show the sales tax breakdown that our auditors need."),
  m("billing", "medium", "Invoice shows the wrong company name",
    "The invoices we get still have our old company name on them. Can you update it for future invoices and re-issue the last one?"),
  m("billing", "high", "Charged after cancelling",
    "We cancelled our subscription in May but were charged again in June. We need a refund for that charge."),
  m("billing", "low", "Paying by bank transfer",
    "Can we pay by bank transfer instead of card? Our finance department prefers that."),
  m("billing", "medium", "Upgrade didn't unlock features",
    "We upgraded to the Business plan yesterday and paid, but the workspace still shows the Starter limits."),
  m("billing", "medium", "Seats count looks off",
    "Our invoice lists 25 seats but we only have 18 active users. Could you check and correct it?"),
  m("billing", "low", "Purchase order number on invoices",
    "Can you add our PO number 55-2031 to future invoices?"),
  m("billing", "high", "Card declined, service suspended",
    "Our card was declined on renewal and the workspace is now suspended. We've updated the card but agents still can't access anything."),
  // account
  m("account", "high", "Locked out of my account",
    "I cannot log in, I'm locked out after too many attempts and the unlock email never arrives."),
  m("account", "high", "Reset link always expired",
    "I asked for a new password but the link says it has expired every time I click it, even right after it arrives."),
  m("account", "high", "Lost the phone with my authenticator",
    "I lost my phone and with it my 2FA codes. How can I get back into my account?"),
  m("account", "low", "New email address for sign-in",
    "I've moved to a new company address. Please change the email I sign in with to jane@newco.example."),
  m("account", "medium", "Deactivate a former employee",
    "Please deactivate the user tom@acme.example, he left the company last week. I'm the workspace admin."),
  m("account", "medium", "Invitations never arrive",
    "I invited two new agents yesterday but neither of them received the invitation email. They checked spam too."),
  m("account", "high", "Okta SSO: users get access denied",
    "After configuring SAML with Okta, our users get 'access denied' when they sign in through the identity provider. Nobody on the support team can get in that way."),
  m("account", "medium", "Please close my account",
    "Please close my account and remove my personal data, as allowed under GDPR."),
  m("account", "medium", "Wrong role after joining",
    "I joined as an agent but I should be an admin of our workspace; I can't see the settings page at all."),
  m("account", "high", "Can't sign in after changing my password",
    "I changed my password yesterday and now the new one isn't accepted and neither is the old one. I'm stuck outside my account."),
  m("account", "medium", "Transfer ownership of the workspace",
    "Our current owner is leaving. How do we make another admin the owner of the workspace?"),
  m("account", "medium", "Two accounts with the same email",
    "I seem to have two separate accounts for my email address, and the cases are split between them. Can you merge them?"),
  m("account", "high", "Authenticator codes rejected",
    "My 2FA codes are rejected every time even though the time on my phone is correct, so I cannot log in."),
  m("account", "high", "Verification code never arrives",
    "I'm trying to sign in but the one-time code email never arrives, so I can't get into my account at all."),
  m("account", "medium", "Change my display name",
    "My name is shown as 'jsmith42' to customers. How can I change it to my real name?"),
  m("account", "medium", "Agent removed by mistake",
    "I accidentally removed one of our agents from the workspace. Can you restore her access with her old history?"),
  // other
  m("other", "low", "hi",
    "hello"),
  m("other", "low", "Thanks!",
    "Just wanted to say the new release looks great. Thanks to the whole team."),
  m("other", "low", "Partnership inquiry",
    "I run a small agency that builds support workflows for e-commerce brands. Would you be open to a chat about a reseller partnership?"),
  m("other", "low", "Out of office",
    "I am out of the office until Monday 12th with limited access to email. For urgent matters please contact my colleague Sam."),
  m("other", "low", "Backend engineer position",
    "Hello, I saw you're hiring a backend engineer and have attached my CV. I'd be glad to talk."),
  m("other", "low", "Re: our call",
    "Great talking to you yesterday, looking forward to the next steps."),
  m("other", "low", "Stop the newsletter",
    "Please stop sending me the marketing newsletter, I never signed up for it."),
  m("other", "low", "Speaking at our meetup",
    "We're organising a customer support meetup in Lisbon in June and would like one of your engineers to give a talk."),
  m("other", "low", "Onboarding session",
    "The onboarding session with Maria was very helpful, she answered everything we had prepared."),
  m("other", "low", "Hello",
    "Hi there, hope you're well."),
  m("other", "low", "Press request",
    "I'm a journalist writing about customer support software and would love a quote from your founder."),
  m("other", "low", "Happy holidays",
    "Wishing you all a happy holiday season from all of us at Acme."),
  m("other", "low", "Re: Re: meeting notes",
    "Thanks, received. I'll share them with my colleagues."),
  m("other", "low", "Congrats on the launch",
    "Saw the announcement on LinkedIn, congratulations to everyone involved!"),
  m("other", "low", "Vendor security questionnaire",
    "Our procurement team sends this questionnaire to all vendors. Could you fill it in by the end of the month?"),
  m("other", "low", "Introduction",
    "Hi, I'm the new operations lead at Acme and will be your main contact from now on.")
]

const types: ReadonlyArray<CaseType> = ["bug", "question", "feature_request", "incident", "billing", "account", "other"]

interface Outcome {
  readonly message: Labeled
  readonly result: LexicalTriageResult
  readonly typeOk: boolean
  readonly severityOk: boolean
}

const outcomes: ReadonlyArray<Outcome> = corpus.map((message) => {
  const result = classify(message)
  return { message, result, typeOk: result.type === message.type, severityOk: result.severity === message.severity }
})

const mean = (values: ReadonlyArray<number>) => values.reduce((total, value) => total + value, 0) / values.length
const share = (predicate: (outcome: Outcome) => boolean) => outcomes.filter(predicate).length / outcomes.length
const typeAccuracy = share((outcome) => outcome.typeOk)
const severityAccuracy = share((outcome) => outcome.severityOk)

/** Per expected type: how many went where, and every miss with its reasoning, for a failing run. */
const confusion = () => {
  const rows = types.map((expected) => {
    const row = outcomes.filter((outcome) => outcome.message.type === expected)
    const counts = types
      .map((got) => [got, row.filter((outcome) => outcome.result.type === got).length] as const)
      .filter(([, n]) => n > 0)
      .map(([got, n]) => `${got}=${n}`)
      .join(" ")
    return `  ${expected.padEnd(16)} (${row.length}): ${counts}`
  })
  const misses = outcomes
    .filter((outcome) => !outcome.typeOk || !outcome.severityOk)
    .map(({ message, result }) =>
      `  ${message.type}/${message.severity} -> ${result.type}/${result.severity} (${result.confidence}) ` +
      `"${message.subject}": ${result.reasoning.slice(1, 3).map((step) => step.detail).join(" | ")}`
    )
  return [
    `type accuracy ${typeAccuracy.toFixed(3)}, severity accuracy ${severityAccuracy.toFixed(3)} over ${outcomes.length}`,
    "expected type: predicted counts",
    ...rows,
    "misses (expected -> got):",
    ...misses
  ].join("\n")
}

const typeStep = (result: LexicalTriageResult) => result.reasoning.find((step) => step.step.startsWith("Type:"))!
const severityStep = (result: LexicalTriageResult) => result.reasoning.find((step) => step.step.startsWith("Severity:"))!

describe("LexicalTriage.classify", () => {
  it("is measured on a corpus of at least 60 messages covering every type", () => {
    expect(corpus.length).toBeGreaterThanOrEqual(60)
    for (const type of types) {
      expect(corpus.filter((message) => message.type === type).length, type).toBeGreaterThanOrEqual(8)
    }
  })

  it("gets the type of at least 85% and the severity of at least 75% of the corpus right", () => {
    expect(typeAccuracy, confusion()).toBeGreaterThanOrEqual(0.85)
    expect(severityAccuracy, confusion()).toBeGreaterThanOrEqual(0.75)
  })

  it("is calibrated: more confident when right than when wrong, and about as confident as it is accurate", () => {
    const right = outcomes.filter((outcome) => outcome.typeOk).map((outcome) => outcome.result.confidence)
    const wrong = outcomes.filter((outcome) => !outcome.typeOk).map((outcome) => outcome.result.confidence)
    const meanConfidence = mean(outcomes.map((outcome) => outcome.result.confidence))
    const summary = `mean confidence ${meanConfidence.toFixed(3)} (right ${mean(right).toFixed(3)}, wrong ${
      wrong.length > 0 ? mean(wrong).toFixed(3) : "none"
    }), accuracy ${typeAccuracy.toFixed(3)}\n${confusion()}`
    if (wrong.length > 0) expect(mean(right), summary).toBeGreaterThan(mean(wrong))
    expect(Math.abs(meanConfidence - typeAccuracy), summary).toBeLessThanOrEqual(0.2)
    for (const { result } of outcomes) {
      expect(result.confidence).toBeGreaterThanOrEqual(0)
      expect(result.confidence).toBeLessThanOrEqual(1)
    }
  })

  it("says other, with low confidence, when a message holds no evidence", () => {
    for (
      const message of [
        { subject: "hi", body: "" },
        { subject: "", body: "hi" },
        { subject: "hello there, quick thing", body: "" },
        { subject: "Quick thing", body: "hello there, quick thing" }
      ]
    ) {
      const result = classify(message)
      expect(result.type, JSON.stringify(message)).toBe("other")
      expect(result.confidence, JSON.stringify(message)).toBeLessThan(0.5)
      expect(typeStep(result).evidence).toEqual([])
    }
  })

  it("is confident when the evidence is strong and unambiguous", () => {
    const cases: ReadonlyArray<readonly [CaseType, { subject: string; body: string }]> = [
      ["billing", {
        subject: "Refund for a double charge",
        body: "We were charged twice for our subscription this month. Please refund the duplicate payment and send a corrected invoice."
      }],
      ["account", {
        subject: "Locked out after 2FA reset",
        body: "I reset my password and now I'm locked out: the login page rejects my two-factor code."
      }],
      ["incident", {
        subject: "Outage: API unavailable",
        body: "Since 09:10 UTC the API is down for all users; every request returns 503 and your status page shows nothing."
      }]
    ]
    for (const [type, message] of cases) {
      const result = classify(message)
      expect(result.type).toBe(type)
      expect(result.confidence, `${message.subject}: ${typeStep(result).detail}`).toBeGreaterThanOrEqual(0.7)
    }
  })

  it("cites, in the type step, words that appear in the message", () => {
    for (const { message, result } of outcomes) {
      const text = `${message.subject} ${message.body}`.toLowerCase().replace(/[’‘]/g, "'")
      const step = typeStep(result)
      if (result.type !== "other") expect(step.evidence.length, message.subject).toBeGreaterThan(0)
      for (const term of step.evidence) expect(text, `${message.subject}: "${term}"`).toContain(term.toLowerCase())
      for (const term of severityStep(result).evidence) expect(text, `${message.subject}: "${term}"`).toContain(term.toLowerCase())
    }
  })

  it("names the decision in each step and summarises the message", () => {
    const result = classify({ subject: "Charged twice", body: "Our card was charged twice for March." })
    expect(result.reasoning.map((step) => step.step)).toEqual([
      "Read the message",
      "Type: billing",
      "Severity: high",
      `Confidence: ${result.confidence}`
    ])
    expect(typeStep(result).evidence).toEqual(expect.arrayContaining(["charged twice", "card"]))
    expect(severityStep(result).evidence).toContain("charged twice")
    expect(result.summary).toBe("Billing issue: Charged twice")
    expect(classify({ subject: " ", body: "How do I export my data? Thanks." }).summary).toBe("Question: How do I export my data?")
  })

  it("is deterministic: the same input gives the same output", () => {
    for (const message of corpus) {
      const input = { subject: message.subject, body: message.body }
      expect(classify({ ...input })).toStrictEqual(classify({ ...input }))
    }
    const first = corpus.map((message) => JSON.stringify(classify(message)))
    const again = corpus.map((message) => JSON.stringify(classify(message)))
    expect(again).toEqual(first)
  })

  describe("severity cues", () => {
    it("an outage affecting all users is critical", () => {
      const result = classify({
        subject: "Outage for all users",
        body: "The whole app is down, all users see a 502 when they open it."
      })
      expect(result.type).toBe("incident")
      expect(result.severity).toBe("critical")
      expect(severityStep(result).evidence).toContain("outage")
    })

    it("a typo is low", () => {
      const result = classify({ subject: "Typo in the footer", body: "The footer says 'Copyrigth' instead of 'Copyright'." })
      expect(result.type).toBe("bug")
      expect(result.severity).toBe("low")
      expect(severityStep(result).evidence).toContain("typo")
    })

    it("\"I cannot log in, locked out\" is an account issue of high severity", () => {
      const result = classify({ subject: "I cannot log in, locked out", body: "" })
      expect(result.type).toBe("account")
      expect(result.severity).toBe("high")
      expect(severityStep(result).evidence).toEqual(expect.arrayContaining(["cannot", "locked out"]))
    })

    it("a slowdown for everyone is high, not critical; the same words with an outage are critical", () => {
      const slow = classify({ subject: "Console very slow", body: "Pages take 20 seconds to load for all agents." })
      expect([slow.type, slow.severity]).toEqual(["incident", "high"])
      const down = classify({ subject: "Console down for all agents", body: "Nobody can open a page: total outage." })
      expect([down.type, down.severity]).toEqual(["incident", "critical"])
    })

    it("a how-to about billing is low; a billing problem stays medium", () => {
      expect(classify({ subject: "Changing the card", body: "How do I update the card we pay with?" }).severity).toBe("low")
      expect(classify({ subject: "Invoice total", body: "Our invoice total doesn't match the seats we use." }).severity)
        .toBe("medium")
    })
  })
})
