import { Config, Option } from "effect"

export interface TracingConfig {
  readonly serviceName: string
  /** OTLP/HTTP collector base URL; without it spans stay in-process (Effect's tracer). */
  readonly otlpEndpoint: Option.Option<URL>
}

export const TracingConfig = (defaultServiceName: string): Config.Config<TracingConfig> =>
  Config.all({
    serviceName: Config.string("OTEL_SERVICE_NAME").pipe(Config.withDefault(defaultServiceName)),
    otlpEndpoint: Config.url("OTEL_EXPORTER_OTLP_ENDPOINT").pipe(Config.option)
  })
