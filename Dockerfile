# The node image is filled in by the "Ship it" issue. Its build steps will be
# the same scripts CI runs: scripts/setup.sh (packages, Node 24, npm deps, the
# addon, the BPF objects, the TypeScript build).
FROM debian:bookworm-slim AS build
WORKDIR /src
COPY . .
RUN bash scripts/setup.sh
