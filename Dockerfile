# cjmm in a container: `cjmm serve` (recorder + trader + API/dashboard) as a non-root user, with the market-data
# store and the journal on volumes. Build: docker build -t cjmm .   Run: see compose.yaml and docs/service.md.
# Node 24 runs the TypeScript sources directly (type stripping): no build step.
FROM node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only (no typescript, biome, playwright; the image's own Node 24 replaces the node devDependency).
RUN npm install --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:24-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY src ./src
COPY config ./config
# /data: the market-data store (record.store); /journal: the SQLite journal, the API token file, the heartbeat.
RUN mkdir -p /data /journal /config && chown node:node /data /journal
USER node
VOLUME ["/data", "/journal"]
EXPOSE 8787
# SIGTERM stops cleanly (orders cancelled, journal and store flushed): give it time (compose: stop_grace_period).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8787/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "src/cli/main.ts"]
CMD ["serve", "--config", "/config/cjmm.json"]
