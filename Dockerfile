# pgha images for docker-compose.yml. Targets:
#   node       PostgreSQL 15 + repmgr + the node worker   (node bin/pgha.js worker node --name pgN)
#   barman     barman + the barman worker                  (node bin/pgha.js worker barman)
#   dashboard  the cluster page, Bull Board, API, metrics  (node bin/pgha.js dashboard)
#   redis      Debian's redis-server                       (the queues; no image from a registry)
#   haproxy    Debian's HAProxy                            (a write port and a read port, by /primary and /replica)
# Node.js 20 comes from the official node:20 image on the same Debian release (bookworm's own
# nodejs is 18, and the CLI's dependencies need 20).

# --- build: compile TypeScript, keep production dependencies only ------------------------------
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.lib.json ./
COPY bin ./bin
COPY src ./src
COPY cli ./cli
COPY jobs ./jobs
COPY workers ./workers
COPY dashboard ./dashboard
RUN npm run build && npm prune --omit=dev

# --- runtime base: Debian bookworm + node ------------------------------------------------------
FROM debian:bookworm-slim AS runtime
COPY --from=build /usr/local/bin/node /usr/local/bin/node
RUN mkdir -p /var/lib/pgha
WORKDIR /app
ENV NODE_ENV=production
# a small young generation: idle workers stay near 80 MiB resident (see DAEMON_NODE_FLAGS)
ENV NODE_OPTIONS=--max-semi-space-size=1
ENTRYPOINT ["node", "/app/bin/pgha.js"]

# --- node: PostgreSQL 15 + repmgr --------------------------------------------------------------
FROM runtime AS node
# No default "main" cluster: pgha creates each node's data directory itself. iproute2: ss, with which
# the node worker ends repmgrd's waits on a frozen node (src/repmgr/unstick.ts; needs NET_ADMIN).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql-common \
 && sed -ri 's/^#?\s*create_main_cluster\s*=.*/create_main_cluster = false/' /etc/postgresql-common/createcluster.conf \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      postgresql-15 postgresql-15-repmgr iproute2 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/run/postgresql && chown postgres:postgres /var/lib/postgresql /var/run/postgresql
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/bin ./bin
COPY --from=build /app/dist ./dist
# 8008: the health checks (/primary, /replica, /health)
EXPOSE 5432 5434 8008
CMD ["worker", "node"]

# --- barman ------------------------------------------------------------------------------------
FROM runtime AS barman
# postgresql-15 for pg_waldump: a restore's pre-check reads the last transaction of the WAL it would replay
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql-common \
 && sed -ri 's/^#?\s*create_main_cluster\s*=.*/create_main_cluster = false/' /etc/postgresql-common/createcluster.conf \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      barman postgresql-client-15 postgresql-15 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /home/barman/data && chown -R barman:barman /home/barman
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/bin ./bin
COPY --from=build /app/dist ./dist
CMD ["worker", "barman"]

# --- dashboard ---------------------------------------------------------------------------------
FROM runtime AS dashboard
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/bin ./bin
COPY --from=build /app/dist ./dist
EXPOSE 8080
# the dashboard needs no privilege: nobody. The node and barman workers stay root: they run each
# command as postgres or barman by uid and chown the folders those users need.
USER 65534:65534
CMD ["dashboard"]

# --- redis: Debian's redis-server, so the deployment needs no image from a registry --------------
FROM debian:bookworm-slim AS redis
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends redis-server \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data && chown redis:redis /data
WORKDIR /data
USER redis
EXPOSE 6379
CMD ["redis-server", "--appendonly", "yes", "--protected-mode", "no", "--dir", "/data"]

# --- haproxy: Debian's HAProxy; its configuration is mounted by docker-compose.yml ---------------
FROM debian:bookworm-slim AS haproxy
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends haproxy \
 && rm -rf /var/lib/apt/lists/*
USER haproxy
EXPOSE 5000 5001
CMD ["haproxy", "-W", "-db", "-f", "/etc/haproxy/haproxy.cfg"]
