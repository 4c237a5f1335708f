# exollama gateway image. Build: docker build -t exollama .   Run: see docker-compose.yml.
FROM node:22-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 is compiled from source (no prebuilt binary is downloaded).
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY spec ./spec
COPY src ./src
# `npm ci` runs `prepare`, which builds dist/; then drop the dev dependencies.
RUN npm ci && npm prune --omit=dev

FROM node:22-bookworm-slim
# nginx lets `serve --simulate` run the instance recipe's real nginx config (a stand-in is used
# without it); it is not needed to talk to real Exoscale instances.
RUN apt-get update \
  && apt-get install -y --no-install-recommends nginx-light \
  && rm -rf /var/lib/apt/lists/* \
  && mkdir -p /data && chown node:node /data && chmod 700 /data
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/spec ./spec
ENV NODE_ENV=production \
    EXOLLAMA_DATA_DIR=/data
USER node
VOLUME ["/data"]
EXPOSE 11434
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:11434/exollama/v1/status').then(r=>process.exit(r.status<500?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "dist/main.js"]
CMD ["serve"]
