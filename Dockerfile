# NestFleet image: one image for the API (the default command) and the worker
# (docker-compose.yml overrides the command). The apps run from their TypeScript sources
# with tsx, so there is no build step: the image is the dependencies plus the sources.
#
# Plain Dockerfile syntax (no BuildKit-only features), so docker-compose 1.29's classic
# builder can build it as well as BuildKit.

ARG NODE_IMAGE=node:24-bookworm-slim

# --- manifests: only what `pnpm install` reads, so the deps layer below is rebuilt when
# a package.json or the lockfile changes, not on every source edit.
FROM ${NODE_IMAGE} AS manifests
WORKDIR /app
COPY . .
RUN find . -type f ! -name package.json ! -name pnpm-lock.yaml ! -name pnpm-workspace.yaml ! -name .npmrc \
    ! -name .pnpmfile.cjs ! -path './patches/*' -delete \
  && find . -depth -type d -empty -delete

# --- deps: the workspace's node_modules (root and one per workspace package).
# Dev dependencies included: tsx, the runtime of every process, is one of them.
FROM ${NODE_IMAGE} AS deps
RUN npm install -g pnpm@10.34.9 && npm cache clean --force
WORKDIR /app
COPY --from=manifests /app ./
RUN pnpm install --frozen-lockfile

# --- runtime
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    PORT=4000 \
    NESTFLEET_DATA_DIR=/var/lib/nestfleet
WORKDIR /app
COPY --from=deps /app ./
COPY . .
# Writable by the app only for the embedded database (no DATABASE_URL); mount a volume
# there to keep it. With DATABASE_URL set it stays empty.
RUN mkdir -p /var/lib/nestfleet && chown node:node /var/lib/nestfleet
USER node
EXPOSE 4000
# The worker serves no HTTP: docker-compose.yml disables this check for it.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=5 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 4000) + '/api/v1/health', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node (not the tsx CLI) is PID 1, so SIGTERM from `docker stop` reaches the app directly.
CMD ["node", "--import", "tsx", "apps/api/src/main.ts"]
