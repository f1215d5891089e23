/**
 * Spans are Effect spans everywhere (`Effect.fn`, `Effect.withSpan`). When an OTLP
 * endpoint is configured they are also exported, batched, to that collector.
 */
import { NodeSdk } from "@effect/opentelemetry"
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http"
import { BatchSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Effect, Layer, Option } from "effect"
import { TracingConfig } from "./TracingConfig.js"

export const layer = (defaultServiceName: string) =>
  Layer.unwrapEffect(
    Effect.map(TracingConfig(defaultServiceName), (config) =>
      Option.match(config.otlpEndpoint, {
        onNone: () => Layer.empty,
        onSome: (endpoint) =>
          NodeSdk.layer(() => ({
            resource: { serviceName: config.serviceName },
            spanProcessor: new BatchSpanProcessor(
              new OTLPTraceExporter({ url: `${endpoint.href.replace(/\/$/, "")}/v1/traces` })
            )
          }))
      }))
  )
