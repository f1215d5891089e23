/**
 * The span of one job attempt, made directly with the tracer rather than with
 * `Effect.withSpan`. The worker starts every job's fiber with the span already in its context
 * (see JobWorker), which spares the wrapping `withSpan` does around each run: with
 * `Effect.withSpan` instead, `pnpm bench jobs` ran at 87.4% of bare pg-boss rather than 91.4%,
 * and the runner alone spent 9 to 11 µs more a job. It follows the same rules: the tracer, clock and
 * switches are the worker's, and a span is ended once, with the attempt's exit.
 */
import { Clock, Context, DefaultServices, type Exit, FiberRef, FiberRefs, Option, Tracer } from "effect"

export interface JobSpans {
  /** A started span, or none when tracing is off. */
  readonly start: (
    name: string,
    parent: Option.Option<Tracer.AnySpan>,
    attributes: Readonly<Record<string, unknown>>
  ) => Option.Option<Tracer.Span>
  readonly end: (span: Option.Option<Tracer.Span>, exit: Exit.Exit<unknown, unknown>) => void
}

export const make = (fiberRefs: FiberRefs.FiberRefs): JobSpans => {
  const services = FiberRefs.getOrDefault(fiberRefs, DefaultServices.currentServices)
  const tracer = Context.get(services, Tracer.Tracer)
  const clock = Context.get(services, Clock.Clock)
  const enabled = FiberRefs.getOrDefault(fiberRefs, FiberRef.currentTracerEnabled)
  const timing = FiberRefs.getOrDefault(fiberRefs, FiberRef.currentTracerTimingEnabled)
  const now = () => (timing ? clock.unsafeCurrentTimeNanos() : BigInt(0))
  return {
    start: (name, parent, attributes) => {
      if (!enabled) return Option.none()
      const span = tracer.span(name, parent, Context.empty(), [], now(), "consumer")
      for (const key in attributes) span.attribute(key, attributes[key])
      return Option.some(span)
    },
    end: (span, exit) => {
      if (Option.isSome(span) && span.value.status._tag === "Started") span.value.end(now(), exit)
    }
  }
}
