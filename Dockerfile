# syntax=docker/dockerfile:1
# The orchestrator's image: compiled JavaScript (dist/) and production
# dependencies only, run as the unprivileged `node` user. One image serves
# every process of the deployment (see docker-compose.yml):
#   node dist/src/main.js            API (+ workers unless WORKERS=0), the default
#   node dist/workers/main.js        workers only
#   node dist/src/simulator/main.js  the Sips simulator
#   sogenactif <command>             the operations CLI (bin/sogenactif.js)
# Redis is not in the image: set REDIS_URL (or REDIS_CLUSTER_NODES).

ARG NODE_IMAGE=node:24-bookworm-slim

# ---- build: every dependency, then tsc and the run-time files into dist/ ----
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/copy-assets.js scripts/
COPY src src
COPY workers workers
COPY machines machines
RUN npm run build

# ---- runtime: production dependencies and dist/ -----------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund \
    && npm cache clean --force \
    && ln -s /app/bin/sogenactif.js /usr/local/bin/sogenactif
COPY bin bin
COPY --from=build /app/dist dist
USER node
EXPOSE 3000
# /readyz answers 200 once Redis and the queues answer. The image also runs
# the workers and the simulator, which have no /readyz: their services turn
# this check off (docker-compose.yml).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/src/main.js"]
