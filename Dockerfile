# syntax=docker/dockerfile:1
# ValueGraph image: one image for both the GraphQL API (`npm start`) and the BullMQ worker (`npm run worker`).
#   docker build -t valuegraph .
#   docker compose up --build --scale worker=3
FROM node:20-bookworm-slim

# openssl: Prisma's CLI probes the libssl version during `prisma generate` and warns without it.
# ca-certificates: outbound HTTPS (e.g. fetching the embedding model on first use).
RUN apt-get update \
 && apt-get install -y --no-install-recommends openssl ca-certificates \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
RUN chown node:node /app
USER node

# Dependencies first, so source edits do not invalidate the npm layer. The repo's .npmrc matters: it skips
# onnxruntime-node's GPU download. `npm ci` runs the postinstall hook (scripts/prisma-generate.cjs ->
# `prisma generate`), which needs the Prisma schema and config; prisma is a devDependency, so NODE_ENV must
# not be "production" during this step (npm would then omit devDependencies).
COPY --chown=node:node package.json package-lock.json .npmrc prisma.config.ts ./
COPY --chown=node:node prisma ./prisma
COPY --chown=node:node scripts/prisma-generate.cjs ./scripts/prisma-generate.cjs
RUN npm ci && npm cache clean --force

# Application source (.dockerignore keeps node_modules, src/generated, data, .git, ... out of the context,
# so the Prisma client generated above is not overwritten by a host copy).
COPY --chown=node:node . .

ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=4000 \
    DATA_DIR=/app/data
RUN mkdir -p /app/data

EXPOSE 4000
CMD ["npm", "start"]
